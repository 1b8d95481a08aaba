"""pending deletions: accounts deleted while the trace store did not answer

A row holds the deleted person's bare id until ``oo privacy finish-deletions`` (or the scheduler) has deleted their
MLflow traces. No foreign key to users: the row outlives the person's.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:59:25.036502
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oo_app.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_deletions",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requested_at", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("person_id"),
    )


def downgrade() -> None:
    op.drop_table("pending_deletions")
