"""Agent jobs on procrastinate (PostgreSQL): the scale-out twin of the in-process scheduler, for the worker fleet.

Contract: a job computes one (person, agent) as of the instant ``at`` fixed when it was deferred. Execution is
at-least-once (an error is retried; the jobs of a worker killed mid-run are put back in the queue); the output is
exactly-once, because the runner's ``job_key`` (person, agent version, schedule slot of ``at``) is unique and a job
re-checks eligibility and due-ness before computing. A lock per (person, agent) keeps a pair from running twice at
once and a queueing lock keeps it from waiting twice. Never import Reflex here: the app defers, workers compute.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.eligibility import eligible_agents
from agents.registry import registry
from agents.runner import compute_output, is_due
from oo_app.bootstrap import bootstrap
from oo_app.clock import as_utc
from oo_app.db import session_scope
from oo_app.erasure import PersonGone, unless_gone
from oo_app.models import User
from oo_app.settings import get_settings

if TYPE_CHECKING:
    # procrastinate is imported on first use: the registry imports every module of this package, app included.
    from procrastinate import App, JobContext
    from procrastinate.jobs import Job

log = logging.getLogger(__name__)

COMPUTE_TASK = "oo.compute_agent_output"
ENQUEUE_TASK = "oo.enqueue_due_and_recover"
ENQUEUE_CRON = "* * * * *"
ENQUEUE_PRIORITY = 10  # agent jobs have procrastinate's default priority, 0
# Errors that escape the runner are infrastructure (database restarts, lost connections): retried after 2, 4, 8, 16 s.
MAX_ATTEMPTS = 5
EXPONENTIAL_WAIT_S = 2


class JobQueueUnavailable(RuntimeError):
    """The job queue has no PostgreSQL database, or its tables are missing."""


def pair_lock(user_id: int, agent_id: str) -> str:
    """The lock (and queueing lock) of one (person, agent): at most one such job runs, and one waits."""
    return f"oo:agent:{user_id}:{agent_id}"


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


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
            if agent_id not in {eligible.manifest.id for eligible in eligible_agents(session, user_id)}:
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
    """Every (person id, agent id) whose agent is eligible for the person and due at ``now``."""
    return [
        (user_id, agent.manifest.id)
        for user_id in session.exec(select(col(User.id)).order_by(col(User.id))).all()
        for agent in eligible_agents(session, user_id)
        if is_due(session, user_id, agent, now)
    ]


def _defer_due(app: App, now: datetime) -> int:
    """Defer one job per due pair into ``app`` (opened); how many (a pair already waiting or running is skipped)."""
    from procrastinate.exceptions import AlreadyEnqueued

    with session_scope() as session:
        pairs = due_pairs(session, now)
    # A running pair is not deferred again: its twin could not re-queue it if its worker died (see _requeue).
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


def enqueue_due(now: datetime | None = None) -> int:
    """Defer one job per due (person, eligible agent) pair as of ``now`` (default: now); how many were deferred.

    A pair whose job already waits or runs is skipped, so calling this again (or every minute) never piles up jobs.
    """
    with get_app().open() as app:
        return _defer_due(app, (now or datetime.now(UTC)).astimezone(UTC))


async def _requeue(app: App, job: Job) -> bool:
    """Put one stalled job back in the queue; False when it ended instead, or left ``doing`` meanwhile."""
    from procrastinate.exceptions import ConnectorException, UniqueViolation
    from procrastinate.jobs import Status

    try:
        await app.job_manager.retry_job(job)
        return True
    except UniqueViolation:
        # A twin (same queueing lock) was deferred while this job ran, so it cannot wait again; left `doing`, it
        # would hold the pair's lock forever. The twin computes the pair; this job ends.
        await app.job_manager.finish_job(job, status=Status.ABORTED, delete_job=False)
        log.warning("stalled job %s ended: a job for the same pair waits in the queue", job.id)
    except ConnectorException as error:
        # A race: a late worker finished the job, or an overlapping tick retried it first.
        log.warning("stalled job %s was not retried: %s", job.id, error.__cause__ or error)
    return False


async def retry_stalled_jobs(app: App, stalled_after_s: float) -> int:
    """Put back in the queue the running jobs of workers silent for ``stalled_after_s`` (killed, frozen); how many.

    A stalled job whose pair already has a job waiting ends (``aborted``) instead: the waiting job computes the pair.
    """
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
        retried += await _requeue(app, job)
    if retried:
        log.warning("retried %d jobs of stalled workers", retried)
    return retried


async def enqueue_due_and_recover(context: JobContext, timestamp: int) -> int:
    """The periodic job: retry the jobs of dead workers, then defer the pairs due at the tick; how many deferred."""
    from asgiref.sync import sync_to_async

    await retry_stalled_jobs(context.app, get_settings().stalled_after_s)
    # The deferral is synchronous (SQLAlchemy); in a thread, its queue writes go back to this worker's event loop.
    return await sync_to_async(_defer_due, thread_sensitive=False)(context.app, datetime.fromtimestamp(timestamp, UTC))


@lru_cache
def _build_app(queue_conninfo: str, max_connections: int) -> App:
    from procrastinate import App, PsycopgConnector, RetryStrategy

    app = App(connector=PsycopgConnector(conninfo=queue_conninfo, min_size=1, max_size=max_connections))
    app.task(name=COMPUTE_TASK, retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=EXPONENTIAL_WAIT_S))(
        compute_agent_output
    )
    # The periodic job jumps the queue, or recovery would wait behind the backlog. No lock: if the worker running
    # it dies, the next tick must still run to recover it (overlapping ticks are harmless, see retry_stalled_jobs).
    app.periodic(cron=ENQUEUE_CRON, periodic_id="every-minute")(
        app.task(name=ENQUEUE_TASK, pass_context=True, priority=ENQUEUE_PRIORITY)(enqueue_due_and_recover)
    )
    from oo_app.push.jobs import register as register_push  # the workers also run the web push rounds

    register_push(app)
    from oo_app.housekeeping import register as register_housekeeping  # pending deletions, daily retention

    register_housekeeping(app)
    return app


def get_app() -> App:
    """The procrastinate app of the configured queue database (one per database, built at first use, not opened)."""
    settings = get_settings()
    url = settings.queue_database_url
    if url is None or not url.startswith("postgresql"):
        raise JobQueueUnavailable(
            "agent jobs need PostgreSQL: set OO_JOBS_DATABASE_URL (or OO_DATABASE_URL) to a postgresql:// URL"
        )
    # The worker's pool: one listening connection, one fetching, and one per running job to record its end.
    return _build_app(conninfo(url), settings.worker_concurrency + 2)


def apply_schema() -> bool:
    """Create procrastinate's tables in the queue database unless they exist (idempotent); True when created.

    Run it once per deployment (with the migrations), not from every worker: two first runs at once would race.
    """
    with get_app().open() as app:
        if app.check_connection():
            return False
        app.schema_manager.apply_schema()
        return True


def run_worker(concurrency: int | None = None) -> None:
    """Run one worker until SIGINT or SIGTERM, ``concurrency`` jobs at once (default: OO_WORKER_CONCURRENCY).

    Besides agent jobs, the workers run the periodic job (every minute, once across the fleet) that defers due pairs
    and retries the jobs of workers whose heartbeat stopped. Raises :class:`JobQueueUnavailable` before
    :func:`apply_schema` has run.
    """
    bootstrap()
    settings = get_settings()
    app = get_app()
    with app.open():
        if not app.check_connection():
            raise JobQueueUnavailable("the job queue has no tables yet: apply procrastinate's schema first")
    if settings.runs_inprocess_scheduler:
        log.warning("OO_TASK_ENGINE is not procrastinate: the app's in-process scheduler computes agents too")
    app.run_worker(
        concurrency=concurrency or settings.worker_concurrency,
        name=f"oo-worker@{socket.gethostname()}:{os.getpid()}",
        # Several heartbeats per stall window, so that a live worker never looks dead.
        update_heartbeat_interval=settings.stalled_after_s / 4,
        stalled_worker_timeout=settings.stalled_after_s,
    )
