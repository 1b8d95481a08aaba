"""Property-based fuzzing of the whole HTTP API from its OpenAPI schema (schemathesis over the ASGI app, no network
beyond loopback).

The app under test is the API as Reflex serves it (wrapped with the sign-in flow's session), with a real OpenID Connect
provider on loopback. Every operation gets up to ``MAX_EXAMPLES`` generated requests, derandomized (the same examples
on every run), sent as the signed-in demo person with a valid CSRF token, so the fuzzing reaches past authentication
into the domain. The promise checked: no request, however odd, gets a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlmodel import Session

from oo_app.api import api
from oo_app.auth.oidc import forget_clients, with_login_state
from oo_app.models import User
from oo_app.profile.consents import revoke_consent
from oo_app.push.keys import generate_private_key, raw_private_key
from tests.auth_helpers import csrf_headers, oidc_provider, session_cookies

MAX_EXAMPLES = 30
INT64_MAX = 2**63 - 1

schema = schemathesis.openapi.from_asgi("/api/openapi.json", with_login_state(api))


@pytest.fixture
def demo_credentials(session: Session, demo_user: User, configure: Callable[..., None]) -> Iterator[dict[str, Any]]:
    """The cookies and CSRF header of a live session of the demo person, with sign-in configured against a real
    provider on loopback, web push configured (a VAPID key of the test's own) and a token vault. Without "Your
    calendar", a calendar connection is refused before any address is fetched: the fuzzer reaches no network."""
    revoke_consent(session, demo_user, "calendar")
    session.commit()
    with oidc_provider() as provider:
        configure(
            OO_OIDC_ISSUER=provider.issuer,
            OO_OIDC_CLIENT_ID="oo-fuzz",
            OO_OIDC_CLIENT_SECRET="s3cret",
            OO_VAPID_PRIVATE_KEY=raw_private_key(generate_private_key()),
            OO_VAPID_SUBJECT="mailto:ops@example.com",
            OO_TOKEN_KEYS=json.dumps([Fernet.generate_key().decode()]),
        )
        forget_clients()
        cookies = session_cookies(session, demo_user)
        yield {"cookies": cookies, "headers": csrf_headers(cookies)}
    forget_clients()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_gets_a_server_error(case: schemathesis.Case, demo_credentials: dict[str, Any]) -> None:
    headers = {**demo_credentials["headers"], **(case.headers or {})}
    response = case.call(headers=headers, cookies=demo_credentials["cookies"])
    case.validate_response(response, checks=[not_a_server_error])


def test_a_tip_id_beyond_64_bits_is_a_4xx(demo_credentials: dict[str, Any]) -> None:
    """Found by this fuzzing: an unbounded id overflowed SQLite's INTEGER into a 500."""
    with TestClient(api, raise_server_exceptions=False, cookies=demo_credentials["cookies"]) as client:
        response = client.post(
            f"/api/tips/{INT64_MAX + 1}/reaction", json={"reaction": "done"}, headers=demo_credentials["headers"]
        )
    assert response.status_code < 500
