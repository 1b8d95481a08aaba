"""New task completions reach the tip at once: the person's agents that read tasks compute afresh.

Only agents that speak for the person (:func:`agents.eligibility.eligible_agents`: consents granted, not switched
off, fitting the active context) and that need the ``tasks`` consent are computed. The newest completion's id names
the new data, so the same completions are computed once per agent, never twice (a retried sync writes nothing new).
:func:`recompute_later` does it on a background thread, for a sync a person waits on (the settings page's "sync
now"): focus-area embeds the titles, and on a cold process the embedder first loads for seconds.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.eligibility import eligible_agents
from agents.runner import compute_output
from oo_app.db import session_scope
from oo_app.erasure import PersonGone, forget_late_work, unless_gone
from oo_app.models import TaskCompletion, User
from oo_app.recommender.background import BackgroundJobs

log = logging.getLogger(__name__)

TASKS_CONSENT = "tasks"

_jobs = BackgroundJobs("task-agents")


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


def recompute_later(engine: Engine, user_id: int, now: datetime) -> Future[None]:
    """:func:`recompute_task_agents` for person ``user_id`` of the database behind ``engine``, on a background thread;
    a failure is logged and left to the next scheduled round, a person deleted meanwhile gets nothing written."""
    return _jobs.submit(_recompute_job, engine, user_id, now)


def drain(timeout: float | None = None) -> bool:
    """Wait for the recomputes submitted so far; True when all finished within ``timeout`` seconds."""
    return _jobs.drain(timeout)


def _recompute_job(engine: Engine, user_id: int, now: datetime) -> None:
    try:
        with session_scope(engine) as session:
            user = session.get(User, user_id)
            if user is None:
                return
            with unless_gone(session, user_id):
                recompute_task_agents(session, user, now)
    except PersonGone:
        log.info("person #%s was deleted before the agents that read tasks ran: nothing written", user_id)
        forget_late_work(engine, user_id)
    except Exception:
        log.exception("the agents that read tasks of person #%s failed; the next scheduled round runs them", user_id)
