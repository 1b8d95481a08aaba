"""ids never reused: SQLite tables with integer ids become AUTOINCREMENT

SQLite hands the largest id of deleted rows to the next row unless a table is AUTOINCREMENT, so a person deleted
today could lend their id, or their tips' ids, to someone new. SQLite cannot alter that in place: each table is
rebuilt (batch mode, rows copied with their ids). PostgreSQL's sequences never go back: nothing to do there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table with an integer id at this revision (policies are keyed by name).
TABLES = (
    "users",
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
)


def _rebuild(autoincrement: bool) -> None:
    # alembic/env.py turns SQLite's foreign keys off for migrations: dropping the old `users` would cascade otherwise.
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass  # recreating the table is the whole change


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
