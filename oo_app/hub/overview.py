"""Queries of the overview notebook (``admin_notebooks/hub.py``): head counts, tips and errors per day, recent tips.

Shadow tips and tips still waiting to follow another are never counted as shown. Reads only; returns a dataclass or a
pandas DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from oo_app.hub.shared import NO_REACTION, REACTIONS, day_index, hub_session, today_start
from oo_app.hub.tips import TipFilters, tip_log
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.models import ACCEPTING_REACTIONS, AgentRun, Event, Reaction, Tip, User
from oo_app.recommender.orchestrator import is_waiting
from oo_app.settings import get_settings

RECENT_TIP_COLUMNS = ["id", "person", "text", "kind", "agents", "model", "policy", "shadow", "created_at", "reaction"]


@dataclass(frozen=True)
class Overview:
    """Head counts of a deployment at one moment. Tips are shown tips (shadow tips never count); "today" starts at
    UTC midnight; a fallback is a shown tip the rule-based composer wrote although its alias names another model."""

    persons: int
    active_today: int  # persons with an event or a reaction today
    tips: int
    tips_today: int
    reactions: dict[str, int]
    agent_errors_today: int
    fallbacks: int
    fallbacks_today: int

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

    @property
    def acceptance(self) -> float:
        """Share of tips marked done or liked (0 when there is no tip)."""
        return sum(self.reactions.get(kind, 0) for kind in ACCEPTING_REACTIONS) / self.tips if self.tips else 0.0


def composer_aliases(alias_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> set[str]:
    """The aliases whose every deployment is the rule-based composer: a composer tip from one of them is by design."""
    return {
        alias
        for alias, deployments in alias_table.items()
        if deployments and all(deployment.get("model") == COMPOSER_MODEL for deployment in deployments)
    }


def _is_fallback(alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> sa.ColumnElement[bool]:
    by_design = composer_aliases(get_settings().alias_table if alias_table is None else alias_table)
    condition = col(Tip.model) == COMPOSER_MODEL
    return sa.and_(condition, col(Tip.model_alias).not_in(sorted(by_design))) if by_design else condition


# Tips people were given: shadows and tips still waiting to follow another (never shown yet) aside.
_SHOWN = sa.and_(col(Tip.shadow) == sa.false(), sa.not_(is_waiting()))


def overview(
    engine: Engine,
    now: datetime | None = None,
    alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Overview:
    """Head counts of the whole deployment at ``now`` (default: the clock). Fallbacks are judged against
    ``alias_table`` (default: the configured one), so a deployment whose writer is the composer has none."""
    today = today_start(now)
    fallback = _is_fallback(alias_table)

    def count(query: Any) -> int:
        return int(session.exec(query).one())

    with hub_session(engine) as session:
        active = sa.union(
            select(Event.user_id).where(Event.at >= today),
            select(Tip.user_id).where(col(Tip.reacted_at) >= today),
        ).subquery()
        reactions = session.exec(
            select(Tip.reaction, func.count()).where(_SHOWN, col(Tip.reaction).is_not(None)).group_by(Tip.reaction)
        ).all()
        return Overview(
            persons=count(select(func.count()).select_from(User)),
            active_today=count(select(func.count()).select_from(active)),
            tips=count(select(func.count()).select_from(Tip).where(_SHOWN)),
            tips_today=count(select(func.count()).select_from(Tip).where(_SHOWN, Tip.created_at >= today)),
            reactions=dict(reactions),
            agent_errors_today=count(
                select(func.count())
                .select_from(AgentRun)
                .where(AgentRun.status == "error", AgentRun.started_at >= today)
            ),
            fallbacks=count(select(func.count()).select_from(Tip).where(_SHOWN, fallback)),
            fallbacks_today=count(
                select(func.count()).select_from(Tip).where(_SHOWN, fallback, Tip.created_at >= today)
            ),
        )


def tips_per_day(engine: Engine, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """One row per UTC day of the last ``days`` up to ``now``, empty days included, oldest first.

    Columns: ``date``, ``tips`` (shown tips), one count per reaction kind and ``no reaction``; the counts add up to
    ``tips``. Shadow tips are never counted.
    """
    end = today_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    with hub_session(engine) as session:
        rows = session.exec(
            select(Tip.created_at, Tip.reaction).where(_SHOWN, Tip.created_at >= start, Tip.created_at < end)
        ).all()
    frame = pd.DataFrame(rows, columns=["created_at", "reaction"])
    frame["date"] = pd.to_datetime(frame["created_at"], utc=True).dt.date
    frame["reaction"] = frame["reaction"].fillna(NO_REACTION)
    counts = pd.crosstab(frame["date"], frame["reaction"]) if len(frame) else pd.DataFrame()
    counts = counts.reindex(index=day_index(start, days), columns=[*REACTIONS, NO_REACTION], fill_value=0)
    counts = counts.fillna(0).astype(int)
    counts.insert(0, "tips", counts.sum(axis=1))
    return counts.reset_index()


def errors_per_day(
    engine: Engine,
    days: int = 30,
    now: datetime | None = None,
    alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> pd.DataFrame:
    """One row per UTC day of the last ``days`` up to ``now``, oldest first: ``date``, ``agent_errors`` (failed agent
    runs) and ``fallbacks`` (shown tips the composer wrote in place of the alias's model, see :func:`overview`)."""
    end = today_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    with hub_session(engine) as session:
        errors = session.exec(
            select(AgentRun.started_at).where(
                AgentRun.status == "error", AgentRun.started_at >= start, AgentRun.started_at < end
            )
        ).all()
        fallbacks = session.exec(
            select(Tip.created_at).where(
                _SHOWN, _is_fallback(alias_table), Tip.created_at >= start, Tip.created_at < end
            )
        ).all()
    index = day_index(start, days)

    def per_day(moments: Sequence[datetime]) -> pd.Series:
        counts = pd.Series([moment.date() for moment in moments], dtype=object).value_counts()
        return counts.reindex(index, fill_value=0).astype(int)

    return pd.DataFrame({"agent_errors": per_day(errors), "fallbacks": per_day(fallbacks)}, index=index).reset_index()


def recent_tips(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest ``limit`` tips, newest first, shadow ones included and flagged: who got them, what wrote them
    (model, policy, contributing agents) and the reaction ("" when none). Columns: :data:`RECENT_TIP_COLUMNS`."""
    return tip_log(engine, TipFilters(shadow=None), limit)[RECENT_TIP_COLUMNS]
