"""How fresh each agent's outputs are against its TTL: per (person, eligible agent) pair and per agent.

Typed rows (dataclasses) from one session, read by the operator hub (which charts them) and by the ``/metrics``
scrape: this module must never import pandas or the hub. Eligibility is the runner's rule (agents.eligibility).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, func, select

from agents.base import Agent
from agents.eligibility import eligible_agents_of, in_groups
from agents.registry import registry
from oo_app.models import AgentOutput, User

FRESHNESS_SLA = 0.95  # target share of eligible persons whose newest output of an agent is younger than its TTL


@dataclass(frozen=True)
class PairFreshness:
    """One person and one agent that may speak for them: the newest output's time and age (None without one) and
    ``reason``, why it is not fresh (``missing``, ``old version``, ``expired``), None when it is."""

    person_id: int
    person: str
    agent: str
    version: str
    ttl_h: float
    computed_at: datetime | None
    age_h: float | None
    reason: str | None


@dataclass(frozen=True)
class AgentFreshness:
    """One registered agent: ``eligible`` persons it may speak for, of whom ``fresh`` have an output of its current
    version younger than its TTL, ``stale`` an older one and ``missing`` none. ``freshness`` is fresh / eligible (1.0
    when nobody is eligible) and ``meets_sla`` compares it with :data:`FRESHNESS_SLA`."""

    agent: str
    version: str
    ttl_h: float
    eligible: int
    fresh: int
    stale: int
    missing: int
    freshness: float
    meets_sla: bool


def pair_freshness(session: Session, now: datetime) -> list[PairFreshness]:
    """One row per (person, eligible agent), by person id then registry order. Reads eligibility a group of persons
    at a time (:func:`agents.eligibility.in_groups`, :func:`agents.eligibility.eligible_agents_of`): a few statements
    a group, not a few a person, on every ``/metrics`` scrape."""
    newest: dict[tuple[int, str], tuple[datetime, str]] = {}
    for user_id, agent_id, version, computed_at in session.exec(
        select(
            AgentOutput.user_id, AgentOutput.agent_id, AgentOutput.agent_version, func.max(AgentOutput.computed_at)
        ).group_by(AgentOutput.user_id, AgentOutput.agent_id, AgentOutput.agent_version)
    ):
        if (user_id, agent_id) not in newest or computed_at > newest[(user_id, agent_id)][0]:
            newest[(user_id, agent_id)] = (computed_at, version)
    rows = []
    persons = session.exec(select(User.id, User.email).order_by(User.id)).all()
    eligible: dict[int, list[Agent]] = {}
    for group in in_groups([user_id for user_id, _ in persons]):
        eligible |= eligible_agents_of(session, group, now)
    for user_id, email in persons:
        for agent in eligible[user_id]:
            manifest = agent.manifest
            computed_at, version = newest.get((user_id, manifest.id), (None, None))
            if computed_at is None:
                reason = "missing"
            elif version != manifest.version:
                reason = "old version"
            elif computed_at + manifest.ttl <= now:
                reason = "expired"
            else:
                reason = None
            rows.append(
                PairFreshness(
                    person_id=user_id,
                    person=email,
                    agent=manifest.id,
                    version=manifest.version,
                    ttl_h=manifest.ttl.total_seconds() / 3600,
                    computed_at=computed_at,
                    age_h=(now - computed_at).total_seconds() / 3600 if computed_at else None,
                    reason=reason,
                )
            )
    return rows


def agent_freshness(session: Session, now: datetime) -> list[AgentFreshness]:
    """One row per registered agent, in registry (id) order; see :class:`AgentFreshness`."""
    pairs = pair_freshness(session, now)
    table = []
    for agent_id, agent in registry().items():
        mine = [pair for pair in pairs if pair.agent == agent_id]
        fresh = sum(pair.reason is None for pair in mine)
        missing = sum(pair.reason == "missing" for pair in mine)
        freshness = fresh / len(mine) if mine else 1.0
        table.append(
            AgentFreshness(
                agent=agent_id,
                version=agent.manifest.version,
                ttl_h=agent.manifest.ttl.total_seconds() / 3600,
                eligible=len(mine),
                fresh=fresh,
                stale=len(mine) - fresh - missing,
                missing=missing,
                freshness=freshness,
                meets_sla=freshness >= FRESHNESS_SLA,
            )
        )
    return table
