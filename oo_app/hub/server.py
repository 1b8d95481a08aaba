"""``oo hub``: every marimo notebook of ``admin_notebooks/`` served read-only (run mode, never the editor) behind one
operators' password, on loopback by default.

Contract: :func:`create_app` returns an ASGI app whose :class:`HubGuard`, a plain ASGI middleware, checks a signed,
HttpOnly, SameSite=Strict cookie on every http AND websocket scope: a Starlette ``BaseHTTPMiddleware`` never sees
websockets, and marimo sends cells over its websocket. Without a valid cookie a page redirects to ``/login``, any
other request gets 401, and a websocket is closed before it is accepted. The cookie is signed with
``OO_SECRET_KEY`` *and* the password, so changing ``OO_HUB_PASSWORD`` signs every operator out. Around the guard:
only the host names of ``OO_HUB_ALLOWED_HOSTS`` are served (400 otherwise: no DNS rebinding), every response carries
the security headers (:mod:`oo_app.security_headers`), and ``X-Forwarded-Proto`` / ``X-Forwarded-For`` are believed
only from the reverse proxies of ``OO_HUB_TRUSTED_PROXIES``: then the cookie is Secure behind TLS and the login brake
counts the real client, never an address a client names itself.

Operators: ``OO_HUB_PASSWORD`` is the operators' shared secret and the hub's only door. The person sign-in is
separate: ``OO_ADMIN_EMAILS`` gives persons the app's admin role (operator routes of the app), it neither opens the
hub nor is needed for it, and a hub login is not an app session. The hub runs as its own process on loopback (or
behind a reverse proxy of your own) without the app's OpenID Connect round trip, so the password cannot tell
operators apart: admin actions record the name an operator gives at login (self-declared, not verified), else
``OO_HUB_OPERATOR`` (default ``hub``, exported to the notebooks' environment); every request carries it to the
notebooks as ``mo.app_meta().request`` ``meta["operator"]`` and ``user["username"]``. Never serve the editor here,
never log a password or a cookie. The cookie, the login brake and the guard live in :mod:`oo_app.hub.guard`.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from oo_app import plain_page
from oo_app.bootstrap import bootstrap
from oo_app.errors import OOError
from oo_app.hub.guard import COOKIE, HubGuard, HubSessions, LoginThrottle, same_origin
from oo_app.hub.parse_lock import parse_one_at_a_time
from oo_app.security_headers import SecurityHeaders, common_headers
from oo_app.settings import ROOT, Settings, get_settings

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = ROOT / "admin_notebooks"
NOTEBOOKS_PATH = "/notebooks"
MIN_PASSWORD_CHARS = 16
FAILURE_DELAY_S = 1.0
NO_PASSWORD = (
    "the hub needs a password: set OO_HUB_PASSWORD (in .env or the environment) to the operators' shared secret, "
    "e.g. OO_HUB_PASSWORD=$(openssl rand -base64 24)"
)
SHORT_PASSWORD = (
    f"OO_HUB_PASSWORD must have at least {MIN_PASSWORD_CHARS} characters outside development; "
    "e.g. OO_HUB_PASSWORD=$(openssl rand -base64 24)"
)
OPERATOR_NAME = re.compile(r"[\w.@+\- ]{1,64}")
BAD_NAME = "a name has at most 64 letters, digits, spaces or . @ + - _"


class HubNotConfigured(OOError):
    """The hub cannot start: its password is missing or too weak; the message says what to set."""


def check_settings(settings: Settings) -> str:
    """The hub's password, or :class:`HubNotConfigured` when there is none, or a short one outside development."""
    password = settings.hub_password.get_secret_value() if settings.hub_password else ""
    if not password:
        raise HubNotConfigured(NO_PASSWORD)
    if settings.env != "development" and len(password) < MIN_PASSWORD_CHARS:
        raise HubNotConfigured(SHORT_PASSWORD)
    return password


def notebooks(directory: Path = NOTEBOOKS_DIR) -> list[str]:
    """Names of the marimo notebooks in ``directory`` (``hub`` for ``hub.py``), sorted; private files excluded."""
    found = []
    for path in sorted(directory.glob("*.py")):
        if not path.name.startswith("_") and "marimo.App(" in path.read_text(encoding="utf-8", errors="replace"):
            found.append(path.stem)
    return found


# --- pages ---------------------------------------------------------------------------------------------------------

TITLE = '<h1 style="font-weight:400;font-size:1.5rem;margin:0 0 1.5rem">oO hub</h1>'
LOGIN_FORM = f"""<form method="post" action="/login" style="display:flex;flex-direction:column;gap:.75rem">
<input type="hidden" name="next" value="{{next}}">
<label for="name" style="{plain_page.LINK}">Your name, recorded on what you change (optional)</label>
<input id="name" name="name" autocomplete="username" maxlength="64" style="{plain_page.FIELD}">
<label for="password" style="{plain_page.LINK}">Operators' password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus
 style="{plain_page.FIELD}">
<button type="submit" style="{plain_page.FIELD};cursor:pointer">Log in</button>
</form>
<p id="hub-message" role="alert" style="{plain_page.ALERT};min-height:1.5rem">{{message}}</p>
"""
# not "no-referrer": then the browser posts the login form with "Origin: null", which the origin check refuses
REFERRER_POLICY = "same-origin"
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}
# marimo's pages run inline scripts and evaluate the notebooks' output (plotly, widgets) that no hash can name: their
# policy only keeps them out of other sites' frames, plugins and <base> tricks. The hub's own pages (login, index)
# send the strict HEADERS above, which take precedence.
NOTEBOOK_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"


def _page(body: str, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    document = plain_page.page(TITLE + "\n" + body, title="oO hub", width="24rem")
    return HTMLResponse(document, status_code=status_code, headers={**HEADERS, **(headers or {})})


def _login_page(next_path: str, message: str = "", status_code: int = 200, **headers: str) -> HTMLResponse:
    body = LOGIN_FORM.format(next=html.escape(next_path, quote=True), message=html.escape(message))
    return _page(body, status_code, headers)


def safe_next(target: str | None) -> str:
    """A local path to return to after logging in; anything that could leave the hub becomes ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclass(frozen=True)
class HubConfig:
    """What the routes need: the password, the default operator's name, the cookies, the brake and the notebooks'
    folder."""

    password: str = field(repr=False)
    operator: str
    sessions: HubSessions
    throttle: LoginThrottle
    failure_delay_s: float
    directory: Path


def _routes(config: HubConfig) -> list[Route]:
    async def login_form(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if config.sessions.operator_for(request.cookies.get(COOKIE)):
            return RedirectResponse(target, status_code=303)
        return _login_page(target)

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        target = safe_next(form.get("next", ["/"])[0])
        if not same_origin(request.scope):
            return _login_page(target, "refused: this login did not come from the hub's own page", 403)
        wait = config.throttle.retry_after(client)
        if wait:
            log.warning("hub login throttled for %s", client)
            message = f"too many wrong passwords; try again in {int(wait) + 1} s"
            return _login_page(target, message, 429, **{"Retry-After": str(int(wait) + 1)})
        submitted = form.get("password", [""])[0].encode()
        if not hmac.compare_digest(submitted, config.password.encode()):
            config.throttle.failed(client)
            log.warning("hub login failed for %s", client)
            await asyncio.sleep(config.failure_delay_s)
            return _login_page(target, "wrong password", 401)
        config.throttle.succeeded(client)
        operator = " ".join(form.get("name", [""])[0].split()) or config.operator
        if not OPERATOR_NAME.fullmatch(operator):
            return _login_page(target, BAD_NAME, 400)
        log.info("hub login from %s as %s", client, operator)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            config.sessions.issue(operator),
            max_age=int(config.sessions.max_age_s),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def index(request: Request) -> Response:
        names = notebooks(config.directory)
        links = "".join(
            f'<li><a href="{NOTEBOOKS_PATH}/{quote(name)}/" style="{plain_page.TEXT_LINK}">{html.escape(name)}</a></li>'
            for name in names
        )
        body = (
            f'<ul id="notebooks" style="list-style:none;padding:0;font-size:1.25rem;line-height:2">'
            f"{links or '<li>no notebooks</li>'}</ul>"
            '<form method="post" action="/logout"><button type="submit" '
            f'style="{plain_page.FIELD};cursor:pointer">Log out</button></form>'
        )
        return _page(body)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/login", login_form, methods=["GET", "HEAD"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["GET", "POST"]),
    ]


def notebooks_app(directory: Path, opened: list[Any]) -> ASGIApp:
    """marimo's ASGI app in run mode for every notebook of ``directory``, at ``/notebooks/<name>/``.

    Notebooks added later are served without a restart; any other path is refused (404) before marimo looks at it.
    Each notebook's app is appended to ``opened`` when marimo first builds it, so the hub can close its kernels.
    marimo parses notebooks on the event loop and in its kernel threads: they build one syntax tree at a time
    (:mod:`oo_app.hub.parse_lock`).
    """
    import marimo

    parse_one_at_a_time()

    def is_notebook(app_path: str, scope: Scope) -> bool:
        return app_path.strip("/").split("/", 1)[0] in notebooks(directory)

    def remember(app: ASGIApp) -> ASGIApp:
        opened.append(app)
        return app

    builder = marimo.create_asgi_app(quiet=True, include_code=False, show_tracebacks=False)
    return builder.with_dynamic_directory(
        path=NOTEBOOKS_PATH, directory=str(directory), validate_callback=is_notebook, middleware=[remember]
    ).build()


def create_app(
    settings: Settings,
    *,
    directory: Path = NOTEBOOKS_DIR,
    failure_delay_s: float = FAILURE_DELAY_S,
    throttle: LoginThrottle | None = None,
) -> ASGIApp:
    """The hub as one ASGI app: login pages and the notebooks, all behind :class:`HubGuard`; its lifespan's end
    closes every notebook session (kernels included).

    Raises :class:`HubNotConfigured` when the settings have no usable password (see :func:`check_settings`).
    """
    bootstrap()
    password = check_settings(settings)
    sessions = HubSessions(
        settings.secret_key.get_secret_value(), password, max_age_s=settings.hub_session_hours * 3600
    )
    config = HubConfig(
        password=password,
        operator=settings.hub_operator,
        sessions=sessions,
        throttle=throttle or LoginThrottle(),
        failure_delay_s=failure_delay_s,
        directory=directory,
    )
    opened: list[Any] = []

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for notebook in opened:
                # marimo's own lifespan, which would do this, never runs for an app built on first request
                await notebook.state.session_manager.shutdown()

    routes = [*_routes(config), Mount("/", app=notebooks_app(directory, opened))]
    return behind_the_edge(HubGuard(Starlette(routes=routes, lifespan=lifespan), sessions), settings)


def behind_the_edge(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` as the network meets it: proxy headers from trusted proxies only, then the security headers on every
    response, then refusal (400) of a Host header not in ``OO_HUB_ALLOWED_HOSTS``."""
    headers = {
        **common_headers(settings.env == "production", referrer_policy=REFERRER_POLICY),
        "Content-Security-Policy": NOTEBOOK_POLICY,
    }
    app = SecurityHeaders(TrustedHostMiddleware(app, allowed_hosts=settings.hub_allowed_hosts), lambda: headers)
    if settings.hub_trusted_proxies:
        # uvicorn's own: X-Forwarded-For is read from the right, skipping trusted proxies, so a client cannot choose
        # its address by sending the header itself.
        app = ProxyHeadersMiddleware(app, trusted_hosts=settings.hub_trusted_proxies)
    return app


def notebook_environment(settings: Settings) -> dict[str, str]:
    """What the notebooks must read as the app does: its database and the operator who acts through the hub; and how
    they link to each other: ``path``, as this server serves each notebook at ``/notebooks/<name>/``.

    marimo runs each notebook's kernel in the server process (run mode), so exporting these to ``os.environ``
    reaches the notebooks' own :func:`oo_app.settings.get_settings` even when a value came from ``.env`` alone.
    """
    return {
        "OO_DATABASE_URL": settings.database_url,
        "OO_HUB_OPERATOR": settings.hub_operator,
        "OO_HUB_NOTEBOOK_LINKS": "path",
    }


def serve(settings: Settings, host: str, port: int, **uvicorn_options: Any) -> None:
    """Runs the hub with uvicorn until interrupted; raises :class:`HubNotConfigured` before listening if unusable."""
    import uvicorn

    app = create_app(settings)
    os.environ.update(notebook_environment(settings))
    get_settings.cache_clear()  # the notebooks' settings are read after the export, not from before it
    # uvicorn's proxy headers off: it would believe any loopback peer; create_app believes OO_HUB_TRUSTED_PROXIES only.
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="warning", **uvicorn_options)
