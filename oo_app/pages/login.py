"""The sign-in view (what ``/`` shows without a live session) and the sign-out control of the tip page.

Both talk to the FastAPI routes of :mod:`oo_app.auth.routes` with full page loads, never the client router (which
would answer its own 404): a link with ``reload_document`` for ``/auth/login`` (``rx.el.a`` is React Router's
``Link``; ``rx.link`` would be the same plus Radix Themes), plain HTML forms for ``POST /auth/dev-login`` and
``POST /auth/logout`` (the latter with the CSRF token). Their URLs are built in the browser from the backend's
address, which differs from the page's under ``reflex run --env dev``.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.vars import VarData
from reflex_components_core.el.elements.base import BaseHTML

from oo_app.auth.csrf import CSRF_FIELD
from oo_app.state.tip import TipState

# The black page both views of `/` share.
PAGE_STYLE = {
    "min_height": "100vh",
    "background": "#000000",
    "color": "#f2f2f2",
    "display": "flex",
    "flex_direction": "column",
    "align_items": "center",
    "justify_content": "center",
    "gap": "2rem",
    "padding": "2rem",
    "font_family": "system-ui, -apple-system, 'Segoe UI', sans-serif",
}
FOCUS = {"outline": "2px solid #ffffff", "outline_offset": "2px"}
SIGN_IN_STYLE = {
    "color": "#f2f2f2",
    "border": "1px solid #8a8a8a",
    "border_radius": "999px",
    "padding": "0.6rem 1.6rem",
    "font_size": "1.05rem",
    "text_decoration": "none",
    "_hover": {"color": "#ffffff", "border_color": "#ffffff"},
    "_focus_visible": FOCUS,
}
QUIET_BUTTON = {
    "background": "transparent",
    "border": "none",
    "color": "#9a9a9a",
    "font_size": "0.85rem",
    "cursor": "pointer",
    "text_decoration": "underline",
    "_hover": {"color": "#ffffff"},
    "_focus_visible": FOCUS,
}


class PostForm(BaseHTML):
    """A plain HTML form the browser submits itself (``rx.el.form`` always prevents that for its own handler)."""

    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


def backend_url(path: str) -> rx.Var[str]:
    """``path`` on the backend that serves the FastAPI routes, as the browser reaches it (a JS expression)."""
    return rx.Var(
        _js_expr=f"getBackendURL(env.PING).origin + {json.dumps(path)}",
        _var_data=VarData(
            imports={
                "$/utils/state": "getBackendURL",
                "$/env.json": rx.ImportVar(tag="env", is_default=True),
            }
        ),
    ).to(str)


def dev_login_form() -> rx.Component:
    return PostForm.create(
        rx.el.button("Continue as the demo person (development)", id="dev-login", type="submit", style=QUIET_BUTTON),
        action=backend_url("/auth/dev-login"),
        method="post",
    )


def sign_in_view() -> rx.Component:
    """The minimal black sign-in page."""
    return rx.el.main(
        rx.el.h1("oO", style={"font_size": "2.5rem", "font_weight": "300", "margin": "0", "letter_spacing": "0.1em"}),
        rx.el.p("One well-timed tip.", style={"color": "#9a9a9a", "margin": "0"}),
        rx.el.a("Sign in", href=backend_url("/auth/login"), reload_document=True, id="sign-in", style=SIGN_IN_STYLE),
        rx.cond(TipState.dev_login, dev_login_form()),
        id="sign-in-page",
        style=PAGE_STYLE,
    )


def sign_out_form() -> rx.Component:
    """The small sign-out control of the tip page: a POST carrying the session's CSRF token."""
    return PostForm.create(
        rx.el.input(type="hidden", name=CSRF_FIELD, value=TipState.csrf_token, read_only=True),
        rx.el.button("sign out", id="sign-out", type="submit", style=QUIET_BUTTON),
        action=backend_url("/auth/logout"),
        method="post",
        style={"margin": "0"},
    )
