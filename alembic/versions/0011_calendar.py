"""calendar: each day's derivative of a person's calendar, and a label on integrations

``calendar_days`` keeps one row per person and local day: busy minutes, meeting count, first and last busy moment.
No title, description, attendee or location is ever stored. ``integrations.label`` is what a person sees of a
connection (a host name), never a secret.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import oo_app.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=128), server_default="", nullable=False)
        )

    op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("busy_minutes", sa.Integer(), nullable=False),
        sa.Column("meetings", sa.Integer(), nullable=False),
        sa.Column("first_busy_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_busy_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "day"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_days_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_days_user_id"))
    op.drop_table("calendar_days")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("label")
