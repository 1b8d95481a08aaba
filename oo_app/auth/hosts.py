"""The backend answers only to its own names: a request whose Host header names another is refused (DNS rebinding).

A page at ``http://x.evil:8000`` whose name resolves to this machine reaches the backend as a same-origin client of
``x.evil``; its requests carry ``Host: x.evil:8000``. :func:`with_trusted_hosts` wraps the whole ASGI app (an
``api_transformer`` of Reflex, so the API, Reflex's routes, its ``/_event`` websocket and, on one port, the page):
HTTP gets a plain 400, a websocket is closed before it opens (the server answers 403). It never reads a body.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from oo_app.settings import LOOPBACK_HOSTS, Settings, get_settings

REFUSED = "refused: this server does not answer to that name (add it to OO_ALLOWED_HOSTS if it is yours)"
POLICY_VIOLATION = 1008  # the websocket close code the ASGI server turns into a 403 before the handshake


def host_of(header: str | None) -> str | None:
    """The host of a Host header, lowercased, without port, trailing dot or IPv6 brackets; None when malformed."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        host, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
    else:
        host = header.partition(":")[0]
    return host.rstrip(".") or None


def trusted_hosts(settings: Settings) -> frozenset[str]:
    """The host names the backend answers to: those of ``OO_APP_URL`` and ``OO_API_URL``, ``OO_ALLOWED_HOSTS``, and
    loopback (a rebound page never presents a loopback name, and the image's health check calls 127.0.0.1)."""
    hosts = {*settings.allowed_hosts, *LOOPBACK_HOSTS}
    for url in (settings.app_url, settings.api_url):
        if url and (host := urlsplit(url).hostname):
            hosts.add(host.rstrip("."))
    return frozenset(hosts)


class TrustedHosts:
    """ASGI middleware: HTTP and websocket requests to a name outside ``hosts`` are refused; lifespan passes."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or host_of(Headers(scope=scope).get("host")) in self.hosts:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        else:
            await PlainTextResponse(REFUSED, status_code=400)(scope, receive, send)


def with_trusted_hosts(app: ASGIApp) -> ASGIApp:
    """``app`` answering only to :func:`trusted_hosts` of the configured settings (an ``api_transformer``)."""
    return TrustedHosts(app, trusted_hosts(get_settings()))
