"""When an agent's output is due again for a person: the rule, and which of a round's (person, agent) pairs are due.

One rule for the single computations (:func:`agents.runner.is_due`: a tip, a recompute) and the scheduler's rounds
(:func:`due_agents`: a whole group in a few statements, the same answer as asking person by person). Reads only;
never writes an output.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import Agent, AgentManifest
from agents.eligibility import eligible_agents_of
from oo_app.models import AgentOutput

# A pair's latest output: the last computed, of two computed at one moment the last written.
NEWEST_FIRST = (col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())


class Stamps(NamedTuple):
    """What the rule reads of an output (an :class:`AgentOutput` has the same attributes)."""

    agent_version: str
    computed_at: datetime
    expires_at: datetime


def is_stale(latest: AgentOutput | Stamps | None, manifest: AgentManifest, now: datetime) -> bool:
    """Whether the agent of ``manifest`` is due at ``now`` for a person whose latest output of it is ``latest``: none
    yet, another version's, expired, or computed a whole schedule ago."""
    return (
        latest is None
        or latest.agent_version != manifest.version
        or latest.expires_at <= now
        or latest.computed_at + manifest.schedule <= now
    )


# Each pair's outputs numbered newest first (a window function: SQLite and PostgreSQL alike), only the stamps read.
_RANKED = (
    select(
        AgentOutput.user_id,
        AgentOutput.agent_id,
        AgentOutput.agent_version,
        AgentOutput.computed_at,
        AgentOutput.expires_at,
        sa.func.row_number()
        .over(partition_by=(AgentOutput.user_id, AgentOutput.agent_id), order_by=NEWEST_FIRST)
        .label("newest"),
    )
    .where(
        col(AgentOutput.user_id).in_(sa.bindparam("user_ids", expanding=True)),
        col(AgentOutput.agent_id).in_(sa.bindparam("agent_ids", expanding=True)),
        col(AgentOutput.computed_at) > sa.bindparam("since"),
    )
    .subquery()
)
_LATEST = select(
    _RANKED.c.user_id, _RANKED.c.agent_id, _RANKED.c.agent_version, _RANKED.c.computed_at, _RANKED.c.expires_at
).where(_RANKED.c.newest == 1)


def latest_stamps(
    session: Session, user_ids: Collection[int], agent_ids: Collection[str], since: datetime
) -> dict[tuple[int, str], Stamps]:
    """The stamps of each (person of ``user_ids``, agent of ``agent_ids``) pair's latest output, by (person id, agent
    id), for the pairs whose latest output was computed after ``since``; in one statement."""
    if not user_ids or not agent_ids:
        return {}
    bound = {"user_ids": list(user_ids), "agent_ids": list(agent_ids), "since": since}
    return {
        (user_id, agent_id): Stamps(version, computed_at, expires_at)
        for user_id, agent_id, version, computed_at, expires_at in session.exec(_LATEST, params=bound)
    }


def due_agents(session: Session, user_ids: Sequence[int], now: datetime) -> dict[int, list[Agent]]:
    """Each person's eligible agents that are due at ``now``, by person id: for each, what
    :func:`agents.eligibility.eligible_agents` and :func:`agents.runner.is_due` answer, read for all of them at once
    (:func:`agents.eligibility.eligible_agents_of`, then :func:`latest_stamps`)."""
    eligible = eligible_agents_of(session, user_ids, now)
    agents = {agent.manifest.id: agent for found in eligible.values() for agent in found}
    if not agents:
        return eligible
    # Only the outputs of the longest schedule are read, not all a person keeps (30 days past their expiry): a pair
    # whose latest output is older is due by the rule's last clause, and then none of its outputs is found, which is
    # due as well. A pair with one found has its latest among them: it was computed later still.
    since = now - max(agent.manifest.schedule for agent in agents.values())
    latest = latest_stamps(session, user_ids, agents, since)
    return {
        user_id: [agent for agent in found if is_stale(latest.get((user_id, agent.manifest.id)), agent.manifest, now)]
        for user_id, found in eligible.items()
    }
