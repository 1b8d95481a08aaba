"""The API's docs (/api/docs) and schema (/api/openapi.json) are off in production unless OO_API_DOCS switches them
on, and on elsewhere; the docs page brings its own CSP (Swagger UI's CDN and inline script)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from oo_app.api import api
from oo_app.auth.oidc import with_login_state
from oo_app.security_headers import with_security_headers

APP_URL = "http://127.0.0.1:8000"
PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


@pytest.fixture
def client_for(engine: object, configure: Callable[..., None]) -> Iterator[Callable[..., TestClient]]:
    """``client_for(OO_X=...)``: a client of the app under those settings, wrapped as the backend wraps it."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        configure(**{"OO_APP_URL": APP_URL, **env})
        app = with_security_headers(with_login_state(api))
        clients.append(TestClient(app, base_url=APP_URL, raise_server_exceptions=False))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_the_api_docs_are_off_in_production(client_for) -> None:
    client = client_for(OO_ENV="production", OO_SECRET_KEY=PRODUCTION_SECRET)
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").status_code == 404


def test_the_api_docs_are_on_in_development(client_for) -> None:
    client = client_for(OO_ENV="development")
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"], "the docs page's own policy"
    assert client.get("/api/openapi.json").json()["info"]["title"] == "oO"


def test_production_may_switch_the_docs_on(client_for) -> None:
    client = client_for(OO_ENV="production", OO_SECRET_KEY=PRODUCTION_SECRET, OO_API_DOCS="true")
    assert client.get("/api/openapi.json").status_code == 200
