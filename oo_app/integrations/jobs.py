"""Todoist's syncs on the task engines: every minute, the integrations whose next attempt has come are synced.

In-process (``OO_TASK_ENGINE=inprocess`` with the scheduler on), :func:`todoist_scheduler` is a lifespan task of the
app. On procrastinate, :func:`register` adds a periodic task that the workers run once a minute across the fleet.
Either way a round syncs at most :data:`ROUND_LIMIT` integrations, each one claimed in the database first
(:func:`oo_app.integrations.schedule.claim`), so overlapping rounds, a "sync now" and a webhook never sync the same
person twice at once; each person's next attempt (interval, or backoff after failures) is honoured. A failure is kept
on the integration and logged, never raised out of a round. Never import Reflex here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import select

from oo_app.db import session_scope
from oo_app.errors import OOError
from oo_app.integrations import schedule, todoist
from oo_app.models import Integration, User
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

SYNC_TASK = "oo.sync_todoist"
SYNC_CRON = "* * * * *"
SYNC_PERIODIC_ID = "todoist-every-minute"
SYNC_PRIORITY = 5  # below the agents' and push's rounds: a sync can wait a minute, a tip at its hour cannot
ROUND_LIMIT = 50
ROUND_INTERVAL_S = 60.0


def sync_claimed(integration_id: int, now: datetime | None = None) -> todoist.SyncReport | None:
    """Sync one integration if it is due and no one else took it; its report, or None (not due, gone, failed)."""
    now = now or datetime.now(UTC)
    with session_scope() as session:
        if not schedule.claim(session, integration_id, now):
            return None
        integration = session.get(Integration, integration_id)
        user = session.get(User, integration.user_id) if integration is not None else None
        if user is None:
            return None
        try:
            return todoist.sync(session, user, now=now)
        except OOError as error:  # kept on the integration by the sync: shown on the settings page
            log.info("todoist sync of person #%s did not go through: %s", user.id, error)
            return None
        except Exception as error:  # the database (SQLite busy, a lost connection): retried after a short backoff
            session.rollback()
            log.warning("todoist sync of person #%s failed (%s); retried soon", user.id, type(error).__name__)
            _retry_soon(integration_id, error, now)
            return None


def _retry_soon(integration_id: int, error: Exception, now: datetime) -> None:
    """Back off instead of holding the lease until it ends: the next round retries within minutes."""
    try:
        with session_scope() as session:
            integration = session.get(Integration, integration_id)
            if integration is not None:
                schedule.record_failure(integration, error, now)
    except Exception:
        log.exception("could not record the failed sync of integration #%s; a later round retries", integration_id)


def sync_due(now: datetime | None = None, limit: int = ROUND_LIMIT) -> int:
    """One round: sync up to ``limit`` integrations whose next attempt has come; how many synced."""
    now = now or datetime.now(UTC)
    with session_scope() as session:
        ids = schedule.due(session, todoist.PROVIDER, now, limit)
    synced = 0
    for integration_id in ids:
        try:
            synced += sync_claimed(integration_id, now) is not None
        except Exception:  # one person's broken sync (a database hiccup) must not starve the others of the round
            log.exception(
                "todoist sync of integration #%s failed; its lease ends and a later round retries", integration_id
            )
    return synced


def sync_person(user_id: int) -> None:
    """Sync a person's Todoist now if it is due (after a connection, a grant of ``tasks``, or a webhook); a
    background task's body: it never raises (a failure is recorded on the integration and retried by the rounds)."""
    try:
        _sync_person(user_id)
    except Exception:
        log.exception("todoist sync of person #%s failed; the next round retries it", user_id)


def _sync_person(user_id: int) -> None:
    with session_scope() as session:
        integration = session.exec(
            select(Integration).where(Integration.user_id == user_id, Integration.provider == todoist.PROVIDER)
        ).first()
        integration_id = integration.id if integration is not None else None
    if integration_id is not None:
        sync_claimed(integration_id)


def sync_round(timestamp: int) -> int:
    """The periodic job: one round now (``timestamp``, the tick, only dates the log); how many synced."""
    synced = sync_due()
    log.info("todoist round of tick %s: %d synced", datetime.fromtimestamp(timestamp, UTC).isoformat(), synced)
    return synced


def register(app: App) -> None:
    """Add the periodic Todoist round to a procrastinate app (the task engine's one)."""
    app.periodic(cron=SYNC_CRON, periodic_id=SYNC_PERIODIC_ID)(
        app.task(name=SYNC_TASK, priority=SYNC_PRIORITY)(sync_round)
    )


async def todoist_scheduler() -> None:
    """Runs a round every minute for as long as the app lives, unless the in-process scheduler is off."""
    if not get_settings().runs_inprocess_scheduler:
        log.info("in-process Todoist syncs are off")
        return
    log.info("Todoist rounds started (every %.0f s)", ROUND_INTERVAL_S)
    while True:
        try:
            await asyncio.to_thread(sync_due)
        except Exception:
            log.exception("Todoist round failed; retrying next minute")
        await asyncio.sleep(ROUND_INTERVAL_S)
