"""Upkeep rounds on the task engines: finishing pending account deletions and applying the retention periods.

In-process (``OO_TASK_ENGINE=inprocess`` with the scheduler on), :func:`housekeeping_scheduler` is a lifespan task of
the app: pending deletions every ten minutes, the retention round once a day. On procrastinate, :func:`register` adds
both as periodic tasks to the engine's app (:mod:`oo_app.tasks.engine`), which the workers run once across the
fleet. Overlapping rounds are harmless: both only delete what is due. Never import Reflex here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from oo_app.db import session_scope
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

FINISH_DELETIONS_TASK = "oo.finish_deletions"
FINISH_DELETIONS_CRON = "*/10 * * * *"
PURGE_TASK = "oo.purge"
PURGE_CRON = "17 3 * * *"  # daily, at a quiet hour (UTC)
ROUND_INTERVAL_S = 600.0
PURGE_INTERVAL_S = 86_400.0


def finish_deletions_round(timestamp: int = 0) -> int:
    """Delete the MLflow traces of the pending deletions (mlflow is imported only when there are some); how many
    deletions finished. ``timestamp``: the tick of a periodic job, unused."""
    from oo_app.profile.deletion import finish_deletions, pending_count

    with session_scope() as session:
        if not pending_count(session):
            return 0
        report = finish_deletions(session)
    if report.pending:
        log.warning("%d account deletions still wait for the trace store: %s", len(report.pending), report.error)
    return len(report.finished)


def purge_round(timestamp: int = 0) -> int:
    """One retention round now, unless ``OO_RETENTION_DAILY`` is off; how many rows and traces went."""
    from oo_app.retention import purge

    if not get_settings().retention_daily:
        log.info("the daily retention round is off (OO_RETENTION_DAILY=false)")
        return 0
    report = purge()
    log.info("retention round: %d deleted %s", report.total, report.counts)
    return report.total


def register(app: App) -> None:
    """Add both rounds to a procrastinate app (the task engine's one) as periodic tasks."""
    app.periodic(cron=FINISH_DELETIONS_CRON, periodic_id="finish-deletions")(
        app.task(name=FINISH_DELETIONS_TASK)(finish_deletions_round)
    )
    app.periodic(cron=PURGE_CRON, periodic_id="purge-daily")(app.task(name=PURGE_TASK)(purge_round))


async def housekeeping_scheduler() -> None:
    """Runs both rounds for as long as the app lives (the first at start), unless the in-process scheduler is off."""
    if not get_settings().runs_inprocess_scheduler:
        log.info("in-process housekeeping is off")
        return
    log.info("housekeeping started (pending deletions every %.0f s, retention daily)", ROUND_INTERVAL_S)
    purged_at: float | None = None
    while True:
        try:
            await asyncio.to_thread(finish_deletions_round)
        except Exception:
            log.exception("finishing the pending deletions failed; retrying next round")
        if purged_at is None or time.monotonic() - purged_at >= PURGE_INTERVAL_S:
            purged_at = time.monotonic()
            try:
                await asyncio.to_thread(purge_round)
            except Exception:
                log.exception("the retention round failed; retrying tomorrow")
        await asyncio.sleep(ROUND_INTERVAL_S)
