"""Stalled-worker recovery: the running jobs of a worker whose heartbeat stopped go back in the queue.

Called first by the every-minute periodic job (:func:`oo_app.tasks.agent_jobs.enqueue_due_and_recover`), so that
execution stays at-least-once when a worker is killed. Overlapping calls are harmless: a job retried or finished by
another is skipped with a warning.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.jobs import Job

log = logging.getLogger(__name__)


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
