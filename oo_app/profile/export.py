"""Everything oO stores about a person, as one JSON document, and the tables that hold it.

The person-owned tables are found by walking ``SQLModel.metadata`` (every table with a ``user_id`` column or a foreign
key to ``users.id``), so a new table cannot escape the export or the deletion check. Secret columns (``*_enc`` tokens,
``*_hash`` session hashes, anything named token/secret/password, and columns whose ``info`` marks them ``secret``, such
as a push subscription's keys) are never exported in any form: a row that holds one says since when instead. Times
are ISO 8601 in UTC. Reading only; nothing here writes.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from oo_app.clock import as_utc
from oo_app.models import User

FORMAT = "oo-export/1"
OWNER_COLUMN = "user_id"
SECRET_SUFFIXES = ("_enc", "_hash", "_token", "_secret", "_password")
SECRET_NAMES = frozenset({"token", "secret", "password", "password_hash"})
NOTES = (
    "Times are ISO 8601 in UTC.",
    "Tokens of connected services and the secrets of your sign-in sessions are stored encrypted or hashed and are "
    "never exported; a row that holds one says since when it exists instead. The same goes for the encryption keys "
    "of your browsers' push subscriptions.",
    "oO never stores raw third-party data (task titles or descriptions; a meeting's title, guests or place), so there "
    "is none to export; of a calendar, only how busy each day was is kept.",
    "The traces of tip generation in oO's MLflow store repeat what the 'tips' table holds; they are deleted with your "
    "account.",
)


def is_secret(column: sa.Column[Any]) -> bool:
    """Whether ``column`` holds token or key material that must never leave the database."""
    name = column.name.lower()
    return bool(column.info.get("secret")) or name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def _withheld_label(columns: list[sa.Column[Any]]) -> str:
    """What the withheld columns are called in the export: their ``info["secret"]`` label, else ``tokens``."""
    labels = {column.info["secret"] for column in columns if isinstance(column.info.get("secret"), str)}
    return labels.pop() if len(labels) == 1 else "tokens"


def owner_column(table: sa.Table) -> sa.Column[Any] | None:
    """The column of ``table`` naming the person who owns a row: ``user_id`` or a foreign key to ``users.id``."""
    if table.name == User.__tablename__:
        return None
    if OWNER_COLUMN in table.c:
        return table.c[OWNER_COLUMN]
    for column in table.c:
        if any(fk.column.table.name == User.__tablename__ for fk in column.foreign_keys):
            return column
    return None


def person_tables(metadata: sa.MetaData | None = None) -> list[tuple[sa.Table, sa.Column[Any]]]:
    """Every person-owned table with its owner column, in dependency order (parents first)."""
    tables = (metadata or SQLModel.metadata).sorted_tables
    return [(table, column) for table in tables if (column := owner_column(table)) is not None]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return None
    return value


def _rows(session: Session, table: sa.Table, where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    public = [column for column in table.c if not is_secret(column)]
    withheld = [column for column in table.c if is_secret(column)]
    label = _withheld_label(withheld)
    order = list(table.primary_key.columns) or public[:1]
    rows = []
    for row in session.exec(sa.select(*table.c).where(where).order_by(*order)).mappings():
        record = {column.name: _json_value(row[column.name]) for column in public}
        if any(row[column.name] is not None for column in withheld):
            since = _json_value(row["created_at"]) if "created_at" in table.c else None
            record[label] = (
                f"connected since {since}; {label} are never exported" if since else f"{label} are never exported"
            )
        rows.append(record)
    return rows


def export_person(session: Session, user: User, now: datetime | None = None) -> dict[str, Any]:
    """One JSON-ready document of everything stored about ``user``: their ``users`` row under ``person`` and, under
    ``tables``, the rows of every person-owned table (each table present, empty or not), oldest id first."""
    users = User.__table__
    person = _rows(session, users, users.c.id == user.id)
    return {
        "format": FORMAT,
        "exported_at": _json_value(now or datetime.now(UTC)),
        "person": person[0] if person else None,
        "tables": {table.name: _rows(session, table, column == user.id) for table, column in person_tables()},
        "notes": list(NOTES),
    }
