"""web push: subscriptions, the delivery log and snoozed tips

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 08:49:22.312756
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import oo_app.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("p256dh", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("auth", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscriptions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "push_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=True),
        sa.Column("snoozed_tip_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_to", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["snoozed_tip_id"], ["tips.id"], name="fk_push_deliveries_snoozed_tip_id_tips", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tips.id"], name="fk_push_deliveries_tip_id_tips", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        # The claim: one row per (person, delivery moment), so two workers never send the same slot.
        sa.UniqueConstraint("user_id", "slot", name="uq_push_deliveries_user_slot"),
    )
    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_deliveries_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snoozed_until", oo_app.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_column("snoozed_until")

    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_deliveries_user_id"))
    op.drop_table("push_deliveries")

    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscriptions_user_id"))
    op.drop_table("push_subscriptions")
