"""Who is asking: the one place that resolves the current person.

Until login exists every request is the demo person's; the login issue replaces :func:`resolve_current_user` only.
"""

from __future__ import annotations

from sqlmodel import Session, select

from oo_app.errors import NotFound
from oo_app.models import User
from oo_app.settings import get_settings


def user_by_email(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no person with the email {email!r}; run `oo seed-demo` or sign up first")
    return user


def resolve_current_user(session: Session, cookies: dict[str, str] | None = None) -> User:
    """The person behind a request (its cookies); for now, always the demo person."""
    del cookies  # read by the login issue's session lookup
    return user_by_email(session, get_settings().demo_email)
