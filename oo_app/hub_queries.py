"""Queries behind the operator hub: the one module that notebooks, the CLI and the tests share.

Each function takes an engine and returns a dataclass or a pandas DataFrame; SQL stays portable (SQLite and
PostgreSQL) and dates are grouped in pandas. Nothing here selects a token column or a raw third-party field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from oo_app.models import Reaction, Tip, User

REACTIONS = [reaction.value for reaction in Reaction]


@dataclass(frozen=True)
class Overview:
    persons: int
    tips: int
    tips_today: int
    reactions: dict[str, int]

    @property
    def answered(self) -> int:
        return sum(self.reactions.values())

    @property
    def reaction_rate(self) -> float:
        """Share of tips that got any reaction."""
        return self.answered / self.tips if self.tips else 0.0

    @property
    def done_rate(self) -> float:
        return self.reactions.get("done", 0) / self.tips if self.tips else 0.0


def _today_start(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def overview(engine: Engine, now: datetime | None = None) -> Overview:
    """Head counts of the whole deployment (shown tips only; shadow tips are not counted)."""
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
    """One row per UTC day of the last ``days`` (empty days included): tips and each reaction's count."""
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
    frame["reaction"] = frame["reaction"].fillna("none")
    counts = pd.crosstab(frame["date"], frame["reaction"]) if len(frame) else pd.DataFrame()
    index = pd.Index([(start + timedelta(days=i)).date() for i in range(days)], name="date")
    counts = counts.reindex(index=index, columns=[*REACTIONS, "none"], fill_value=0).fillna(0).astype(int)
    counts.insert(0, "tips", counts.sum(axis=1))
    return counts.reset_index()


def recent_tips(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest tips with who got them, what wrote them and how they were answered."""
    with Session(engine) as session:
        rows = session.exec(
            select(Tip, User.email)
            .join(User, col(User.id) == col(Tip.user_id))
            .order_by(col(Tip.created_at).desc(), col(Tip.id).desc())
            .limit(limit)
        ).all()
    return pd.DataFrame(
        [
            {
                "id": tip.id,
                "person": email,
                "text": tip.text,
                "kind": str(tip.kind),
                "agents": ", ".join(tip.agent_ids),
                "model": tip.model,
                "policy": tip.policy,
                "shadow": tip.shadow,
                "created_at": tip.created_at,
                "reaction": tip.reaction or "",
            }
            for tip, email in rows
        ],
        columns=["id", "person", "text", "kind", "agents", "model", "policy", "shadow", "created_at", "reaction"],
    )
