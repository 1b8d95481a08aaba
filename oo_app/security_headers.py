"""Security headers on every HTTP response of the app (API, sign-in pages, Reflex's routes and, served on one port,
the page itself) and of the hub: a Content-Security-Policy, ``frame-ancestors 'none'``, ``nosniff``, a
Referrer-Policy and, in production only, HSTS.

Contract: :class:`SecurityHeaders` is a plain ASGI middleware that adds each header it is given to every HTTP
response that does not set that header itself (a route with a stricter policy of its own keeps it); websockets and
lifespan pass untouched. It never removes, rewrites or reads a response body.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oo_app.settings import Settings, get_settings

HSTS = "max-age=31536000; includeSubDomains"
# Not "no-referrer": then a browser posts a same-origin form with "Origin: null", which the CSRF checks refuse.
REFERRER_POLICY = "strict-origin-when-cross-origin"


def common_headers(production: bool, referrer_policy: str = REFERRER_POLICY) -> dict[str, str]:
    """The headers every response carries besides its CSP; HSTS only in production (never on a developer's
    http://localhost, where a browser would remember it for a year)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": referrer_policy,
        "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers that predate it
    }
    if production:
        headers["Strict-Transport-Security"] = HSTS
    return headers


# --- the page's CSP: its inline scripts by hash ----------------------------------------------------------------------


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def script_hashes(html: str) -> list[str]:
    """CSP sources (``'sha256-...'``) of the inline scripts of an HTML document, in order, without repeats."""
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    found: dict[str, None] = {}
    for script in parser.scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        found[f"'sha256-{digest}'"] = None
    return list(found)


class PageScripts:
    """The hashes of the inline scripts of every page of a static build (Reflex's ``.web/build/client``): read at
    the first response, and again whenever the build's ``index.html`` changes (a rebuild). No build, no hashes."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._seen: float | None = None
        self._hashes: tuple[str, ...] = ()

    def hashes(self) -> tuple[str, ...]:
        if self.directory is None:
            return ()
        try:
            changed = (self.directory / "index.html").stat().st_mtime
        except OSError:
            return ()
        if changed != self._seen:
            found: dict[str, None] = {}
            for page in sorted(self.directory.rglob("*.html")):
                found.update(dict.fromkeys(script_hashes(page.read_text(encoding="utf-8", errors="replace"))))
            self._hashes, self._seen = tuple(found), changed
        return self._hashes


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_policy(app_url: str, hashes: Iterable[str]) -> str:
    """The CSP of the Reflex page (and of every other response of the app: one policy, so the service worker, which
    runs under the CSP of ``/sw.js``, may fetch the shell as the page does).

    What it still allows, and why:
    - ``'unsafe-eval'``: Reflex's runtime evaluates ``rx.call_script`` (the settings page's push switch) and its
      download and dynamic-component events with ``eval``;
    - ``style-src 'unsafe-inline'``: Emotion writes ``<style>`` elements at run time and Radix sets ``style``
      attributes; neither can carry a hash or a nonce;
    - ``img-src data:`` and ``font-src data:``: Radix and the build inline small icons and fonts.
    Inline scripts run only when their hash is listed: Reflex's theme and hydration scripts and oO's ``pwa.js``,
    ``push.js`` and ``cached_tip.js`` (whose same-origin fetch of the due tip ``connect-src 'self'`` allows), all
    read from the build (:class:`PageScripts`); an injected ``<script>`` does not run. The page's websocket goes to
    its own origin (one port in production); ``connect-src`` names its ``ws(s):`` form for browsers whose
    ``'self'`` does not cover websockets.
    """
    origin = _origin(app_url)
    socket = origin.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    scripts = " ".join(["'self'", "'unsafe-eval'", *hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src 'self' {origin} {socket}",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {origin}",
            "frame-ancestors 'none'",
        ]
    )


# --- the middleware --------------------------------------------------------------------------------------------------


class SecurityHeaders:
    """Plain ASGI middleware: ``headers()`` is added to every HTTP response, except the names the response sets
    itself. It wraps whatever answers (routes, 404s, error pages, static files), so nothing leaves without them."""

    def __init__(self, app: ASGIApp, headers: Callable[[], Mapping[str, str]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in self.headers().items()
                    if name.lower().encode("latin-1") not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def app_headers(settings: Settings, pages: PageScripts) -> Callable[[], dict[str, str]]:
    """The app's headers: :func:`common_headers` and :func:`page_policy` with the build's script hashes."""
    common = common_headers(settings.env == "production")
    policies: dict[tuple[str, ...], str] = {}

    def headers() -> dict[str, str]:
        hashes = pages.hashes()
        if hashes not in policies:
            policies.clear()
            policies[hashes] = page_policy(settings.app_url, hashes)
        return {**common, "Content-Security-Policy": policies[hashes]}

    return headers


def with_security_headers(app: ASGIApp, pages: Path | None = None) -> ASGIApp:
    """``app`` wrapped in :class:`SecurityHeaders` with the app's headers (an ``api_transformer`` of Reflex);
    ``pages`` is the static build whose inline scripts the CSP allows."""
    return SecurityHeaders(app, app_headers(get_settings(), PageScripts(pages)))
