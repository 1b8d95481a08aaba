"""The page's websocket (Reflex's ``/_event``) only from oO's own pages: a browser's ``Origin`` must be trusted.

A page of another site that opens a socket to the backend rides on the person's cookies (cross-site websocket
hijacking): it could read their settings and send the events that delete the account, revoke consents or disconnect
an integration. :func:`with_websocket_origin_check` wraps the backend (an ``api_transformer`` of Reflex) so that a
websocket handshake, or an HTTP request to the event endpoint (Engine.IO's polling), whose ``Origin`` is not one of
:func:`~oo_app.auth.csrf.trusted_origins` is refused before Reflex sees it: the handshake is closed before it opens
(the server answers 403), HTTP gets a plain 403. A request without ``Origin`` passes here (browsers always send it
on a websocket), and the event handlers that show or change a person's data require a trusted one
(:func:`check_event_origin`) from the connection's own headers, which no event can forge.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from oo_app.auth.csrf import CROSS_SITE, trusted_origins
from oo_app.auth.errors import Forbidden
from oo_app.settings import get_settings

EVENT_PATH = "/_event"  # Reflex's Socket.IO endpoint (reflex_base.constants.Endpoint.EVENT)
POLICY_VIOLATION = 1008  # the websocket close code the ASGI server turns into a 403 before the handshake


def is_trusted_origin(origin: str | None, origins: frozenset[str]) -> bool:
    """Whether a browser's ``Origin`` header names one of ``origins`` (as :func:`~oo_app.auth.csrf.origin_of`
    spells them: lowercased, no default port)."""
    return origin is not None and origin.strip().lower() in origins


def check_event_origin(origin: str | None) -> None:
    """Refuses (:class:`Forbidden`) an event of a connection whose ``Origin`` is missing or not trusted.

    ``origin`` is the one the websocket's handshake carried (``self.router.headers.origin`` in a Reflex state).
    """
    if not is_trusted_origin(origin, trusted_origins(get_settings())):
        raise Forbidden(CROSS_SITE)


class WebsocketOriginCheck:
    """ASGI middleware: a websocket, or an HTTP request to the event endpoint, from an untrusted ``Origin`` is
    refused; everything else passes untouched."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app, self.origins = app, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "websocket" or (
            scope["type"] == "http" and scope.get("path", "").startswith(EVENT_PATH)
        )
        origin = Headers(scope=scope).get("origin") if guarded else None
        if origin is None or is_trusted_origin(origin, self.origins):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        else:
            await PlainTextResponse(CROSS_SITE, status_code=403)(scope, receive, send)


def with_websocket_origin_check(app: ASGIApp) -> ASGIApp:
    """``app`` refusing the page's websocket from an untrusted origin (an ``api_transformer``)."""
    return WebsocketOriginCheck(app, trusted_origins(get_settings()))
