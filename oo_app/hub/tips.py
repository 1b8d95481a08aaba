"""Queries of the tips notebook (``admin_notebooks/tips.py``): the tip log with its filters, and acceptance (done or
liked over shown) by agents, prompt, model and policy. Reads only; the agent filter reads the JSON sources in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.registry import registry
from oo_app.hub.shared import NO_REACTION, REACTIONS, bound, hub_session, person_condition
from oo_app.models import ACCEPTING_REACTIONS, Policy, Tip, User

TIP_LOG_COLUMNS = [
    "id",
    "person_id",
    "person",
    "created_at",
    "text",
    "kind",
    "agents",
    "prompt_version",
    "model",
    "policy",
    "shadow",
    "reaction",
    "reacted_at",
]
ACCEPTANCE_DIMENSIONS = ("agents", "prompt_version", "model", "policy")


@dataclass(frozen=True)
class TipFilters:
    """Which tips to look at; every field narrows, None (or empty) lets everything through.

    ``person`` is an id or part of an email; ``agent`` keeps tips it contributed to; ``reaction`` is a reaction kind
    or :data:`NO_REACTION`; ``start`` and ``end`` are UTC days (both included) or aware instants (end excluded);
    ``shadow`` is False for shown tips, True for shadow tips, None for both.
    """

    person: str | None = None
    agent: str | None = None
    model: str | None = None
    policy: str | None = None
    prompt_version: str | None = None
    reaction: str | None = None
    start: date | datetime | None = None
    end: date | datetime | None = None
    shadow: bool | None = False


def tip_rows(session: Session, filters: TipFilters, limit: int | None = None) -> pd.DataFrame:
    query = (
        select(
            Tip.id,
            Tip.user_id,
            User.email,
            Tip.created_at,
            Tip.text,
            Tip.kind,
            Tip.sources,
            Tip.prompt_version,
            Tip.model,
            Tip.policy,
            Tip.shadow,
            Tip.reaction,
            Tip.reacted_at,
        )
        .join(User, col(User.id) == col(Tip.user_id))
        .order_by(col(Tip.created_at).desc(), col(Tip.id).desc())
    )
    start, end = bound(filters.start, end=False), bound(filters.end, end=True)
    conditions = [
        person_condition(filters.person),
        col(Tip.created_at) >= start if start else None,
        col(Tip.created_at) < end if end else None,
        col(Tip.shadow) == filters.shadow if filters.shadow is not None else None,
        col(Tip.model) == filters.model if filters.model else None,
        col(Tip.policy) == filters.policy if filters.policy else None,
        col(Tip.prompt_version) == filters.prompt_version if filters.prompt_version else None,
    ]
    if filters.reaction == NO_REACTION:
        conditions.append(col(Tip.reaction).is_(None))
    elif filters.reaction:
        conditions.append(col(Tip.reaction) == filters.reaction)
    query = query.where(*[condition for condition in conditions if condition is not None])
    if limit is not None and not filters.agent:  # the agent filter reads the JSON sources, in Python
        query = query.limit(limit)
    rows = []
    for row in session.exec(query):
        agents = sorted({source["agent_id"] for source in row.sources})
        if filters.agent and filters.agent not in agents:
            continue
        rows.append(
            (
                *(row.id, row.user_id, row.email, row.created_at, row.text, str(row.kind), ", ".join(agents)),
                *(row.prompt_version, row.model, row.policy, bool(row.shadow), row.reaction or "", row.reacted_at),
            )
        )
        if len(rows) == limit:
            break
    return pd.DataFrame(rows, columns=TIP_LOG_COLUMNS)


def tip_log(engine: Engine, filters: TipFilters = TipFilters(), limit: int = 200) -> pd.DataFrame:
    """The tips that pass ``filters``, newest first, at most ``limit``: columns :data:`TIP_LOG_COLUMNS`; ``agents``
    are the contributing agents in id order, comma-separated; ``reaction`` is "" when none."""
    with hub_session(engine) as session:
        return tip_rows(session, filters, limit)


def _accepted(frame: pd.DataFrame) -> pd.Series:
    return frame["reaction"].isin([kind.value for kind in ACCEPTING_REACTIONS])


def acceptance(engine: Engine, by: str, filters: TipFilters = TipFilters()) -> pd.DataFrame:
    """Acceptance of shown tips (done or liked, over shown) grouped ``by`` one of :data:`ACCEPTANCE_DIMENSIONS`
    (``agents`` is the set of contributing agents): columns ``by``, ``shown``, ``accepted``, ``acceptance``; most
    shown first. ``filters.shadow`` is ignored: shadow tips are never shown."""
    frame = _shown_tips(engine, by, filters)
    grouped = (
        frame.assign(accepted=_accepted(frame))
        .groupby(by, as_index=False)
        .agg(shown=("id", "count"), accepted=("accepted", "sum"))
    )
    grouped["accepted"] = grouped["accepted"].astype(int)
    grouped["acceptance"] = grouped["accepted"] / grouped["shown"]
    return grouped.sort_values(["shown", by], ascending=[False, True], ignore_index=True)


def acceptance_per_day(engine: Engine, by: str, filters: TipFilters = TipFilters()) -> pd.DataFrame:
    """:func:`acceptance` per UTC day of creation: columns ``date``, ``by``, ``shown``, ``accepted``, ``acceptance``;
    oldest first; a day on which a group had no shown tip has no row."""
    frame = _shown_tips(engine, by, filters)
    frame = frame.assign(accepted=_accepted(frame), date=pd.to_datetime(frame["created_at"], utc=True).dt.date)
    grouped = frame.groupby(["date", by], as_index=False).agg(shown=("id", "count"), accepted=("accepted", "sum"))
    grouped["accepted"] = grouped["accepted"].astype(int)
    grouped["acceptance"] = grouped["accepted"] / grouped["shown"]
    return grouped.sort_values(["date", by], ignore_index=True)


def _shown_tips(engine: Engine, by: str, filters: TipFilters) -> pd.DataFrame:
    if by not in ACCEPTANCE_DIMENSIONS:
        raise ValueError(f"acceptance by {by!r}: choose one of {', '.join(ACCEPTANCE_DIMENSIONS)}")
    with hub_session(engine) as session:
        return tip_rows(session, replace(filters, shadow=False))


@dataclass(frozen=True)
class TipFilterOptions:
    """The values the tip filters can take, for drop-downs: registered agents and what the tip log holds."""

    agents: list[str]
    models: list[str]
    policies: list[str]
    prompt_versions: list[str]
    reactions: list[str] = field(default_factory=lambda: [*REACTIONS, NO_REACTION])


def tip_filter_options(engine: Engine) -> TipFilterOptions:
    def distinct(column: Any) -> list[str]:
        return sorted(value for value in session.exec(select(column).distinct()) if value)

    with hub_session(engine) as session:
        return TipFilterOptions(
            agents=list(registry()),
            models=distinct(Tip.model),
            policies=sorted({*distinct(Tip.policy), *distinct(Policy.name)}),
            prompt_versions=distinct(Tip.prompt_version),
        )
