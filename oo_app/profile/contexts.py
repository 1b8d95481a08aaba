"""Named contexts ("work", "holiday", ...): a person creates, activates, deactivates and deletes them.

At most one context is active at a time, because the recommender serves "the active context": activating one
deactivates the others, in one transaction. Names are trimmed, single-line, 1-64 characters and unique per person
regardless of case; they are looked up regardless of case. A person has at most ``MAX_CONTEXTS``. Functions here
flush and never commit: the caller's session is the transaction.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.models import Context, User

MAX_NAME = 64
MAX_CONTEXTS = 20

ContextAction = Literal["create", "activate", "deactivate", "delete"]


@dataclass(frozen=True)
class ContextState:
    name: str
    active: bool
    created_at: datetime


def _state(row: Context) -> ContextState:
    return ContextState(name=row.name, active=row.active, created_at=row.created_at)


def context_name(name: str) -> str:
    """``name`` as stored: whitespace trimmed and collapsed; InvalidInput when empty, too long or not one line."""
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidInput("a context name is plain text on one line, without control characters")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("a context needs a name, such as 'work' or 'holiday'")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"a context name has at most {MAX_NAME} characters; {len(cleaned)} given")
    return cleaned


def _rows(session: Session, user_id: int, *, lock: bool = False) -> list[Context]:
    query = select(Context).where(Context.user_id == user_id).order_by(col(Context.created_at), col(Context.id))
    return list(session.exec(query.with_for_update() if lock else query))


def _find(rows: list[Context], name: str) -> Context | None:
    wanted = " ".join(name.split()).casefold()
    return next((row for row in rows if row.name.casefold() == wanted), None)


def _named(rows: list[Context], name: str) -> Context:
    row = _find(rows, name)
    if row is None:
        known = ", ".join(repr(row.name) for row in rows) or "none yet"
        raise NotFound(f"you have no context named {name[:MAX_NAME]!r}; your contexts: {known}")
    return row


def list_contexts(session: Session, user: User) -> list[ContextState]:
    """The person's contexts, oldest first."""
    return [_state(row) for row in _rows(session, user.id)]


def create_context(session: Session, user: User, name: str, *, activate: bool = False) -> ContextState:
    """A new context named ``name`` (inactive unless ``activate``). Conflict when the person already has one of that
    name (any case) or already has ``MAX_CONTEXTS``; InvalidInput for a bad name."""
    cleaned = context_name(name)
    rows = _rows(session, user.id, lock=True)
    if _find(rows, cleaned) is not None:
        raise Conflict(f"you already have a context named {cleaned!r}")
    if len(rows) >= MAX_CONTEXTS:
        raise Conflict(f"you have {MAX_CONTEXTS} contexts, the most oO keeps; delete one first")
    row = Context(user_id=user.id, name=cleaned)
    session.add(row)
    session.flush()
    return activate_context(session, user, cleaned) if activate else _state(row)


def activate_context(session: Session, user: User, name: str) -> ContextState:
    """Make ``name`` the person's one active context (the others become inactive); NotFound for an unknown name."""
    rows = _rows(session, user.id, lock=True)
    chosen = _named(rows, name)
    for row in rows:
        if row.active != (row is chosen):
            row.active = row is chosen
            session.add(row)
    session.flush()
    return _state(chosen)


def deactivate_context(session: Session, user: User, name: str) -> ContextState:
    """Make ``name`` inactive (then no context is active); NotFound for an unknown name."""
    rows = _rows(session, user.id, lock=True)
    row = _named(rows, name)
    if row.active:
        row.active = False
        session.add(row)
        session.flush()
    return _state(row)


def delete_context(session: Session, user: User, name: str) -> None:
    """Delete the context ``name``, active or not; NotFound for an unknown name."""
    row = _named(_rows(session, user.id, lock=True), name)
    session.delete(row)
    session.flush()


def change_context(session: Session, user: User, action: ContextAction, name: str) -> list[ContextState]:
    """Apply one ``action`` to the context ``name``; the person's contexts after it."""
    if action == "create":
        create_context(session, user, name)
    elif action == "activate":
        activate_context(session, user, name)
    elif action == "deactivate":
        deactivate_context(session, user, name)
    elif action == "delete":
        delete_context(session, user, name)
    else:
        raise InvalidInput(f"unknown context action {action!r}; use create, activate, deactivate or delete")
    return list_contexts(session, user)
