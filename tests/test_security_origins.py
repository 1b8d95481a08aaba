"""Trusted origins and hosts: a page on another name (DNS rebinding) gets no session and writes nothing.

The attack: ``x.evil`` resolves to 127.0.0.1, so its page talks to oO's backend with ``Host: x.evil:8000`` and
``Origin: http://x.evil:8000``. Origins are compared with the configured ones only, never with the Host header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from oo_app.api import api
from oo_app.auth.csrf import trusted_origins
from oo_app.auth.oidc import forget_clients, with_login_state
from oo_app.models import Session as SessionRow
from oo_app.models import User
from oo_app.settings import Settings
from tests.auth_helpers import csrf_headers, session_cookies

APP_URL = "http://127.0.0.1:8000"
REBOUND = {"Host": "x.evil:8000", "Origin": "http://x.evil:8000"}
PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


@pytest.fixture
def client_for(engine, configure: Callable[..., None]) -> Iterator[Callable[..., TestClient]]:
    """``client_for(OO_X=...)``: a client of the API (with the sign-in flow's session) under those settings."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        configure(**{"OO_APP_URL": APP_URL, **env})
        forget_clients()
        client = TestClient(with_login_state(api), base_url=APP_URL, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    forget_clients()


def session_rows(session: Session) -> list[SessionRow]:
    session.expire_all()
    return list(session.exec(select(SessionRow)).all())


# --- which origins are trusted -------------------------------------------------------------------------------------


def test_production_trusts_only_the_configured_app_and_api_origins() -> None:
    settings = Settings(
        env="production",
        secret_key=PRODUCTION_SECRET,
        app_url="https://OO.example:443/",
        api_url="https://api.oo.example",
    )
    assert trusted_origins(settings) == {"https://oo.example", "https://api.oo.example"}


def test_development_also_trusts_the_loopback_backend_of_reflex_run() -> None:
    settings = Settings(env="development", app_url="http://localhost:3000", backend_port=8000)
    assert trusted_origins(settings) == {"http://localhost:3000", "http://localhost:8000", "http://127.0.0.1:8000"}


# --- a rebound page ------------------------------------------------------------------------------------------------


def test_a_rebound_page_gets_no_session_from_the_dev_login(client_for, session: Session, demo_user: User) -> None:
    client = client_for(OO_DEV_LOGIN="true")
    response = client.post("/auth/dev-login", headers=REBOUND, follow_redirects=False)
    assert response.status_code in (400, 403), response.text
    assert "set-cookie" not in response.headers, "a refused sign-in sets no cookie"
    assert session_rows(session) == [], "a refused sign-in opens no session"


def test_a_rebound_page_cannot_write_even_with_a_valid_csrf_cookie(client_for, session, demo_user: User) -> None:
    client = client_for()
    cookies = session_cookies(session, demo_user)
    client.cookies.update(cookies)
    change = {"action": "create", "name": "rebound"}
    response = client.patch("/api/profile/contexts", json=change, headers={**REBOUND, **csrf_headers(cookies)})
    assert response.status_code in (400, 403), response.text
