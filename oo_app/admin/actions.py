"""What an operator may do to agents from the API: compute one agent for a person now, and infer one agent's parameters
from a posted history. The same domain functions as the scheduler and ``oo agents infer`` (no logic of their own),
each recorded in the audit log in the caller's transaction (:mod:`oo_app.audit`), like the hub's recompute.

Contract: an unknown agent or person is ``NotFound``; an agent the person's consents or settings keep from running is
``Conflict`` (an operator never computes what the person did not allow). Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agents.base import Agent, UserHistory
from agents.eligibility import eligible_agents
from agents.inference import run_inference
from agents.registry import registry
from agents.runner import compute_output
from oo_app import audit
from oo_app.errors import Conflict, NotFound
from oo_app.models import AgentOutput, AgentRun, User


@dataclass(frozen=True)
class Computed:
    """One agent computed for one person: its output, or the error its run left in ``agent_runs``."""

    agent_id: str
    user_id: int
    output: AgentOutput | None
    error: str | None = None


def known_agent(agent_id: str) -> Agent:
    agent = registry().get(agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id!r}; GET /api/agents/registry lists them")
    return agent


def compute_agent(
    session: Session, agent_id: str, user_id: int, *, actor: str, now: datetime | None = None
) -> Computed:
    """Compute agent ``agent_id`` for person ``user_id`` now, as the scheduler does
    (:func:`agents.runner.compute_output`: within one schedule slot, the slot's output stands), and record
    ``agents.recompute`` by ``actor``."""
    agent = known_agent(agent_id)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no person with the id {user_id}")
    if agent_id not in {eligible.manifest.id for eligible in eligible_agents(session, user_id)}:
        consents = ", ".join(agent.manifest.consents) or "none"
        raise Conflict(
            f"agent {agent_id} does not run for person {user_id}: they have not granted its consents ({consents}), "
            "switched it off, or are in a context it does not serve"
        )
    now = now or datetime.now(UTC)
    output = compute_output(session, user, agent, now)
    error = None if output is not None else _last_error(session, user_id, agent_id)
    written = [agent_id] if output is not None else []
    details = {"agents": written, "outputs": len(written), "requested": agent_id}
    audit.record(session, actor, audit.RECOMPUTE_AGENTS, audit.person_target(user_id), details, now=now)
    return Computed(agent_id, user_id, output, error)


def _last_error(session: Session, user_id: int, agent_id: str) -> str | None:
    return session.exec(
        select(AgentRun.error)
        .where(AgentRun.user_id == user_id, AgentRun.agent_id == agent_id)
        .order_by(col(AgentRun.started_at).desc(), col(AgentRun.id).desc())
        .limit(1)
    ).first()


def infer_agent(session: Session, agent_id: str, history: UserHistory, *, actor: str) -> dict[str, dict[str, Any]]:
    """Agent ``agent_id``'s parameters for ``history``, ``{agent_id: {param: value}}`` as ``oo agents infer`` prints
    them, and record ``agents.infer`` by ``actor`` (the history's size only: it is nobody's stored data)."""
    agent = known_agent(agent_id)
    params = run_inference(agent.manifest, history)
    details = {"events": len(history.events), "task_completions": len(history.task_completions)}
    audit.record(session, actor, audit.INFER_AGENT, audit.agent_target(agent_id), details)
    return {agent_id: params}
