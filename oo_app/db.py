"""The database engine and sessions: the one owner of the connection to SQLite or PostgreSQL.

Domain code takes a ``sqlmodel.Session``; adapters (routes, Reflex states, CLI, scheduler) open it with
:func:`session_scope`. Schema changes go through Alembic (:func:`migrate`), never ``create_all`` in the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from oo_app.settings import ROOT, get_settings

if TYPE_CHECKING:
    from alembic.config import Config


# How long a SQLite writer waits for the one write lock before "database is locked". The embedded setup has several
# writers in one process (page events, the scheduler's rounds, a Todoist backfill, background agent runs), each holding
# the lock for milliseconds to a few seconds; none holds it across a model or a network call.
SQLITE_BUSY_TIMEOUT_S = 30


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys (cascading deletes), WAL and a busy timeout
    (:data:`SQLITE_BUSY_TIMEOUT_S`).

    Its errors never carry the statement's parameters (``hide_parameters``): they hold emails, tip texts and tokens,
    and errors end up in logs.
    """
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and ":memory:" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True
        )
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so no half-written row survives."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return config


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default: the configured one) to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def pending_migrations(url: str | None = None) -> list[str]:
    """The revisions the database at ``url`` (default: the configured one) still lacks; empty when it is at head."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    engine = make_engine(url or get_settings().database_url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    applied = {rev.revision for head in current for rev in script.iterate_revisions(head, "base")}
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in applied][::-1]


# SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), shutting down (57P01, 57P02),
# starting up (57P03), too many connections (53300).
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database did not answer (down, restarting, a connection cut, the pool exhausted),
    so that the same request may succeed later; False for a bug or a constraint the request broke."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa.exc.PendingRollbackError):
        # "Can't reconnect until invalid transaction is rolled back": the connection died under this transaction
        # earlier (code 8s2b); any other pending rollback is a bug.
        return error.code == "8s2b"
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated:  # the dialect saw the connection die under the statement
        return True
    # psycopg has no SQLSTATE for a server that never answered (refused, unreachable); SQLite errors have none at all.
    sqlstate = getattr(error.orig, "sqlstate", "")
    return isinstance(error, sa.exc.OperationalError) and (
        sqlstate is None or str(sqlstate).startswith(_OUTAGE_SQLSTATES)
    )


def check_database(engine: Engine | None = None) -> None:
    """Raise if the database cannot answer a trivial query."""
    with (engine or get_engine()).connect() as connection:
        connection.execute(sa.text("SELECT 1"))
