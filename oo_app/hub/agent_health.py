"""Queries of the agent health notebook (``admin_notebooks/agent_health.py``): freshness against TTL and SLA (the rows
of :mod:`agents.freshness` as DataFrames), stale pairs, runs and their durations and errors. Reads only.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from agents import freshness
from agents.freshness import FRESHNESS_SLA as FRESHNESS_SLA  # the agent health notebook's line
from agents.registry import registry
from oo_app.hub.shared import hub_session
from oo_app.models import AgentRun

FRESHNESS_COLUMNS = ["agent", "version", "ttl_h", "eligible", "fresh", "stale", "missing", "freshness", "meets_sla"]
STALE_COLUMNS = ["person_id", "person", "agent", "reason", "computed_at", "age_h", "ttl_h"]
RUN_COLUMNS = ["started_at", "agent", "person_id", "status", "duration_ms", "error"]
RUN_STAT_COLUMNS = ["agent", "runs", "errors", "error_rate", "p50_ms", "p95_ms", "max_ms", "last_error"]


def agent_freshness(engine: Engine, now: datetime | None = None) -> pd.DataFrame:
    """One row per registered agent (id order): columns :data:`FRESHNESS_COLUMNS`, the fields of
    :class:`agents.freshness.AgentFreshness`. Reads eligibility a group of persons at a time."""
    now = now or datetime.now(UTC)
    with hub_session(engine) as session:
        rows = freshness.agent_freshness(session, now)
    return pd.DataFrame([asdict(row) for row in rows], columns=FRESHNESS_COLUMNS)


def stale_outputs(engine: Engine, now: datetime | None = None) -> pd.DataFrame:
    """The (person, eligible agent) pairs without a fresh output, by agent then person: columns
    :data:`STALE_COLUMNS`; ``reason`` is ``missing``, ``old version`` or ``expired`` (older than the TTL)."""
    now = now or datetime.now(UTC)
    with hub_session(engine) as session:
        rows = [asdict(pair) for pair in freshness.pair_freshness(session, now) if pair.reason is not None]
    frame = pd.DataFrame(rows, columns=STALE_COLUMNS)
    frame["age_h"] = frame["age_h"].astype(float)  # NaN where no output exists
    return frame.sort_values(["agent", "person_id"], ignore_index=True)


def agent_runs(
    engine: Engine, days: int = 7, now: datetime | None = None, status: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Agent runs started in the ``days`` before ``now``, newest first (optionally only one ``status``: ok, error,
    skipped): columns :data:`RUN_COLUMNS`. ``error`` is the exception's type and message, never a traceback."""
    now = now or datetime.now(UTC)
    query = (
        select(
            AgentRun.started_at,
            AgentRun.agent_id,
            AgentRun.user_id,
            AgentRun.status,
            AgentRun.duration_ms,
            AgentRun.error,
        )
        .where(AgentRun.started_at >= now - timedelta(days=days), AgentRun.started_at <= now)
        .order_by(col(AgentRun.started_at).desc(), col(AgentRun.id).desc())
    )
    if status is not None:
        query = query.where(AgentRun.status == status)
    if limit is not None:
        query = query.limit(limit)
    with hub_session(engine) as session:
        rows = session.exec(query).all()
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def agent_run_stats(engine: Engine, days: int = 7, now: datetime | None = None) -> pd.DataFrame:
    """One row per registered agent over the runs of the last ``days``: columns :data:`RUN_STAT_COLUMNS`. Durations
    are in milliseconds (percentiles interpolated linearly, None without runs); ``last_error`` is the newest error."""
    runs = agent_runs(engine, days=days, now=now)
    table = []
    for agent_id in registry():
        mine = runs[runs["agent"] == agent_id]
        errors = mine[mine["status"] == "error"]
        durations = mine["duration_ms"].astype(float)
        table.append(
            (
                agent_id,
                len(mine),
                len(errors),
                len(errors) / len(mine) if len(mine) else 0.0,
                float(durations.quantile(0.5)) if len(mine) else None,
                float(durations.quantile(0.95)) if len(mine) else None,
                float(durations.max()) if len(mine) else None,
                errors["error"].iloc[0] if len(errors) else None,
            )
        )
    return pd.DataFrame(table, columns=RUN_STAT_COLUMNS)
