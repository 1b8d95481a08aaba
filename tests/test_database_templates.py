"""The suite's databases are copies of templates made once per session (tests/conftest.py): SQLite files, and
PostgreSQL databases created from a migrated one. A copy must hold exactly what migrating (and seeding) in the test
would write, or tests would pass on data no real run produces.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from oo_app import db
from oo_app.demo import seed_demo
from oo_app.models import User
from tests.conftest import DEMO_EMAIL, NOW

# The only values a seed takes from the wall clock instead of NOW; the copy gets the test's own (restamp_demo_person).
WALL_CLOCK = {("users", "created_at"), ("users", "onboarded_at"), ("consents", "at")}


def clauses(statement: str | None) -> list[str]:
    """The lines of a ``CREATE`` statement, sorted."""
    return sorted(line.strip().rstrip(",") for line in (statement or "").removesuffix("\n)").splitlines())


def dump(url: str) -> dict[str, list[dict[str, object]]]:
    """Every table's rows in rowid order, SQLite's own tables too (the ids never reused), and the schema."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    connection.row_factory = sqlite3.Row
    try:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {
            name: [dict(row) for row in connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid')] for name in names
        }
        # The schema's statements, not where tables lie in the file (rootpage), and each statement's clauses as a set:
        # a batch migration rebuilds a table listing its constraints in set order, which varies with the hash seed.
        schema = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        tables["sqlite_master"] = [{**row, "sql": clauses(row["sql"])} for row in map(dict, schema)]
    finally:
        connection.close()
    return tables


def migrated_here(path: Path, *, seeded: bool = False) -> str:
    """What the fixtures did before the templates: migrate in the test, and seed the demo person; the URL."""
    url = f"sqlite:///{path}"
    db.migrate(url)
    if seeded:
        engine = db.make_engine(url)
        with Session(engine) as session:
            seed_demo(session, DEMO_EMAIL, now=NOW)
            session.commit()
        engine.dispose()
    return url


def test_a_copied_database_is_what_migrating_gives(sqlite_url: str, tmp_path: Path) -> None:
    fresh = migrated_here(tmp_path / "fresh.db")

    assert dump(sqlite_url) == dump(fresh)


@pytest.fixture
def setup_began() -> datetime:
    return datetime.now(UTC)


def at(value: object) -> datetime:
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def test_the_copied_demo_person_is_what_seeding_gives_with_the_tests_wall_clock(
    demo_template: Path, setup_began: datetime, sqlite_url: str, demo_user: User, tmp_path: Path
) -> None:
    fresh = migrated_here(tmp_path / "fresh.db", seeded=True)
    copied, seeded = dump(sqlite_url), dump(fresh)

    assert copied.keys() == seeded.keys()
    assert sum(map(len, seeded.values())) > 500, "the seed should write the demo person's history"
    for table, rows in seeded.items():
        assert len(copied[table]) == len(rows), table
        for copy, seed in zip(copied[table], rows, strict=True):
            stamps = {column for column in seed if (table, column) in WALL_CLOCK}
            assert {k: v for k, v in copy.items() if k not in stamps} == {
                k: v for k, v in seed.items() if k not in stamps
            }, f"a row of {table} differs from the seed's"
            for column in stamps:
                # The template was made before this test began (demo_template comes first); its copy is stamped in
                # the test's setup, as a seed there would be, so before the seed of the test's body.
                assert setup_began <= at(copy[column]) <= at(seed[column]), f"{table}.{column} is not the test's time"
    assert demo_user.id == seeded["users"][0]["id"]


# What a PostgreSQL database is made of, from its catalog: every relation's columns, constraints, indexes, sequences
# (and where they stand), enum types, functions and triggers of the public schema.
POSTGRES_CATALOG = {
    "columns": "SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default, "
    "character_maximum_length, numeric_precision FROM information_schema.columns WHERE table_schema = 'public'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "sequences": "SELECT sequencename, data_type::text, start_value, increment_by, last_value FROM pg_sequences "
    "WHERE schemaname = 'public'",
    "enums": "SELECT t.typname, e.enumsortorder, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid",
    "functions": "SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
}


def postgres_dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The schema of the PostgreSQL database at ``url`` (:data:`POSTGRES_CATALOG`) and every table's rows, sorted."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            dumped = {
                name: sorted(map(tuple, connection.execute(sa.text(query)))) for name, query in POSTGRES_CATALOG.items()
            }
            tables = connection.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            ).scalars()
            for table in list(tables):
                dumped[f"rows of {table}"] = sorted(map(repr, connection.execute(sa.text(f'SELECT * FROM "{table}"'))))
    finally:
        engine.dispose()
    return dumped


@pytest.mark.postgres
def test_a_postgresql_database_copied_from_the_template_is_what_migrating_gives(
    migrated_postgres_url: str, postgres_url: str
) -> None:
    db.migrate(postgres_url)
    copied, migrated = postgres_dump(migrated_postgres_url), postgres_dump(postgres_url)

    assert len(migrated["columns"]) > 100, "the migrations should create oO's tables"
    assert migrated["rows of alembic_version"], "the migrations should stamp their revision"
    assert copied == migrated
