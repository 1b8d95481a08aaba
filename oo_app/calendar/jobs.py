"""Calendar syncs on the task engines (in-process scheduler and procrastinate workers): every minute, the calendars
whose next attempt has come are synced.

A round takes every calendar that is due, of persons who grant ``calendar``, longest waiting first, up to
``calendar_round_max``, and reads ``calendar_round_threads`` of them at once; it starts no sync after
:data:`ROUND_BUDGET_S`, so a round ends within its minute and the next one takes the rest. Each calendar is claimed in
the database first (:func:`oo_app.integrations.schedule.claim`), so overlapping rounds and a "sync now" never read the
same calendar twice at once, and each is read at most once per ``calendar_sync_interval_s`` (failures back off). A
failure is kept on the integration and logged, never raised out of a round. Never import Reflex here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import col, or_, select

from agents.busy import CALENDAR_CONSENT
from oo_app.calendar import sync
from oo_app.calendar.sources import KINDS
from oo_app.db import session_scope
from oo_app.errors import OOError
from oo_app.integrations import schedule
from oo_app.integrations.oauth import CONNECTED
from oo_app.models import Consent, Integration, User
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

SYNC_TASK = "oo.sync_calendars"
SYNC_CRON = "* * * * *"
SYNC_PERIODIC_ID = "calendars-every-minute"
SYNC_PRIORITY = 5  # like Todoist's: a sync can wait a minute, a tip at its hour cannot
ROUND_INTERVAL_S = 60.0
ROUND_BUDGET_S = 50.0  # no sync starts later in a round: it ends before the next minute's round begins


def due(now: datetime, limit: int | None = None) -> list[int]:
    """Ids of up to ``limit`` (``calendar_round_max``) connected calendars whose next attempt has come and whose
    person grants ``calendar``, longest waiting first."""
    limit = get_settings().calendar_round_max if limit is None else limit
    with session_scope() as session:
        rows = session.exec(
            select(Integration.id)
            .join(Consent, (Consent.user_id == Integration.user_id) & (Consent.key == CALENDAR_CONSENT))
            .where(
                col(Integration.provider).in_(KINDS),
                Integration.status == CONNECTED,
                col(Integration.access_token_enc).is_not(None),
                Consent.granted == True,  # noqa: E712 - SQL
                or_(col(Integration.next_attempt_at).is_(None), col(Integration.next_attempt_at) <= now),
            )
            .order_by(
                col(Integration.next_attempt_at).is_not(None), col(Integration.next_attempt_at), col(Integration.id)
            )
            .limit(limit)
        ).all()
    return [row for row in rows if row is not None]


def sync_claimed(integration_id: int, now: datetime | None = None) -> sync.CalendarSyncReport | None:
    """Sync one calendar if it is due and no one else took it; its report, or None (not due, gone, failed)."""
    now = now or datetime.now(UTC)
    with session_scope() as session:
        if not schedule.claim(session, integration_id, now):
            return None
        integration = session.get(Integration, integration_id)
        user = session.get(User, integration.user_id) if integration is not None else None
        if integration is None or user is None:
            return None
        kind = integration.provider
        try:
            return sync.sync(session, user, kind, now=now)
        except OOError as error:  # kept on the integration by the sync: shown on the settings page
            log.info("calendar sync of person #%s (%s) did not go through: %s", user.id, kind, error)
            return None
        except Exception as error:  # the database, or a source that broke its contract: retried after a backoff
            session.rollback()
            log.warning("calendar sync of person #%s failed (%s); retried soon", user.id, type(error).__name__)
            _retry_soon(integration_id, error, now)
            return None


def _retry_soon(integration_id: int, error: Exception, now: datetime) -> None:
    try:
        with session_scope() as session:
            integration = session.get(Integration, integration_id)
            if integration is not None:
                schedule.record_failure(integration, error, now)
    except Exception:
        log.exception("could not record the failed sync of calendar #%s; a later round retries", integration_id)


def sync_due(
    now: datetime | None = None,
    limit: int | None = None,
    threads: int | None = None,
    budget_s: float = ROUND_BUDGET_S,
) -> int:
    """One round: sync every calendar whose next attempt has come, at most ``limit`` (``calendar_round_max``),
    ``threads`` at once (``calendar_round_threads``), none started after ``budget_s``; how many synced."""
    now = now or datetime.now(UTC)
    threads = get_settings().calendar_round_threads if threads is None else threads
    ids = due(now, limit)
    deadline = time.monotonic() + budget_s

    def sync_one(integration_id: int) -> bool:
        if time.monotonic() > deadline:
            return False  # not claimed: still due, the next round takes it first
        try:
            return sync_claimed(integration_id, now) is not None
        except Exception:  # one person's broken sync must not starve the others of the round
            log.exception(
                "calendar sync of integration #%s failed; its lease ends and a later round retries", integration_id
            )
            return False

    if threads <= 1 or len(ids) <= 1:
        synced = sum(sync_one(integration_id) for integration_id in ids)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(ids)), thread_name_prefix="oo-calendar-round") as pool:
            synced = sum(pool.map(sync_one, ids))
    if len(ids) - synced:
        log.info("calendar round: %d of %d due calendars synced", synced, len(ids))
    return synced


def sync_person(user_id: int) -> None:
    """Sync each of a person's calendars now if it is due (after a connection, or a grant of ``calendar``); a
    background task's body: it never raises (a failure is kept on the integration and retried by the rounds)."""
    try:
        with session_scope() as session:
            ids = session.exec(
                select(Integration.id).where(Integration.user_id == user_id, col(Integration.provider).in_(KINDS))
            ).all()
        for integration_id in ids:
            if integration_id is not None:
                sync_claimed(integration_id)
    except Exception:
        log.exception("calendar sync of person #%s failed; the next round retries it", user_id)


def sync_round(timestamp: int) -> int:
    """The periodic job: one round now (``timestamp``, the tick, only dates the log); how many synced."""
    synced = sync_due()
    log.info("calendar round of tick %s: %d synced", datetime.fromtimestamp(timestamp, UTC).isoformat(), synced)
    return synced


def register(app: App) -> None:
    """Add the periodic calendar round to a procrastinate app (the task engine's one)."""
    app.periodic(cron=SYNC_CRON, periodic_id=SYNC_PERIODIC_ID)(
        app.task(name=SYNC_TASK, priority=SYNC_PRIORITY)(sync_round)
    )


async def calendar_scheduler() -> None:
    """Runs a calendar round every minute for as long as the app lives, unless the in-process scheduler is off."""
    if not get_settings().runs_inprocess_scheduler:
        log.info("in-process calendar syncs are off")
        return
    log.info("calendar rounds started (every %.0f s)", ROUND_INTERVAL_S)
    while True:
        try:
            await asyncio.to_thread(sync_due)
        except Exception:
            log.exception("calendar round failed; retrying next minute")
        await asyncio.sleep(ROUND_INTERVAL_S)
