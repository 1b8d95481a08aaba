"""tips written ahead: tips.follows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follows", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tips_follows"), ["follows"], unique=True)
        batch_op.create_foreign_key("fk_tips_follows_tips", "tips", ["follows"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tips_follows_tips", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tips_follows"))
        batch_op.drop_column("follows")
