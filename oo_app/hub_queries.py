"""Queries behind the operator hub: the one module that the notebooks, the CLI and the tests share.

Each function takes an engine and returns a dataclass or a pandas DataFrame; SQL stays portable (SQLite and
PostgreSQL) and dates are grouped in pandas. Columns are named one by one: nothing here selects a token column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from oo_app.models import Reaction, Tip, User

REACTIONS = [reaction.value for reaction in Reaction]
NO_REACTION = "no reaction"
RECENT_TIP_COLUMNS = ["id", "person", "text", "kind", "agents", "model", "policy", "shadow", "created_at", "reaction"]


@dataclass(frozen=True)
class Overview:
    """Head counts of a deployment: persons, shown tips (all time and since UTC midnight), reactions by kind."""

    persons: int
    tips: int
    tips_today: int
    reactions: dict[str, int]

    @property
    def answered(self) -> int:
        """Tips that got any reaction."""
        return sum(self.reactions.values())

    @property
    def reaction_rate(self) -> float:
        """Share of tips that got any reaction (0 when there is no tip)."""
        return self.answered / self.tips if self.tips else 0.0

    @property
    def done_rate(self) -> float:
        """Share of tips the person marked done (0 when there is no tip)."""
        return self.reactions.get(Reaction.done.value, 0) / self.tips if self.tips else 0.0


def _today_start(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def overview(engine: Engine, now: datetime | None = None) -> Overview:
    """Head counts of the whole deployment at ``now`` (default: the clock); shadow tips are never counted."""
    shown = Tip.shadow == False  # noqa: E712
    with Session(engine) as session:
        persons = session.exec(select(func.count()).select_from(User)).one()
        tips = session.exec(select(func.count()).select_from(Tip).where(shown)).one()
        today = session.exec(
            select(func.count()).select_from(Tip).where(shown, Tip.created_at >= _today_start(now))
        ).one()
        reactions = dict(
            session.exec(
                select(Tip.reaction, func.count()).where(shown, col(Tip.reaction).is_not(None)).group_by(Tip.reaction)
            ).all()
        )
    return Overview(persons=persons, tips=tips, tips_today=today, reactions=reactions)


def tips_per_day(engine: Engine, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """One row per UTC day of the last ``days`` up to ``now``, empty days included, oldest first.

    Columns: ``date``, ``tips`` (shown tips), one count per reaction kind and ``no reaction``; the counts add up to
    ``tips``. Shadow tips are never counted.
    """
    end = _today_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    with Session(engine) as session:
        rows = session.exec(
            select(Tip.created_at, Tip.reaction).where(
                Tip.shadow == False,  # noqa: E712
                Tip.created_at >= start,
                Tip.created_at < end,
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["created_at", "reaction"])
    frame["date"] = pd.to_datetime(frame["created_at"], utc=True).dt.date
    frame["reaction"] = frame["reaction"].fillna(NO_REACTION)
    counts = pd.crosstab(frame["date"], frame["reaction"]) if len(frame) else pd.DataFrame()
    index = pd.Index([(start + timedelta(days=i)).date() for i in range(days)], name="date")
    counts = counts.reindex(index=index, columns=[*REACTIONS, NO_REACTION], fill_value=0).fillna(0).astype(int)
    counts.insert(0, "tips", counts.sum(axis=1))
    return counts.reset_index()


def recent_tips(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest ``limit`` tips, newest first, shadow ones included and flagged: who got them, what wrote them
    (model, policy, contributing agents) and the reaction ("" when none). Columns: :data:`RECENT_TIP_COLUMNS`."""
    with Session(engine) as session:
        rows = session.exec(
            select(
                Tip.id,
                User.email,
                Tip.text,
                Tip.kind,
                Tip.sources,
                Tip.model,
                Tip.policy,
                Tip.shadow,
                Tip.created_at,
                Tip.reaction,
            )
            .join(User, col(User.id) == col(Tip.user_id))
            .order_by(col(Tip.created_at).desc(), col(Tip.id).desc())
            .limit(limit)
        ).all()
    return pd.DataFrame(
        [
            (
                tip_id,
                email,
                text,
                str(kind),
                ", ".join(source["agent_id"] for source in sources),
                model,
                policy,
                shadow,
                created_at,
                reaction or "",
            )
            for tip_id, email, text, kind, sources, model, policy, shadow, created_at, reaction in rows
        ],
        columns=RECENT_TIP_COLUMNS,
    )
