"""When each integration syncs next: its state after a success or a failure, and which ones are due.

A success schedules the next sync an interval later (``todoist_sync_interval_s`` unless the caller names its own,
as the calendar does with ``calendar_sync_interval_s``). A failure counts, keeps a short reason (never a
token) and waits: as long as the provider asked (``Retry-After``), else exponentially with jitter, at most
:data:`MAX_BACKOFF`. A provider that refuses oO's access leaves the integration ``reauth_needed``: no sync is tried
until the person reconnects. :func:`claim` lets one sync at a time run per integration across processes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from oo_app.integrations.errors import RateLimited
from oo_app.integrations.oauth import CONNECTED, REAUTH_NEEDED
from oo_app.models import Integration, utcnow
from oo_app.settings import Settings

BASE_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
# A claimed sync holds the integration this long; a process that died mid-sync releases it when the lease ends.
LEASE = timedelta(minutes=10)
ERROR_LENGTH = 300


def backoff(failures: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after ``failures`` consecutive failures: 1, 2, 4 ... minutes (at most six hours), each
    shortened by a random half at most, so that many integrations failing together do not retry together."""
    full = min(BASE_BACKOFF * 2 ** max(failures - 1, 0), MAX_BACKOFF)
    return full * (0.5 + jitter() / 2)


def record_success(
    integration: Integration, now: datetime, settings: Settings, interval_s: float | None = None
) -> None:
    """A sync went through: the next one is ``interval_s`` away (Todoist's interval when None; the caller commits)."""
    integration.status = CONNECTED
    integration.last_synced_at = now
    integration.last_error = None
    integration.consecutive_failures = 0
    integration.next_attempt_at = now + timedelta(
        seconds=settings.todoist_sync_interval_s if interval_s is None else interval_s
    )
    integration.updated_at = utcnow()


def record_failure(
    integration: Integration, error: Exception, now: datetime, jitter: Callable[[], float] = random.random
) -> None:
    """A sync failed for a while (rate limit, outage): count it and wait before the next (the caller commits)."""
    integration.consecutive_failures += 1
    asked = error.retry_after_s if isinstance(error, RateLimited) else None
    wait = timedelta(seconds=asked) if asked is not None else backoff(integration.consecutive_failures, jitter)
    integration.next_attempt_at = now + min(wait, MAX_BACKOFF)
    integration.last_error = str(error)[:ERROR_LENGTH]
    integration.updated_at = utcnow()


def record_reauth_needed(integration: Integration, error: Exception) -> None:
    """The provider refuses oO's access: no sync until the person reconnects (the caller commits)."""
    integration.status = REAUTH_NEEDED
    integration.last_error = str(error)[:ERROR_LENGTH]
    integration.next_attempt_at = None
    integration.updated_at = utcnow()


def restart(integration: Integration, now: datetime) -> None:
    """A fresh connection: forget the old sync state, so that the next sync is a backfill, due at once."""
    integration.sync_token_enc = None
    integration.last_error = None
    integration.consecutive_failures = 0
    integration.next_attempt_at = now


def due(session: Session, provider: str, now: datetime, limit: int) -> list[int]:
    """Ids of up to ``limit`` connected integrations of ``provider`` whose next attempt has come, longest waiting
    first (never synced before, then by next attempt)."""
    rows = session.exec(
        select(Integration.id)
        .where(
            Integration.provider == provider,
            Integration.status == CONNECTED,
            col(Integration.access_token_enc).is_not(None),
            or_(col(Integration.next_attempt_at).is_(None), col(Integration.next_attempt_at) <= now),
        )
        .order_by(col(Integration.next_attempt_at).is_not(None), col(Integration.next_attempt_at), col(Integration.id))
        .limit(limit)
    ).all()
    return [row for row in rows if row is not None]


def claim(session: Session, integration_id: int, now: datetime) -> bool:
    """Take integration ``integration_id`` for one sync if it is still due (committed); False when another process
    took it first or it is no longer due."""
    table = Integration.__table__
    result = session.execute(
        sa.update(table)
        .where(
            table.c.id == integration_id,
            table.c.status == CONNECTED,
            or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
        )
        .values(next_attempt_at=now + LEASE)
    )
    session.commit()
    return result.rowcount == 1
