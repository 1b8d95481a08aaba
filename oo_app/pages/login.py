"""The sign-in view (what ``/`` shows without a live session) and the sign-out control of the tip page.

Both talk to the FastAPI routes of :mod:`oo_app.auth.routes` with full page loads, never the client router (which
would answer its own 404): a link with ``reload_document`` for ``/auth/login`` (``rx.el.a`` is React Router's
``Link``; ``rx.link`` would be the same plus Radix Themes), plain HTML forms for ``POST /auth/dev-login`` and
``POST /auth/logout`` (the latter with the CSRF token). Their URLs are built in the browser from the backend's
address (:func:`~oo_app.components.backend.backend_url`).
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from oo_app.auth.csrf import CSRF_FIELD
from oo_app.components.backend import backend_url
from oo_app.components.style import MUTED_TEXT, PAGE_STYLE, QUIET_BUTTON, SIGN_IN_STYLE
from oo_app.state.tip import TipState


class PostForm(BaseHTML):
    """A plain HTML form the browser submits itself (``rx.el.form`` always prevents that for its own handler)."""

    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


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
        rx.el.p("One well-timed tip.", style={"color": MUTED_TEXT, "margin": "0"}),
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
