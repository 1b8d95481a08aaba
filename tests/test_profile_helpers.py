"""Helpers shared by the profile, privacy and schemathesis tests (no tests here): persons with real history, an API
client signed in as one of them, rows in every person-owned table built from the metadata, and snapshots of them.

The metadata walk is deliberately independent of :mod:`oo_app.profile.export`: a table the product forgets is still
seeded and checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel

from oo_app.api import api
from oo_app.db import session_scope
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.models import User, UTCDateTime
from tests.auth_helpers import sign_in

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET_MARK = "SECRET-MATERIAL"  # written into every secret-looking column; must never leave the database


def make_person(session: Session, email: str, *, tz: str = "Asia/Tokyo", seed: int = 3) -> User:
    """A person with consents to every agent and 90 days of synthetic history ending at NOW (committed)."""
    user = User(email=email, display_name=email.split("@")[0], tz=tz)
    session.add(user)
    session.flush()
    grant_consents(session, user)
    store_history(session, user, synthetic_history(Habits(tz=tz, preferred_hour=8), days=90, now=NOW, seed=seed))
    session.commit()
    return user


@contextmanager
def signed_in(user: User) -> Iterator[TestClient]:
    """An API client signed in as ``user`` the way a browser is (:func:`tests.auth_helpers.sign_in`): a real session,
    its cookies and the CSRF header."""
    with TestClient(api, raise_server_exceptions=False) as client:
        with session_scope() as db:
            sign_in(client, db, db.get(User, user.id))
        yield client


def tables_with_user_id() -> list[sa.Table]:
    """Every table of the metadata with a ``user_id`` column."""
    return [table for table in SQLModel.metadata.sorted_tables if "user_id" in table.c]


def _is_secret(name: str) -> bool:
    return name.endswith(("_enc", "_hash")) or ("token" in name and not name.endswith("_tokens"))


def _sample(table: sa.Table, column: sa.Column[Any], marker: str) -> Any:
    kind = column.type
    if _is_secret(column.name):
        return f"{SECRET_MARK}-{marker}-{column.name}"
    if isinstance(kind, UTCDateTime):
        return NOW
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance  # sqlmodel's AutoString is a String underneath
    if isinstance(kind, sa.JSON):
        return {"seeded_by": marker}
    if isinstance(kind, sa.Date):
        return NOW.date()
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.5
    if isinstance(kind, sa.String | sa.Text):
        text = f"{marker}-{table.name}-{column.name}"
        return text[: kind.length] if getattr(kind, "length", None) else text
    raise AssertionError(f"no sample value for {table.name}.{column.name} ({kind!r}): teach _sample about it")


def seed_every_person_table(session: Session, user_id: int, marker: str) -> set[str]:
    """One row for ``user_id`` in every table with a ``user_id`` column, built from the column types; the tables."""
    seeded = set()
    for table in tables_with_user_id():
        values: dict[str, Any] = {}
        for column in table.c:
            if column.name == "user_id":
                values[column.name] = user_id
            elif column.primary_key and isinstance(column.type, sa.Integer):
                continue  # autoincrement
            elif column.foreign_keys:
                assert column.nullable, f"{table.name}.{column.name}: a required foreign key needs a seed rule here"
                values[column.name] = None
            else:
                values[column.name] = _sample(table, column, marker)
        session.exec(table.insert().values(values))
        seeded.add(table.name)
    session.commit()
    return seeded


def owned_rows(session: Session, user_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``user_id``, by table (``users`` included), ordered: a snapshot to compare before and after.

    Commits first, so the read sees what other sessions (the API's) committed.
    """
    session.commit()
    snapshot = {}
    users = User.__table__
    snapshot["users"] = [tuple(row) for row in session.exec(sa.select(users).where(users.c.id == user_id))]
    for table in tables_with_user_id():
        order = list(table.primary_key.columns)
        query = sa.select(table).where(table.c.user_id == user_id).order_by(*order)
        snapshot[table.name] = [tuple(row) for row in session.exec(query)]
    return snapshot
