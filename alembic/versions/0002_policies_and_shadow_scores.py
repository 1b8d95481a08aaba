"""policies and shadow scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:22:07.228687
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import oo_app.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prompt_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("alias", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("offline_judge_score", sa.Float(), nullable=True),
        sa.Column("offline_pass_rate", sa.Float(), nullable=True),
        sa.Column("offline_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", oo_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", oo_app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("promoted_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index(
            "uq_policies_one_incumbent",
            ["role"],
            unique=True,
            sqlite_where=sa.text("role = 'incumbent'"),
            postgresql_where=sa.text("role = 'incumbent'"),
        )

    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shadow_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("agreement", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("judge_score", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tips_shadow_of"), ["shadow_of"], unique=False)
        batch_op.create_foreign_key("fk_tips_shadow_of_tips", "tips", ["shadow_of"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tips_shadow_of_tips", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tips_shadow_of"))
        batch_op.drop_column("judge_score")
        batch_op.drop_column("agreement")
        batch_op.drop_column("shadow_of")

    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_policies_one_incumbent",
            sqlite_where=sa.text("role = 'incumbent'"),
            postgresql_where=sa.text("role = 'incumbent'"),
        )

    op.drop_table("policies")
