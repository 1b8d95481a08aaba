"""The hub's door: a signed cookie per operator (:class:`HubSessions`), a brake on guessed passwords
(:class:`LoginThrottle`) and :class:`HubGuard`, the plain ASGI middleware that checks the cookie on every http AND
websocket scope (see :mod:`oo_app.hub.server` for the whole contract). Never logs a password or a cookie.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

COOKIE = "oo_hub"
PUBLIC_PATHS = frozenset({"/login", "/logout", "/favicon.ico"})
MAX_FAILURES = 10
FAILURE_WINDOW_S = 15 * 60
SIGN_IN_FIRST = "sign in to the hub first: POST the operators' password to /login"


# --- sessions and the brute-force brake ----------------------------------------------------------------------------


class HubSessions:
    """Signs and checks the hub cookie: the operator's name, a timestamp, and a signature under the secret key and
    the password (a forged, expired or pre-rotation cookie reads as nobody)."""

    def __init__(self, secret_key: str, password: str, max_age_s: float) -> None:
        salt = b"oo-hub-session:" + hashlib.sha256(password.encode()).digest()
        self._serializer = URLSafeTimedSerializer(secret_key, salt=salt)
        self.max_age_s = max_age_s

    def issue(self, operator: str) -> str:
        """A fresh cookie value for ``operator``."""
        return self._serializer.dumps({"operator": operator})

    def operator_for(self, cookie: str | None) -> str | None:
        """The operator a cookie value names, or None when it is missing, forged or older than ``max_age_s``."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        operator = data.get("operator") if isinstance(data, dict) else None
        return operator if isinstance(operator, str) and operator else None


@dataclass
class LoginThrottle:
    """Counts failed logins per client address: after ``max_failures`` within ``window_s`` that address is refused
    (even with the right password) until its oldest failure leaves the window."""

    max_failures: int = MAX_FAILURES
    window_s: float = FAILURE_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        failures = self._recent(client)
        if len(failures) < self.max_failures:
            return 0.0
        return max(failures[0] + self.window_s - self.clock(), 0.0)

    def failed(self, client: str) -> None:
        self._failures.setdefault(client, deque()).append(self.clock())
        if len(self._failures) > 10_000:  # a flood of addresses must not grow memory without bound
            for stale in [key for key in self._failures if not self._recent(key)]:
                del self._failures[stale]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= self.clock() - self.window_s:
            failures.popleft()
        return failures


# --- the guard -----------------------------------------------------------------------------------------------------


def _cookie_from(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header is a missing cookie, never a crash of the guard
                log.debug("unparsable cookie header ignored")
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def same_origin(scope: Scope) -> bool:
    """False when a browser says the request comes from another origin (its ``Origin`` names another host)."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == (_header(scope, b"host") or "").lower()


class HubGuard:
    """Plain ASGI middleware: only a valid hub cookie reaches the notebooks, over http and over websockets.

    ``/login`` and ``/logout`` are public. Without a valid cookie (or from another origin, for a websocket): a GET or
    HEAD of a page is redirected to ``/login?next=...``; anything else, or any ``/api/`` path, gets 401 JSON; a
    websocket is closed (1008) before ``accept``, so it never receives a cell. With one, ``scope["user"]`` names the
    operator to the notebooks (``mo.app_meta().request``: ``user["username"]`` and ``meta["operator"]``).
    """

    def __init__(self, app: ASGIApp, sessions: HubSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            raise RuntimeError(f"the hub serves http and websockets only, not {scope['type']!r}")
        if scope["type"] == "http" and scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        operator = self.sessions.operator_for(_cookie_from(scope))
        if scope["type"] == "websocket":
            if operator is None or not same_origin(scope):
                log.warning("hub websocket refused for %s: %s", _client(scope), scope["path"])
                await send({"type": "websocket.close", "code": 1008, "reason": "sign in to the hub first"})
                return
        elif operator is None:
            await self._refuse(scope, receive, send)
            return
        scope = {
            **scope,
            "user": {"is_authenticated": True, "username": operator, "display_name": operator},
            "meta": {**(scope.get("meta") or {}), "operator": operator},
        }
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if scope["method"] in ("GET", "HEAD") and "/api/" not in scope["path"]:
            target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        else:
            response = JSONResponse({"error": SIGN_IN_FIRST}, status_code=401)
        await response(scope, receive, send)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
