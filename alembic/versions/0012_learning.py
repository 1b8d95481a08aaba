"""learning from reactions: what each tip was about and how it was chosen

``tips.lead_agent`` names the agent whose facts a tip mainly states (null for a generic tip), ``tips.candidates``
the distinct leads it was chosen among, and ``tips.propensity`` the chance the chosen one was picked, so any policy
can later be evaluated from the log. Older tips keep null, [] and null: nothing is known of how they were chosen.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_agent", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("candidates", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("propensity", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tips_lead_agent"), ["lead_agent"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tips_lead_agent"))
        batch_op.drop_column("propensity")
        batch_op.drop_column("candidates")
        batch_op.drop_column("lead_agent")
