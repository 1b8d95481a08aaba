"""Trusted origins and hosts: a page on another name (DNS rebinding) gets no session and writes nothing.

The attack: ``x.evil`` resolves to 127.0.0.1, so its page talks to oO's backend with ``Host: x.evil:8000`` and
``Origin: http://x.evil:8000``. Origins are compared with the configured ones only, never with the Host header; and
the backend (API, Reflex's routes, the page's websocket) refuses a Host it does not know, checked on a real server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
import websocket
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select

from oo_app.api import api
from oo_app.auth.csrf import trusted_origins
from oo_app.auth.hosts import REFUSED, trusted_hosts, with_trusted_hosts
from oo_app.auth.oidc import forget_clients, with_login_state
from oo_app.models import Session as SessionRow
from oo_app.models import User
from oo_app.settings import Settings
from tests.app_server import Served, run_server, seeded_database
from tests.auth_helpers import csrf_headers, session_cookies

APP_URL = "http://127.0.0.1:8000"
REBOUND = {"Host": "x.evil:8000", "Origin": "http://x.evil:8000"}
PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


@pytest.fixture
def client_for(engine, configure: Callable[..., None]) -> Iterator[Callable[..., TestClient]]:
    """``client_for(OO_X=...)``: a client of the API (with the sign-in flow's session) under those settings."""
    clients: list[TestClient] = []

    def make(hosts_checked: bool = False, **env: str) -> TestClient:
        configure(**{"OO_APP_URL": APP_URL, **env})
        forget_clients()
        app = with_login_state(api)
        client = TestClient(
            with_trusted_hosts(app) if hosts_checked else app, base_url=APP_URL, raise_server_exceptions=False
        )
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


# --- which hosts are answered ----------------------------------------------------------------------------------------


def test_the_backend_answers_to_the_configured_names_and_loopback_only() -> None:
    settings = Settings(
        env="production",
        secret_key=PRODUCTION_SECRET,
        app_url="https://OO.example/",
        api_url="https://api.oo.example:8443",
        allowed_hosts="app, Proxy.internal.",
    )
    assert trusted_hosts(settings) == {
        "oo.example",
        "api.oo.example",
        "app",
        "proxy.internal",
        "localhost",
        "127.0.0.1",
        "::1",
    }


@pytest.mark.parametrize("name", ["https://oo.example", "oo.example:443", "oo.example/app", "a b"])
def test_allowed_hosts_must_be_bare_names(name: str) -> None:
    with pytest.raises(ValidationError, match="OO_ALLOWED_HOSTS"):
        Settings(allowed_hosts=name)


def test_a_rebound_host_is_refused_before_the_dev_login_runs(client_for, session: Session, demo_user: User) -> None:
    client = client_for(hosts_checked=True, OO_DEV_LOGIN="true")
    response = client.post("/auth/dev-login", headers=REBOUND, follow_redirects=False)
    assert (response.status_code, response.text) == (400, REFUSED)
    assert "set-cookie" not in response.headers
    assert session_rows(session) == []
    assert client.post("/auth/dev-login", headers={"Origin": APP_URL}, follow_redirects=False).status_code == 303


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The backend as the image runs it (production, Granian), on loopback: the API, Reflex's routes, the websocket."""
    workdir = tmp_path_factory.mktemp("hosts")
    env = {"OO_ENV": "production", "OO_SECRET_KEY": secrets.token_urlsafe(32), "REFLEX_USE_GRANIAN": "true"}
    with run_server(workdir, seeded_database(workdir), env, backend_only=True, name="hosts") as served:
        yield served


def event_socket(served: Served, host: str) -> websocket.WebSocket:
    url = served.base.replace("http", "ws", 1) + "/_event/?EIO=4&transport=websocket"
    return websocket.create_connection(url, timeout=10, host=host, origin=served.base)


@pytest.mark.parametrize("path", ["/api/recommend", "/ping", "/auth/login", "/health"])
def test_the_real_backend_refuses_a_rebound_host_on_every_route(backend: Served, path: str) -> None:
    response = httpx.get(backend.base + path, headers={"Host": "x.evil:8000"})
    assert (response.status_code, response.text) == (400, REFUSED), path
    assert "set-cookie" not in response.headers


def test_the_real_backend_answers_its_own_loopback_name(backend: Served) -> None:
    assert httpx.get(backend.base + "/ping").status_code == 200


def test_the_real_backend_refuses_the_page_websocket_to_a_rebound_host(backend: Served) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        event_socket(backend, "x.evil:8000")
    assert refused.value.status_code == 403
    opened = event_socket(backend, f"127.0.0.1:{backend.port}")
    try:
        assert opened.recv().startswith("0"), "the Engine.IO open packet on a known host"
    finally:
        opened.close()
