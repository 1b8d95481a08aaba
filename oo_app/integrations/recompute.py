"""New task completions reach the tip at once: the person's agents that read tasks compute afresh.

Only agents that speak for the person (:func:`agents.eligibility.eligible_agents`: consents granted, not switched
off, fitting the active context) and that need the ``tasks`` consent are computed. The newest completion's id names
the new data, so the same completions are computed once per agent, never twice (a retried sync writes nothing new).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from agents.eligibility import eligible_agents
from agents.runner import compute_output
from oo_app.models import TaskCompletion, User

log = logging.getLogger(__name__)

TASKS_CONSENT = "tasks"


def recompute_task_agents(session: Session, user: User, now: datetime) -> list[str]:
    """Compute every eligible agent of ``user`` that reads tasks, as of ``now``, committing each output as it is
    written: no write lock is held while the next agent computes (SQLite has one; focus-area embeds and fetches).

    The ids of the agents that wrote an output; an agent that fails is recorded in ``agent_runs`` and left out.
    """
    newest = session.exec(select(func.max(TaskCompletion.id)).where(TaskCompletion.user_id == user.id)).one()
    if newest is None:
        return []
    written = []
    for agent in eligible_agents(session, user.id):
        if TASKS_CONSENT not in agent.manifest.consents:
            continue
        output = compute_output(session, user, agent, now=now, fresh_data=f"tasks{newest}")
        session.commit()
        if output is not None:
            written.append(agent.manifest.id)
    log.info("person #%s: %d agents that read tasks computed after new completions", user.id, len(written))
    return written
