"""Who is asking: the one place that resolves the current person, from the session cookie.

:func:`resolve_current_user` is what the API's ``UserDep`` and the Reflex states call; a request without a live
session raises :class:`oo_app.auth.errors.Unauthenticated` (401). :func:`user_by_email` serves the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

from oo_app.auth.errors import Unauthenticated
from oo_app.auth.sessions import session_cookie, user_for_token
from oo_app.errors import NotFound
from oo_app.models import User

__all__ = ["Unauthenticated", "resolve_current_user", "user_by_email"]


def user_by_email(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no person with the email {email!r}; run `oo seed-demo` or sign up first")
    return user


def resolve_current_user(session: Session, cookies: Mapping[str, str] | None = None) -> User:
    """The person whose live session the session cookie (:func:`~oo_app.auth.sessions.session_cookie`) opens;
    raises :class:`Unauthenticated` otherwise.

    An expired session is deleted on the way (see :func:`oo_app.auth.sessions.user_for_token`).
    """
    return user_for_token(session, (cookies or {}).get(session_cookie()))
