"""context schedules: a context's kind, its weekly schedules and when the person last switched by hand

``kind`` (work|home|rest|any, or NULL: from the name), ``schedules`` (JSON weekly slots on the person's clock) and
``switched_at`` (the last switch by hand, the same on all the person's rows) let a context take effect on a schedule
while a switch by hand holds until the next schedule boundary. Existing contexts get no kind, no schedule and no switch
time: the context they have active stays in effect.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import oo_app.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contexts") as batch:
        batch.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column("schedules", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("switched_at", oo_app.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contexts") as batch:
        batch.drop_column("switched_at")
        batch.drop_column("schedules")
        batch.drop_column("kind")
