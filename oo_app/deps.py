"""FastAPI dependencies shared by every router: a database session per request and the person behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from oo_app.db import session_scope
from oo_app.models import User
from oo_app.users import resolve_current_user


def db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


def current_user(request: Request, session: Annotated[Session, Depends(db_session)]) -> User:
    return resolve_current_user(session, dict(request.cookies))


SessionDep = Annotated[Session, Depends(db_session)]
UserDep = Annotated[User, Depends(current_user)]


def require_csrf(request: Request) -> None:
    """Guards a cookie-authenticated write against cross-site requests (implemented with login)."""
    del request


CsrfDep = Depends(require_csrf)
