"""What every query of the operator hub shares: sessions that never load a token column, UTC day windows, the person
filter and the reaction vocabulary of the charts. Nothing here imports marimo or plotly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, defer
from sqlmodel import Session, col, func

from oo_app.db import session_scope
from oo_app.models import Integration, Reaction, User

REACTIONS = [reaction.value for reaction in Reaction]
NO_REACTION = "no reaction"


def _without_tokens(state: ORMExecuteState) -> None:
    """Defer the token columns of every ORM select of whole integrations: they are never loaded, not even by the
    domain code the hub reuses (``profile_of`` reads integrations as rows)."""
    if state.is_select and any(entity.get("expr") is Integration for entity in state.statement.column_descriptions):
        state.statement = state.statement.options(
            defer(Integration.access_token_enc), defer(Integration.refresh_token_enc)
        )


@contextmanager
def hub_session(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session on ``engine`` that loads no token column; ``write`` commits on success (and rolls back on any
    error) like :func:`oo_app.db.session_scope`."""
    with session_scope(engine) if write else Session(engine) as session:
        sa.event.listen(session, "do_orm_execute", _without_tokens)
        yield session


def today_start(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A filter bound as an aware UTC instant: a date starts at its UTC midnight, an end date includes its day."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            raise ValueError("a filter time needs a time zone; use UTC")
        return value
    return datetime.combine(value + timedelta(days=1 if end else 0), time(), tzinfo=UTC)


def day_index(start: datetime, days: int) -> pd.Index:
    return pd.Index([(start + timedelta(days=i)).date() for i in range(days)], name="date")


def person_condition(person: str | None) -> sa.ColumnElement[bool] | None:
    """A person given as an id (digits) or as part of an email, case-insensitive."""
    if not person or not person.strip():
        return None
    person = person.strip()
    if person.isdigit():
        return col(User.id) == int(person)
    return func.lower(User.email).contains(person.lower(), autoescape=True)
