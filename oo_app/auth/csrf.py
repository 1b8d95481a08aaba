"""CSRF proof for cookie-authenticated writes: the double-submit token, bound to the session, and the origin.

A write must carry the ``oo_csrf`` cookie's value in the ``X-CSRF-Token`` header (or, for a plain HTML form, in its
``csrf_token`` field); that value must be the one minted for the session cookie it came with; and a browser's
``Origin`` must be one of the configured :func:`trusted_origins` (never one derived from the Host header), its
``Sec-Fetch-Site`` not ``cross-site``. Page scripts of other sites cannot read the cookie, so they cannot forge the
header.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.requests import Request

from oo_app.auth.errors import Forbidden, Unauthenticated
from oo_app.auth.sessions import SIGN_IN_AGAIN, csrf_cookie, csrf_token_for, session_cookie
from oo_app.settings import Settings, get_settings

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
REFUSED = "refused: this write did not come from oO's own page (missing or wrong CSRF token); reload and try again"
CROSS_SITE = "refused: a request from another site may not change anything here"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL as a browser's ``Origin`` header spells it: lowercased, no default port."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower().rpartition("@")[2]
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and netloc.endswith(default_port):
        netloc = netloc.removesuffix(default_port)
    return f"{scheme}://{netloc}"


def trusted_origins(settings: Settings) -> frozenset[str]:
    """The origins whose pages may write with oO's cookies and talk to its backend (its websocket included).

    The app's (``OO_APP_URL``), the backend's when it is served apart (``OO_API_URL``), and outside production the
    backend of ``reflex run`` on loopback (``http://localhost:<backend_port>``, ``http://127.0.0.1:<backend_port>``).
    Never an origin taken from the request: its Host header is whatever the client says (DNS rebinding).
    """
    origins = {origin_of(settings.app_url)}
    if settings.api_url:
        origins.add(origin_of(settings.api_url))
    if settings.env != "production":
        origins.update(f"http://{host}:{settings.backend_port}" for host in ("localhost", "127.0.0.1"))
    return frozenset(origins)


def check_origin(request: Request) -> None:
    """Refuses a request that a browser says comes from another site; requests without those headers pass."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise Forbidden(CROSS_SITE)
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin.strip().lower() not in trusted_origins(get_settings()):
        raise Forbidden(CROSS_SITE)


def check_token(cookies: Mapping[str, str], submitted: str | None) -> None:
    """Refuses unless ``submitted`` equals the CSRF cookie and that cookie belongs to the session cookie.

    Without a session cookie there is nobody to protect: that is :class:`Unauthenticated` (401), not a 403.
    """
    session_token, cookie = cookies.get(session_cookie()), cookies.get(csrf_cookie())
    if not session_token:
        raise Unauthenticated(SIGN_IN_AGAIN)
    if not (cookie and submitted):
        raise Forbidden(REFUSED)
    if not _same(submitted, cookie) or not _same(cookie, csrf_token_for(session_token)):
        raise Forbidden(REFUSED)


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two tokens as bytes: on ``str``, ``compare_digest`` raises for non-ASCII input."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


async def submitted_token(request: Request) -> str | None:
    """The CSRF token a request carries: its header, else the field of a form body."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def check_csrf(request: Request) -> None:
    """The whole proof for a cookie-authenticated write; raises :class:`Forbidden` (403) when it fails."""
    check_origin(request)
    check_token(request.cookies, await submitted_token(request))
