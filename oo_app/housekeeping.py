"""Upkeep rounds on the agents' engines: finishing pending account deletions.

In-process (``OO_TASK_ENGINE=inprocess`` with the scheduler on), :func:`housekeeping_scheduler` is a lifespan task of
the app: pending deletions every ten minutes. On procrastinate, :func:`register` adds the round as a periodic task to
the agents' app (:func:`agents.jobs._build_app`), which the workers run once across the fleet. Overlapping rounds
are harmless: they only delete what is due. Never import Reflex here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from oo_app.db import session_scope
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

FINISH_DELETIONS_TASK = "oo.finish_deletions"
FINISH_DELETIONS_CRON = "*/10 * * * *"
ROUND_INTERVAL_S = 600.0


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


def register(app: App) -> None:
    """Add the round to a procrastinate app (the agents' one) as a periodic task."""
    app.periodic(cron=FINISH_DELETIONS_CRON, periodic_id="finish-deletions")(
        app.task(name=FINISH_DELETIONS_TASK)(finish_deletions_round)
    )


async def housekeeping_scheduler() -> None:
    """Runs the round for as long as the app lives (the first at start), unless the in-process scheduler is off."""
    if not get_settings().runs_inprocess_scheduler:
        log.info("in-process housekeeping is off")
        return
    log.info("housekeeping started (pending deletions every %.0f s)", ROUND_INTERVAL_S)
    while True:
        try:
            await asyncio.to_thread(finish_deletions_round)
        except Exception:
            log.exception("finishing the pending deletions failed; retrying next round")
        await asyncio.sleep(ROUND_INTERVAL_S)
