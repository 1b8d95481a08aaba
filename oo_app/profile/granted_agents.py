"""A consent granted lets its agents run at once, not at their next schedule.

:func:`run_granted_agents` is the one step "consents granted -> compute the agents they made eligible": in the
caller's transaction, each agent of the person that needs one of the granted keys, is now eligible
(:func:`agents.eligibility.eligible_agents`) and is due (never run, or its outputs went with a revocation) is computed,
with cold-start defaults while there is no history. The first run calls it before writing the first tip;
:func:`change_consents` (the settings page and ``PATCH /api/profile/consents``) records a change with
:func:`~oo_app.profile.consents.set_consents` and, once the caller commits, runs the step on a background thread off
the request, then replaces the person's unanswered tip that predates the new outputs
(:func:`oo_app.recommender.refresh_tips`, as the scheduler does), which an open tip page picks up. A failing
background run is logged and leaves the work to the next scheduled round.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.eligibility import eligible_agents
from agents.runner import compute_output, is_due
from oo_app.db import session_scope
from oo_app.erasure import PersonGone, forget_late_work, unless_gone
from oo_app.integrations.jobs import sync_person
from oo_app.integrations.open_tasks import TASKS_CONSENT
from oo_app.models import AgentOutput, User
from oo_app.profile.consents import ConsentChange, set_consents
from oo_app.recommender import refresh_tips
from oo_app.recommender.background import BackgroundJobs

log = logging.getLogger(__name__)

_jobs = BackgroundJobs("granted-agents")


def run_granted_agents(
    session: Session, user: User, keys: Iterable[str], now: datetime | None = None, *, commit_each: bool = False
) -> list[AgentOutput]:
    """Compute now each of the person's eligible, due agents that need one of the consent ``keys``; the outputs
    written (an agent that fails is logged in ``agent_runs`` and left out). Flushes; with ``commit_each`` (in the
    background) commits after each agent, so no write lock is held while the next one computes (SQLite has one).
    Blocking."""
    now = now or datetime.now(UTC)
    wanted = set(keys)
    written = []
    for agent in eligible_agents(session, user.id):
        if wanted & set(agent.manifest.consents) and is_due(session, user.id, agent, now):
            output = compute_output(session, user, agent, now)
            if commit_each:
                session.commit()
            if output is not None:
                written.append(output)
    return written


def change_consents(
    session: Session, user: User, changes: Mapping[str, bool], now: datetime | None = None
) -> ConsentChange:
    """Grant or revoke consents (:func:`~oo_app.profile.consents.set_consents`, all or nothing); once ``session``
    commits, the agents the grants made eligible run in the background (:func:`run_granted_agents`) and a fresher
    tip follows them. Nothing runs when the transaction rolls back or nothing was granted."""
    change = set_consents(session, user, changes, now)
    granted = sorted(key for key, value in changes.items() if value)
    if granted:
        user_id, engine = user.id, session.get_bind()
        event.listen(session, "after_commit", lambda _session: submit(engine, user_id, granted), once=True)
    return change


def _job(engine: Engine, user_id: int, keys: list[str]) -> None:
    try:
        if TASKS_CONSENT in keys:  # their tasks' history first, so the agents that read it start from it
            sync_person(user_id)
        with session_scope(engine) as session:
            user = session.get(User, user_id)
            if user is None:
                return
            with unless_gone(session, user_id):
                written = run_granted_agents(session, user, keys, commit_each=True)
        log.info("consents %s granted: agents %s ran for person %s", keys, [o.agent_id for o in written], user_id)
        if written:
            with session_scope(engine) as session, unless_gone(session, user_id):
                refresh_tips(session, {user_id})
    except PersonGone:
        log.info("person %s was deleted before their newly granted agents ran: nothing written", user_id)
        forget_late_work(engine, user_id)
    except Exception:
        log.exception("the agents granted %s for person %s failed; the next scheduled round runs them", keys, user_id)


def submit(engine: Engine, user_id: int, keys: list[str]) -> Future[None]:
    """Run the agents consents ``keys`` concern for person ``user_id`` of the database behind ``engine``, then
    refresh their tip, in the background."""
    return _jobs.submit(_job, engine, user_id, keys)


def drain(timeout: float | None = None) -> bool:
    """Wait for the runs submitted so far; True when all finished within ``timeout`` seconds."""
    return _jobs.drain(timeout)
