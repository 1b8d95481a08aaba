"""Migrations on SQLite and PostgreSQL: upgrade -> downgrade -> upgrade, and no drift from the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import oo_app.models  # noqa: F401  (tables on the metadata)
from oo_app.db import alembic_config, make_engine

TABLES = {
    "users",
    "policies",
    "oauth_accounts",
    "sessions",
    "consents",
    "user_preferences",
    "contexts",
    "integrations",
    "task_completions",
    "events",
    "agent_outputs",
    "agent_runs",
    "tips",
    "audit_events",
    "push_subscriptions",
    "push_deliveries",
    "pending_deletions",
    "webhook_deliveries",
    "calendar_days",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return request.getfixturevalue("postgres_url")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    assert _tables(database_url) == TABLES
    command.downgrade(config, "base")
    assert _tables(database_url) == set()
    command.upgrade(config, "head")
    assert _tables(database_url) == TABLES


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models differ from the migrations; run alembic revision --autogenerate: {diff}"


def test_0012_records_how_each_tip_was_chosen_and_downgrades_cleanly(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0011")
    engine = make_engine(database_url)
    try:
        before = {column["name"] for column in sa.inspect(engine).get_columns("tips")}
        assert not {"lead_agent", "candidates", "propensity"} & before
        command.upgrade(config, "0012")
        inspector = sa.inspect(engine)
        columns = {column["name"]: column for column in inspector.get_columns("tips")}
        assert columns["lead_agent"]["nullable"]
        assert columns["propensity"]["nullable"]
        assert not columns["candidates"]["nullable"], "an older tip reads [] candidates, never null"
        assert "ix_tips_lead_agent" in {index["name"] for index in inspector.get_indexes("tips")}
        command.downgrade(config, "0011")
        after = {column["name"] for column in sa.inspect(engine).get_columns("tips")}
        assert after == before
    finally:
        engine.dispose()


def test_0013_keeps_the_policies_learning_on_and_the_old_tips_without_context(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0012")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO policies (name, prompt_version, alias, role, created_at) VALUES (:n, :p, :a, :r, :c)"
                ),
                {"n": "terse-v1", "p": "orchestrator-v7", "a": "tip-generator", "r": "shadow", "c": "2026-12-01"},
            )
        command.upgrade(config, "0013")
        with engine.connect() as connection:
            chooser = connection.execute(sa.text("SELECT chooser FROM policies WHERE name = 'terse-v1'")).scalar_one()
        assert chooser == "thompson", "an existing policy chose by Thompson sampling: it still does"
        assert {c["name"]: c for c in sa.inspect(engine).get_columns("tips")}["context"]["nullable"]
        command.downgrade(config, "0012")
        assert "chooser" not in {column["name"] for column in sa.inspect(engine).get_columns("policies")}
        assert "context" not in {column["name"] for column in sa.inspect(engine).get_columns("tips")}
    finally:
        engine.dispose()
