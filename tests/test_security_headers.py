"""Every response of the app carries the security headers: a CSP that allows the build's inline scripts by hash and
no others, frame-ancestors 'none', nosniff, a Referrer-Policy; HSTS in production only. The app is composed as Reflex
composes it (oo_app/oo_app.py's api_transformer)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oo_app.api import api
from oo_app.auth.oidc import with_login_state
from oo_app.security_headers import PageScripts, script_hashes, with_security_headers

APP_URL = "http://127.0.0.1:8000"
PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"
PAINTER = "document.body.dataset.painted = '1';"
PAGE = f"""<!DOCTYPE html><html><head><script src="/assets/entry.js"></script><script>{PAINTER}</script>
<script type="module">import "/assets/root.js";</script></head><body></body></html>"""


def sha256(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """A static build of one page with two inline scripts and one external one."""
    (tmp_path / "index.html").write_text(PAGE)
    return tmp_path


@pytest.fixture
def client_for(engine: object, configure: Callable[..., None], pages: Path) -> Iterator[Callable[..., TestClient]]:
    """``client_for(OO_X=...)``: a client of the app under those settings, wrapped as the backend wraps it."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        configure(**{"OO_APP_URL": APP_URL, **env})
        app = with_security_headers(with_login_state(api), pages=pages)
        clients.append(TestClient(app, base_url=APP_URL, raise_server_exceptions=False))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def assert_secured(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"{what}: {policy!r}"
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") in {"strict-origin-when-cross-origin", "no-referrer"}, what


def test_an_api_json_response_carries_the_security_headers(client_for) -> None:
    response = client_for().get("/health")
    assert response.headers["content-type"].startswith("application/json")
    assert_secured(response, "GET /health")


def test_an_auth_page_carries_them_and_keeps_its_own_referrer_policy(client_for) -> None:
    response = client_for().get("/auth/login")  # no provider configured: the plain refusal page
    assert response.headers["content-type"].startswith("text/html")
    assert_secured(response, "GET /auth/login")
    assert response.headers["referrer-policy"] == "no-referrer", "a route's own header wins"


def test_a_404_carries_them(client_for) -> None:
    response = client_for().get("/api/no-such-route")
    assert response.status_code == 404
    assert_secured(response, "a 404")


def test_hsts_is_sent_in_production_only(client_for) -> None:
    assert "strict-transport-security" not in client_for(OO_ENV="development").get("/health").headers
    production = client_for(OO_ENV="production", OO_SECRET_KEY=PRODUCTION_SECRET)
    assert production.get("/health").headers["strict-transport-security"].startswith("max-age=")


def test_the_csp_runs_the_builds_inline_scripts_by_hash_and_nothing_inline_else(client_for) -> None:
    policy = client_for().get("/health").headers["content-security-policy"]
    script_src = next(part for part in policy.split("; ") if part.startswith("script-src "))
    assert sha256(PAINTER) in script_src
    assert sha256('import "/assets/root.js";') in script_src
    assert "'unsafe-inline'" not in script_src, "an injected inline script must not run"
    assert "ws://127.0.0.1:8000" in policy, "the page's websocket to its own origin"


def test_a_rebuild_brings_its_scripts_hashes(pages: Path) -> None:
    scripts = PageScripts(pages)
    before = scripts.hashes()
    (pages / "index.html").write_text(PAGE.replace(PAINTER, "void 0;"))
    (pages / "settings").mkdir()
    (pages / "settings" / "index.html").write_text("<script>void 1;</script>")
    os.utime(pages / "index.html", (1, 1))  # a changed mtime, however coarse the file system's clock
    assert sha256(PAINTER) in before
    assert set(scripts.hashes()) >= {sha256("void 0;"), sha256("void 1;")}
    assert sha256(PAINTER) not in scripts.hashes()


def test_script_hashes_skip_external_scripts() -> None:
    assert script_hashes('<script src="/a.js"></script><script>x()</script>') == [sha256("x()")]
