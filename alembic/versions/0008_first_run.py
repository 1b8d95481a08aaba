"""first run: when a person answered (or skipped) the first-run question of the tip page

``users.onboarded_at`` is None for a person who has never answered it. People who already use oO are not new: the
upgrade sets theirs to when their account was made, so none of them meets the first run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oo_app.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("onboarded_at", oo_app.models.UTCDateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE users SET onboarded_at = created_at"))


def downgrade() -> None:
    # SQLite rebuilds the table to drop a column (foreign keys are off during migrations, see alembic/env.py): it
    # must stay AUTOINCREMENT (0006).
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("onboarded_at")
