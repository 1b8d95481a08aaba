"""FastAPI dependencies shared by every router: a database session per request, the person behind it, and guards.

``UserDep`` resolves the person from the session cookie (401 without one); ``CsrfDep`` guards a cookie-authenticated
write (403 without the CSRF proof, see :mod:`oo_app.auth.csrf`); ``AdminDep`` admits operators only (403).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from oo_app.auth.csrf import check_csrf
from oo_app.auth.errors import Forbidden
from oo_app.auth.users import resolve_current_user
from oo_app.db import session_scope
from oo_app.models import Role, User

OPERATORS_ONLY = "this is for operators: sign in with an account listed in OO_ADMIN_EMAILS"


def db_session() -> Iterator[Session]:
    """The request's session; it commits before the response is sent (see ``SessionDep``)."""
    with session_scope() as session:
        yield session


# scope="function": the transaction commits when the route returns, before the response is sent, so a 2xx means the
# write is stored, and a failed commit (the database just went down) reaches the error handlers as a 503. FastAPI's
# default for a yield dependency ends it after the response, when a failed commit is too late to tell the client.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]


def current_user(request: Request, session: SessionDep) -> User:
    return resolve_current_user(session, dict(request.cookies))


UserDep = Annotated[User, Depends(current_user)]


async def require_csrf(request: Request) -> None:
    """Guards a cookie-authenticated write against cross-site requests: raises ``Forbidden`` (403) unless the
    ``X-CSRF-Token`` header (or a form's ``csrf_token`` field) equals this session's ``oo_csrf`` cookie and no
    browser header names another site."""
    await check_csrf(request)


CsrfDep = Depends(require_csrf)


def require_admin(user: UserDep) -> User:
    """The person, when they have the admin role; raises ``Forbidden`` (403) otherwise, ``Unauthenticated`` (401)
    without a session."""
    if user.role != Role.admin:
        raise Forbidden(OPERATORS_ONLY)
    return user


AdminDep = Annotated[User, Depends(require_admin)]
