"""Web push on the task engines: a delivery round (:func:`oo_app.push.delivery.deliver_due`) every minute.

In-process (``OO_TASK_ENGINE=inprocess`` with the scheduler on), :func:`push_scheduler` is a lifespan task of the app.
On procrastinate, :func:`register` adds a periodic task to the engine's app (:mod:`oo_app.tasks.engine`), which the
workers run once a minute across the fleet. Either way a round decides by the clock when it runs, not by the tick
that deferred it, so a late job never sends a late push; and overlapping rounds are harmless, since each slot is
claimed in the database before it is sent. Never import Reflex here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oo_app.errors import OOError
from oo_app.push.delivery import DeliveryReport, deliver_due
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

PUSH_TASK = "oo.deliver_push"
PUSH_CRON = "* * * * *"
PUSH_PERIODIC_ID = "push-every-minute"
PUSH_PRIORITY = 10  # like the agents' periodic job: a round must not wait behind a backlog of agent jobs
ROUND_INTERVAL_S = 60.0


def deliver_round(timestamp: int) -> int:
    """The periodic job: one delivery round now (``timestamp``, the tick, only dates the log); how many were sent."""
    report = deliver_due(now=datetime.now(UTC))
    log.info("push round of tick %s: %d sent", datetime.fromtimestamp(timestamp, UTC).isoformat(), len(report.sent))
    return len(report.sent)


def register(app: App) -> None:
    """Add the periodic push round to a procrastinate app (the task engine's one)."""
    app.periodic(cron=PUSH_CRON, periodic_id=PUSH_PERIODIC_ID)(
        app.task(name=PUSH_TASK, priority=PUSH_PRIORITY)(deliver_round)
    )


def _round() -> DeliveryReport | None:
    try:
        return deliver_due()
    except OOError as error:  # e.g. no VAPID key in production: the message says what to set
        log.error("push round skipped: %s", error)
    return None


async def push_scheduler() -> None:
    """Runs a delivery round every minute for as long as the app lives, unless the in-process scheduler is off."""
    if not get_settings().runs_inprocess_scheduler:
        log.info("in-process push rounds are off")
        return
    log.info("push rounds started (every %.0f s)", ROUND_INTERVAL_S)
    while True:
        try:
            await asyncio.to_thread(_round)
        except Exception:
            log.exception("push round failed; retrying next minute")
        await asyncio.sleep(ROUND_INTERVAL_S)
