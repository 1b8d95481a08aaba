"""Where oO's cookies are Secure (production, over HTTPS) they carry the ``__Host-`` prefix: a real OpenID Connect
sign-in sets ``__Host-oo_session`` and ``__Host-oo_csrf`` (Secure, Path=/, no Domain), and every reader (the API's
person and CSRF checks, the page's states) reads those names; on http://localhost the plain names stay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.cookies import Morsel, SimpleCookie

import httpx
import oidc_provider_mock
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from oo_app.api import api
from oo_app.auth.errors import Unauthenticated
from oo_app.auth.oidc import forget_clients, with_login_state
from oo_app.auth.sessions import csrf_cookie, csrf_token_for, session_cookie, start_session
from oo_app.auth.users import resolve_current_user
from oo_app.models import User
from tests.auth_helpers import Provider, oidc_provider

APP_URL = "https://oo.example"
PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"
ADA = oidc_provider_mock.User(sub="ada-subject", claims={"email": "ada@example.com", "email_verified": True})


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oidc_provider([ADA]) as provider:
        yield provider


@pytest.fixture
def production(engine: object, configure: Callable[..., None], provider: Provider) -> Iterator[TestClient]:
    """A browser-like client of the app in production at an HTTPS address, with the provider configured."""
    configure(
        OO_ENV="production",
        OO_SECRET_KEY=PRODUCTION_SECRET,
        OO_APP_URL=APP_URL,
        OO_OIDC_ISSUER=provider.issuer,
        OO_OIDC_CLIENT_ID="oo-test",
        OO_OIDC_CLIENT_SECRET="s3cret",
    )
    forget_clients()
    with TestClient(with_login_state(api), base_url=APP_URL, raise_server_exceptions=False) as client:
        yield client
    forget_clients()


def sign_in(client: TestClient, provider: Provider) -> httpx.Response:
    """The whole code flow: /auth/login, the provider's one-click form, back to /auth/callback."""
    started = client.get("/auth/login", follow_redirects=False)
    assert started.status_code == 302, started.text
    flow_cookie = SimpleCookie(started.headers["set-cookie"])
    assert list(flow_cookie) == ["__Secure-oo_oauth"], "a cookie scoped to /auth cannot be __Host-"
    return client.get(provider.authorize(started.headers["location"], ADA.sub), follow_redirects=False)


def cookies_set(response: httpx.Response) -> dict[str, Morsel[str]]:
    """Each cookie a response sets, with its attributes."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        found.update(jar)
    return found


def test_a_production_sign_in_sets_host_prefixed_cookies(production: TestClient, provider: Provider) -> None:
    response = sign_in(production, provider)
    assert response.status_code == 303, response.text
    cookies = cookies_set(response)
    assert {"__Host-oo_session", "__Host-oo_csrf"} <= set(cookies), f"set: {sorted(cookies)}"
    assert not {"oo_session", "oo_csrf"} & set(cookies), "no plain-named cookie beside them"
    for name in ("__Host-oo_session", "__Host-oo_csrf"):
        assert cookies[name]["secure"], f"{name} is Secure"
        assert cookies[name]["path"] == "/", f"{name} has Path=/"
        assert not cookies[name]["domain"], f"{name} names no domain"


def test_the_api_reads_the_prefixed_cookies_for_the_person_and_the_csrf_check(
    production: TestClient, provider: Provider
) -> None:
    sign_in(production, provider)
    token = production.cookies["__Host-oo_csrf"]
    assert production.post("/api/recommend", headers={"X-CSRF-Token": token}).status_code == 200
    assert production.post("/api/recommend", headers={"X-CSRF-Token": "0" * 64}).status_code == 403


def test_plain_named_cookies_open_nothing_in_production(
    production: TestClient, session: Session, demo_user: User
) -> None:
    token = start_session(session, demo_user)
    session.commit()
    production.cookies.update({"oo_session": token, "oo_csrf": csrf_token_for(token)})
    response = production.post("/api/recommend", headers={"X-CSRF-Token": csrf_token_for(token)})
    assert response.status_code == 401, "a cookie without the prefix could be planted by a subdomain"


def test_the_pages_person_is_read_from_the_prefixed_session_cookie(
    production: TestClient, session: Session, demo_user: User
) -> None:
    token = start_session(session, demo_user)
    session.commit()
    assert (session_cookie(), csrf_cookie()) == ("__Host-oo_session", "__Host-oo_csrf")
    assert resolve_current_user(session, {"__Host-oo_session": token}).id == demo_user.id
    with pytest.raises(Unauthenticated):
        resolve_current_user(session, {"oo_session": token})


def test_development_on_localhost_keeps_the_plain_names(configure: Callable[..., None]) -> None:
    configure(OO_ENV="development", OO_APP_URL="http://localhost:3000")
    assert (session_cookie(), csrf_cookie()) == ("oo_session", "oo_csrf")
