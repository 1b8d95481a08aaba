"""The in-process agent scheduler: a background task that computes due (person, agent) outputs every interval.

Started by the app (:func:`oo_app.tasks.agent_jobs.agent_scheduler`); ``/health`` reads its :data:`PULSE`.
It runs the blocking runner in a worker thread so the event loop keeps serving pages. After a round that wrote
new outputs for a person, ``on_new_outputs(user_ids)`` lets the app react (e.g. prepare a fresher tip).
A round that fails is logged and the loop goes on; it never takes the app down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.runner import run_due
from oo_app.db import session_scope

log = logging.getLogger(__name__)


def run_round(on_new_outputs: Callable[[set[int]], None] | None = None) -> int:
    """One scheduler round; the number of outputs written."""
    with session_scope() as session:
        written = run_due(session, commit_each=True)
        user_ids = {output.user_id for output in written}
    if written and on_new_outputs is not None:
        on_new_outputs(user_ids)
    return len(written)


@dataclass
class Pulse:
    """What /health reads of this process's scheduler: when it started, when a round last ended and how, when it
    stopped (None while it runs)."""

    interval_s: float | None = None
    started_at: datetime | None = None
    last_round_at: datetime | None = None
    last_round_failed: bool = False
    stopped_at: datetime | None = None


PULSE = Pulse()


async def run_forever(interval_s: float, on_new_outputs: Callable[[set[int]], None] | None = None) -> None:
    """A round every ``interval_s`` until cancelled, each recorded in :data:`PULSE`."""
    log.info("agent scheduler started (every %.0f s)", interval_s)
    PULSE.interval_s, PULSE.started_at, PULSE.stopped_at = interval_s, datetime.now(UTC), None
    PULSE.last_round_at, PULSE.last_round_failed = None, False
    try:
        while True:
            try:
                count = await asyncio.to_thread(run_round, on_new_outputs)
                PULSE.last_round_failed = False
                if count:
                    log.info("agent scheduler wrote %d outputs", count)
            except Exception:
                PULSE.last_round_failed = True
                log.exception("agent scheduler round failed; retrying next interval")
            PULSE.last_round_at = datetime.now(UTC)
            await asyncio.sleep(interval_s)
    finally:
        PULSE.stopped_at = datetime.now(UTC)
