"""learning by context, and how a policy chooses: the context a tip was written in, and a policy's chooser

``tips.context`` names the person's context in effect when the tip was written (null: none, and every older tip), so
the learner can tell what a person takes up at work from what they take up at home. ``policies.chooser`` says how a
policy chooses a tip's lead among the composer's candidates: ``thompson`` (learning on, what every existing policy
did) or ``composer-order`` (learning off), so a candidate that chooses differently can be judged off-policy from the
incumbent's log before it is promoted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chooser", sa.String(length=32), server_default="thompson", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_column("chooser")
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_column("context")
