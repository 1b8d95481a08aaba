"""Signing in for tests, and a real OpenID Connect provider on loopback.

Any test that calls a protected route signs a person in the way the app does, with a real ``sessions`` row::

    token = sign_in(client, session, user)          # a TestClient/httpx client now sends the cookies + CSRF header
    cookies = session_cookies(session, user)        # {"oo_session": ..., "oo_csrf": ...} for any other client
    context.add_cookies(browser_cookies(cookies, base_url))   # a Playwright context, signed in

:func:`oidc_provider` serves ``oidc-provider-mock`` (Flask + Authlib) on ``localhost`` with a guard that makes it
enforce PKCE S256 (the mock alone ignores the verifier) and lets a test make it misbehave.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import werkzeug.serving
from sqlmodel import Session

from oo_app.auth.csrf import CSRF_HEADER
from oo_app.auth.sessions import SESSION_COOKIE, csrf_cookie, csrf_token_for, session_cookie, start_session
from oo_app.models import User

# --- signed-in clients ---------------------------------------------------------------------------------------------


def session_cookies(db: Session, user: User) -> dict[str, str]:
    """Opens (and commits) a session for ``user``; the two cookies a browser would hold after signing in (named as
    the configured app names them: ``__Host-`` prefixed off localhost)."""
    token = start_session(db, user)
    db.commit()
    return {session_cookie(): token, csrf_cookie(): csrf_token_for(token)}


def csrf_headers(cookies: dict[str, str]) -> dict[str, str]:
    """The header a write needs beside those cookies."""
    return {CSRF_HEADER: cookies[csrf_cookie()]}


def sign_in(client: httpx.Client, db: Session, user: User) -> str:
    """Signs ``user`` in on ``client`` (a ``TestClient`` is an ``httpx.Client``): cookies and the CSRF header on
    every request from now on. Returns the raw session token."""
    cookies = session_cookies(db, user)
    for name, value in cookies.items():
        client.cookies.set(name, value)
    client.headers.update(csrf_headers(cookies))
    return cookies[session_cookie()]


def browser_cookies(cookies: dict[str, str], base_url: str) -> list[dict[str, Any]]:
    """Playwright's ``add_cookies`` form of those cookies for the app at ``base_url`` (session cookie HttpOnly)."""
    return [
        {"name": name, "value": value, "url": base_url, "httpOnly": name.endswith(SESSION_COOKIE), "sameSite": "Lax"}
        for name, value in cookies.items()
    ]


# --- a real OpenID Connect provider --------------------------------------------------------------------------------


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


@dataclass
class ProviderGuard:
    """WSGI middleware in front of the mock: enforces PKCE S256 like a real provider, records what it saw, and can
    be told to misbehave (``token_host``: the Host the token endpoint believes it has, hence the ``iss`` it writes;
    ``jwks``: a key set to publish instead of its own)."""

    app: Callable[..., Any]
    challenges: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    authorize_requests: list[dict[str, list[str]]] = field(default_factory=list)
    pkce_verified: int = 0
    pkce_refused: int = 0
    token_host: str | None = None
    jwks: bytes | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/oauth2/authorize" and method == "POST":
            return self._authorize(environ, start_response)
        if path == "/oauth2/token":
            return self._token(environ, start_response)
        if path == "/jwks" and self.jwks is not None:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [self.jwks]
        return self.app(environ, start_response)

    def _authorize(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        self.authorize_requests.append(query)

        def remember_code(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            location = dict(headers).get("Location", "")
            code = _one(parse_qs(urlsplit(location).query), "code")
            if code:
                self.challenges[code] = (_one(query, "code_challenge"), _one(query, "code_challenge_method"))
            return start_response(status, headers, exc_info)

        return self.app(environ, remember_code)

    def _token(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode())
        code = _one(form, "code")
        if _one(form, "grant_type") == "authorization_code" and code in self.challenges:
            challenge, challenge_method = self.challenges.pop(code)  # a code and its challenge die together
            verifier = _one(form, "code_verifier")
            if challenge_method != "S256" or not verifier or s256(verifier) != challenge:
                self.pkce_refused += 1
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [json.dumps({"error": "invalid_grant", "error_description": "PKCE check failed"}).encode()]
            self.pkce_verified += 1
        if self.token_host:
            environ["HTTP_HOST"] = self.token_host
        return self.app(environ, start_response)


@dataclass
class Provider:
    issuer: str
    port: int
    guard: ProviderGuard

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Signs ``sub`` in at the provider (its one-click form) for an authorization URL; returns the redirect."""
        response = httpx.post(authorize_url, data={"sub": sub})
        assert response.status_code == 302, response.text[:500]
        return response.headers["location"]

    def deny(self, authorize_url: str) -> str:
        response = httpx.post(authorize_url, data={"action": "deny"})
        assert response.status_code == 302, response.text[:500]
        return response.headers["location"]

    def public_keys(self) -> bytes:
        return httpx.get(f"{self.issuer}/jwks").content


@contextmanager
def oidc_provider(users: Sequence[oidc_provider_mock.User] = ()) -> Iterator[Provider]:
    """``oidc-provider-mock`` on ``localhost`` (a free port), nonce required, with ``users`` one click away."""
    flask_app = oidc_provider_mock.app(require_nonce=True, user_claims=users)
    guard = ProviderGuard(flask_app.wsgi_app)
    flask_app.wsgi_app = guard
    server = werkzeug.serving.make_server("localhost", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Provider(issuer=f"http://localhost:{server.server_port}", port=server.server_port, guard=guard)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
