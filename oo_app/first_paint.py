"""The tip a signed-in person is due, in the very HTML of ``/`` (production, one port): the first paint shows it.

``GET /`` for a signed-in person with a tip due answers the built ``index.html`` with the tip embedded as a data
block (``<script type="application/json" id="oo-due-tip">``, at the end of ``<head>``, where React's hydration skips
unknown tags), which the inline painter (``static/cached_tip.js``) paints synchronously, with no request; it asks
``GET /api/tips/due`` only where there is no block (dev mode, the shell kept by the service worker).

Contract of :func:`with_due_tip_page` (an ``api_transformer`` of Reflex, wrapped by the security headers):
- the tip is the page's own decision, as ``GET /api/tips/due`` makes it (:func:`due_tip`: ``tip_to_show`` under the
  per-person lock, then ``mark_shown``), committed before the page is sent;
- the personal page is ``Cache-Control: no-store``; a request carrying :data:`SHELL_HEADER` (the service worker's
  copy of the offline shell) always gets the plain build;
- the personal page carries the build's stylesheets inline (:func:`with_inline_styles`): a first visit has nothing
  cached, and a linked stylesheet would hold the first paint for one more request;
- signed out, first run pending, no tip due, no build (dev mode), or any error in the lookup (logged): the request
  goes on to Reflex's static files untouched, so the page is exactly as built; never a 500 on ``/``.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from oo_app.auth.sessions import session_cookie
from oo_app.auth.users import resolve_current_user
from oo_app.db import session_scope
from oo_app.errors import OOError
from oo_app.models import Tip, User
from oo_app.profile.first_run import first_run_pending
from oo_app.recommender import mark_shown
from oo_app.recommender.on_request import tip_to_show

log = logging.getLogger(__name__)

BLOCK_ID = "oo-due-tip"
# Sent by the service worker when it fetches the copy of "/" it keeps for offline visits: that copy is never personal.
SHELL_HEADER = "x-oo-shell"
NO_STORE = {"Cache-Control": "no-store"}
# Inside a <script> element only "</script" and "<!--" can end or confuse the data: none of "<", ">", "&" stays raw
# (JSON reads the escapes back as the same characters); U+2028/2029 are escaped for older JavaScript parsers.
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def due_tip(session: Session, user: User) -> Tip | None:
    """The tip the person's page shows now, marked shown as the page marks it; None before the first run is
    answered, or past the tip limit with nothing unanswered. Writes a tip only where opening the page would."""
    if first_run_pending(user):
        return None
    tip = tip_to_show(session, user)
    return None if tip is None else mark_shown(session, tip)


def due_tip_block(tip: dict[str, Any]) -> str:
    """The data block of ``tip`` (``{"id", "text", "kind"}``): not executed, and no text can break out of it."""
    data = json.dumps(tip, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _ESCAPES.items():
        data = data.replace(raw, escaped)
    return f'<script type="application/json" id="{BLOCK_ID}">{data}</script>'


def with_due_tip(html: str, tip: dict[str, Any]) -> str:
    """``html`` with the block of ``tip`` as the last element of its ``<head>`` (before every script of the body,
    the painter included); ValueError when the page has no ``</head>``."""
    end = html.find("</head>")
    if end < 0:
        raise ValueError("the built page has no </head>")
    return html[:end] + due_tip_block(tip) + html[end:]


# A stylesheet of the build, linked from <head> (``<link ... rel="stylesheet" ... href="/assets/x.css"/>``), and the
# preload React puts before it; attributes in any order.
_STYLESHEET = re.compile(r'<link(?=[^>]*\brel="stylesheet")[^>]*\bhref="/(assets/[^"<>]+\.css)"[^>]*>')
_STYLE_PRELOAD = re.compile(r'<link(?=[^>]*\brel="preload")(?=[^>]*\bas="style")[^>]*>')
NOT_APPLIED = ' media="not all"'  # the link stays for React to hydrate, and neither blocks the paint nor applies


def with_inline_styles(html: str, pages: Path) -> str:
    """``html`` whose build stylesheets (under ``pages/assets``) are inline ``<style>`` elements, each right after its
    link, which stays (React hydrates it; an element missing from ``<head>`` would be a hydration mismatch) but
    matches no medium, so it neither holds the first paint nor applies twice; their preloads are dropped. A
    stylesheet that cannot be read, or that holds ``</style``, stays linked as built."""

    def inline(link: re.Match[str]) -> str:
        try:
            css = (pages / link.group(1)).read_text(encoding="utf-8")
        except OSError:
            return link.group(0)
        if "</style" in css.lower():
            return link.group(0)
        tag = link.group(0)
        end = -2 if tag.endswith("/>") else -1
        return f"{tag[:end]}{NOT_APPLIED}{tag[end:]}<style>{css}</style>"

    head_end = html.find("</head>")
    if head_end < 0:
        return html
    head = _STYLESHEET.sub(inline, html[:head_end])
    if NOT_APPLIED in head:
        head = _STYLE_PRELOAD.sub("", head)
    return head + html[head_end:]


class _Template:
    """The built ``index.html`` with its styles inline, read again only when the build changes (its mtime)."""

    def __init__(self, pages: Path) -> None:
        self.pages, self.index = pages, pages / "index.html"
        self._html: str | None = None
        self._mtime = -1.0

    def html(self) -> str:
        """The page to put a tip in; OSError without a build (dev mode: the frontend server serves the page)."""
        mtime = self.index.stat().st_mtime
        if self._html is None or mtime != self._mtime:
            self._html = with_inline_styles(self.index.read_text(encoding="utf-8"), self.pages)
            self._mtime = mtime
        return self._html


def _due_tip_of(cookies: dict[str, str]) -> dict[str, Any] | None:
    with session_scope() as session:
        try:
            user = resolve_current_user(session, cookies)
        except OOError:
            return None  # no live session: the plain page, which shows the sign-in
        tip = due_tip(session, user)
        return None if tip is None else {"id": tip.id, "text": tip.text, "kind": tip.kind}


class DueTipPage:
    """ASGI middleware answering ``GET /`` with the personal page where the module's contract says so."""

    def __init__(self, app: ASGIApp, pages: Path | None) -> None:
        self.app = app
        self.template = None if pages is None else _Template(pages)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/" or self.template is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.headers.get(SHELL_HEADER) or session_cookie() not in request.cookies:
            await self.app(scope, receive, send)
            return
        try:
            html = self.template.html()
        except OSError:  # no build (dev mode: the page comes from the frontend server)
            await self.app(scope, receive, send)
            return
        try:
            tip = await run_in_threadpool(_due_tip_of, dict(request.cookies))
            page = None if tip is None else with_due_tip(html, tip)
        except Exception:
            log.exception("the due tip of GET / could not be looked up; serving the plain page")
            page = None
        if page is None:
            await self.app(scope, receive, send)
            return
        # Starlette's gzip compresses it for a browser that takes it (and adds Accept-Encoding to Vary).
        personal = Response(page, media_type="text/html; charset=utf-8", headers={**NO_STORE, "Vary": "Cookie"})
        await GZipMiddleware(personal, minimum_size=0)(scope, receive, send)


def with_due_tip_page(app: ASGIApp, pages: Path | None = None) -> ASGIApp:
    """``app`` whose ``GET /`` carries the signed-in person's due tip (an ``api_transformer`` of Reflex); ``pages``
    is the static build whose ``index.html`` the page is made from."""
    return DueTipPage(app, pages)
