"""Sign-in for the page states: the page's cookies, its CSRF token, the person behind them and the origin check.

:class:`SignedIn` is a Reflex state *mixin*: a page state lists it before ``rx.State`` and gets its vars and helpers,
while keeping its own name in the state tree (the page's websocket and the state store address it by that name).
The person is resolved on the backend by :func:`oo_app.auth.users.resolve_current_user`; the HttpOnly session cookie
never reaches page scripts. Nothing here knows a page: a page state never imports another page's state.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import TypeVar

import reflex as rx
from sqlmodel import Session

from oo_app.auth.sessions import csrf_cookie
from oo_app.auth.users import resolve_current_user
from oo_app.auth.websocket_origin import check_event_origin
from oo_app.db import session_scope
from oo_app.models import User

T = TypeVar("T")


def parse_cookies(header: str) -> dict[str, str]:
    """The cookies of a request's ``Cookie`` header (the page's websocket request, HttpOnly ones included)."""
    jar = SimpleCookie()
    jar.load(header or "")
    return {key: morsel.value for key, morsel in jar.items()}


def as_person(cookies: dict[str, str], work: Callable[[Session, User], T]) -> T:
    """Run ``work`` for the person behind ``cookies`` in one transaction (blocking: call it in a worker thread).

    Raises :class:`~oo_app.auth.errors.Unauthenticated` without a live session, before ``work`` runs."""
    with session_scope() as session:
        return work(session, resolve_current_user(session, cookies))


class SignedIn(rx.State, mixin=True):
    """What every page state knows of sign-in. ``checked`` once the session was looked up; ``csrf_token`` is the
    oo_csrf cookie, which page scripts may read anyway (double submit), for the page's plain HTML forms."""

    checked: bool = False
    signed_in: bool = False
    csrf_token: str = ""

    def _cookie_map(self) -> dict[str, str]:
        return parse_cookies(self.router.headers.cookie)

    def _check_origin(self) -> None:
        """Refuses (:class:`~oo_app.auth.errors.Forbidden`) an event of a socket another site opened."""
        check_event_origin(self.router.headers.origin)

    def _mark_signed_in(self, cookies: dict[str, str]) -> None:
        self.checked, self.signed_in, self.csrf_token = True, True, cookies.get(csrf_cookie(), "")

    def _mark_signed_out(self) -> None:
        self.checked, self.signed_in, self.csrf_token = True, False, ""
