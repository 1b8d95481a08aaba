"""The agents' jobs on the task engine: the scale-out twin of the in-process scheduler, for the worker fleet.

Contract: a job computes one (person, agent) as of the instant ``at`` fixed when it was deferred. Execution is
at-least-once (an error is retried; the jobs of a worker killed mid-run are put back in the queue); the output is
exactly-once, because the runner's ``job_key`` (person, agent version, schedule slot of ``at``) is unique and a job
re-checks eligibility and due-ness before computing. A lock per (person, agent) keeps a pair from running twice at
once and a queueing lock keeps it from waiting twice. Every minute (``OO_JOBS_TICK_CRON``) a periodic job recovers
the jobs of dead workers (:mod:`oo_app.tasks.recovery`), then defers the due pairs. :func:`register` adds both tasks
to the engine's app; :func:`agent_scheduler` is the in-process twin, a lifespan task of the app when no workers run
(both are listed once, in :data:`oo_app.tasks.domains.DOMAINS`). Never import Reflex here: the app defers, workers
compute.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from agents.due_pairs import due_agents
from agents.eligibility import eligible_agents, in_groups
from agents.registry import registry
from agents.runner import compute_output, is_due
from oo_app.clock import as_utc
from oo_app.db import session_scope
from oo_app.erasure import PersonGone, unless_gone
from oo_app.models import User
from oo_app.recommender import refresh_tips
from oo_app.settings import get_settings
from oo_app.tasks.recovery import retry_stalled_jobs
from oo_app.tasks.scheduler import run_forever

if TYPE_CHECKING:
    # procrastinate is imported when the engine builds its app, not by whoever imports this module.
    from procrastinate import App, JobContext

log = logging.getLogger(__name__)

COMPUTE_TASK = "oo.compute_agent_output"
ENQUEUE_TASK = "oo.enqueue_due_and_recover"
ENQUEUE_PRIORITY = 10  # agent jobs have procrastinate's default priority, 0
# Errors that escape the runner are infrastructure (database restarts, lost connections): retried after 2, 4, 8, 16 s.
MAX_ATTEMPTS = 5
EXPONENTIAL_WAIT_S = 2


def pair_lock(user_id: int, agent_id: str) -> str:
    """The lock (and queueing lock) of one (person, agent): at most one such job runs, and one waits."""
    return f"oo:agent:{user_id}:{agent_id}"


def compute_agent_output(user_id: int, agent_id: str, at: str) -> int | None:
    """The job: compute ``agent_id`` for person ``user_id`` as of ``at`` (ISO 8601); the id of the output, or None.

    None means nothing was written: the person is gone (also when deleted while the job ran), the agent no longer
    exists or speaks for them (consent revoked, switched off), the pair is not due at ``at`` (already computed, e.g.
    by a previous attempt of this very job), or the agent failed (recorded in ``agent_runs``, not retried: it would
    fail again on the same history). Any other error propagates, so procrastinate retries the job.
    """
    now = as_utc(at)
    try:
        with session_scope() as session:
            user = session.get(User, user_id)
            agent = registry().get(agent_id)
            if user is None or agent is None:
                log.info("job for person %s and agent %s skipped: one of them no longer exists", user_id, agent_id)
                return None
            if agent_id not in {eligible.manifest.id for eligible in eligible_agents(session, user_id, now)}:
                log.info("job for person %s skipped: agent %s no longer speaks for them", user_id, agent_id)
                return None
            if not is_due(session, user_id, agent, now):
                return None
            with unless_gone(session, user_id):
                output = compute_output(session, user, agent, now=now)
            return None if output is None else output.id
    except PersonGone:
        log.info("job for person %s and agent %s wrote nothing: the person was deleted meanwhile", user_id, agent_id)
        return None


def due_pairs(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Every (person id, agent id) whose agent is eligible for the person and due at ``now``, by person id; a group
    of persons read at once (:func:`agents.due_pairs.due_agents`), as the in-process rounds do."""
    user_ids = session.exec(select(col(User.id)).order_by(col(User.id))).all()
    pairs: list[tuple[int, str]] = []
    for group in in_groups(user_ids):
        due = due_agents(session, group, now)
        pairs += [(user_id, agent.manifest.id) for user_id in group for agent in due[user_id]]
    return pairs


def _defer_due(app: App, now: datetime) -> int:
    """Defer one job per due pair into ``app`` (opened); how many (a pair already waiting or running is skipped)."""
    from procrastinate.exceptions import AlreadyEnqueued

    with session_scope() as session:
        pairs = due_pairs(session, now)
    # A running pair is not deferred again: its twin could not re-queue it if its worker died (see recovery._requeue).
    running = {job.lock for job in app.job_manager.list_jobs(task=COMPUTE_TASK, status="doing")}
    task = app.tasks[COMPUTE_TASK]
    at = now.isoformat()
    deferred = 0
    for user_id, agent_id in pairs:
        lock = pair_lock(user_id, agent_id)
        if lock in running:
            continue
        try:
            task.configure(lock=lock, queueing_lock=lock).defer(user_id=user_id, agent_id=agent_id, at=at)
        except AlreadyEnqueued:
            continue  # a job for this pair is already waiting; it computes the pair
        deferred += 1
    return deferred


def enqueue_due(app: App, now: datetime | None = None) -> int:
    """Defer one job per due (person, eligible agent) pair as of ``now`` (default: now) into the engine's ``app``
    (:func:`oo_app.tasks.engine.get_app`, opened here); how many were deferred.

    A pair whose job already waits or runs is skipped, so calling this again (or every minute) never piles up jobs.
    The caller hands in the app: the engine builds it from the domains, this one among them.
    """
    with app.open() as opened:
        return _defer_due(opened, (now or datetime.now(UTC)).astimezone(UTC))


async def enqueue_due_and_recover(context: JobContext, timestamp: int) -> int:
    """The periodic job: retry the jobs of dead workers, then defer the pairs due at the tick; how many deferred."""
    from asgiref.sync import sync_to_async

    await retry_stalled_jobs(context.app, get_settings().stalled_after_s)
    # The deferral is synchronous (SQLAlchemy); in a thread, its queue writes go back to this worker's event loop.
    return await sync_to_async(_defer_due, thread_sensitive=False)(context.app, datetime.fromtimestamp(timestamp, UTC))


def register(app: App) -> None:
    """Add the agent job and the periodic job (recovery, then deferral; every minute unless ``OO_JOBS_TICK_CRON``
    says otherwise) to the engine's app."""
    from procrastinate import RetryStrategy

    app.task(name=COMPUTE_TASK, retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=EXPONENTIAL_WAIT_S))(
        compute_agent_output
    )
    # The periodic job jumps the queue, or recovery would wait behind the backlog. No lock: if the worker running
    # it dies, the next tick must still run to recover it (overlapping ticks are harmless, see retry_stalled_jobs).
    app.periodic(cron=get_settings().jobs_tick_cron, periodic_id="every-minute")(
        app.task(name=ENQUEUE_TASK, pass_context=True, priority=ENQUEUE_PRIORITY)(enqueue_due_and_recover)
    )


def _refresh(user_ids: set[int]) -> None:
    # One transaction per person: a person's new tip is committed before the next person's waits on its model.
    for user_id in sorted(user_ids):
        with session_scope() as session:
            refresh_tips(session, {user_id})


async def agent_scheduler() -> None:
    """Runs due agents for as long as the app lives, then fresher tips for their persons, every
    OO_SCHEDULER_INTERVAL_S; returns at once when OO_SCHEDULER_ENABLED=0 or workers own the jobs."""
    settings = get_settings()
    if not settings.runs_inprocess_scheduler:
        log.info("in-process agent scheduler is off")
        return
    await run_forever(settings.scheduler_interval_s, _refresh)
