"""One calendar's sync: its busy intervals read, held in memory, each local day's derivative stored, the schedule kept.

A sync reads ``[start of the person's local day, now + 48 h)`` from one connected calendar (only while the person
grants ``calendar``), puts the intervals in :mod:`oo_app.calendar.busy_cache`, and upserts one ``calendar_days`` row
per local day read in full, summarised over all the person's calendars (never a title, a guest or a place). No
database transaction stays open while a calendar is read; the rows of a sync are written in one commit, or none.
Failures go through :mod:`oo_app.integrations.schedule` (backoff, ``reauth_needed``). When the busy times changed, the
person's agents that read the calendar compute afresh.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agents.busy import BusyInterval, day_bounds, summarize_day
from agents.eligibility import eligible_agents
from agents.runner import compute_output
from oo_app.calendar import access, busy_cache
from oo_app.calendar.sources import InvalidCalendar
from oo_app.clock import zone
from oo_app.errors import Conflict
from oo_app.integrations import schedule
from oo_app.integrations.errors import ProviderUnavailable, ReauthNeeded, UnreadableToken
from oo_app.models import CalendarDayRecord, Integration, User, utcnow
from oo_app.recommender import refresh_tips
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalendarSyncReport:
    """What one sync read and stored."""

    kind: str
    intervals: int  # busy intervals the calendar returned
    days: tuple[date, ...]  # the local days whose derivative was stored
    changed: bool  # the person's busy times differ from what this process held
    since: datetime
    until: datetime
    recomputed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.kind,
            "intervals": self.intervals,
            "days": [day.isoformat() for day in self.days],
            "changed": self.changed,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "recomputed": list(self.recomputed),
        }


def sync(
    session: Session, user: User, kind: str, now: datetime | None = None, settings: Settings | None = None
) -> CalendarSyncReport:
    """Sync ``user``'s calendar of ``kind`` now (see the module); commits its own work.

    Raises :class:`~oo_app.calendar.access.CalendarConsentMissing`, ``NotConnected``, ``ReauthNeeded`` (the
    integration is then ``reauth_needed``), ``ProviderUnavailable`` or :class:`InvalidCalendar` (recorded with the time
    of the next attempt), or ``Conflict`` when another sync of the person wrote at the same time.
    """
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    access.require_consent(session, user.id)
    integration = access.connected(session, user, kind)
    started = time.monotonic()
    since, until = busy_cache.read_window(user, now)
    try:
        source = access.source_for(session, integration, settings)
        session.commit()  # no database transaction stays open while the calendar answers
        intervals = source.busy(since, until)
    except (ReauthNeeded, UnreadableToken) as error:
        session.rollback()
        schedule.record_reauth_needed(integration, error)
        session.add(integration)
        session.commit()
        log.warning("calendar: person #%s needs to reconnect %s", user.id, kind)
        raise
    except (ProviderUnavailable, InvalidCalendar) as error:
        session.rollback()
        schedule.record_failure(integration, error, now)
        session.add(integration)
        session.commit()
        log.warning(
            "calendar sync of person #%s (%s) failed (%d in a row): %s",
            user.id,
            kind,
            integration.consecutive_failures,
            error,
        )
        raise
    return store_read(session, user, integration, intervals, now, settings, started)


def store_read(
    session: Session,
    user: User,
    integration: Integration,
    intervals: list[BusyInterval],
    now: datetime,
    settings: Settings,
    read_since: float,
) -> CalendarSyncReport:
    """Keep what one read of ``integration`` returned: cache, derivatives, schedule, agents (commits)."""
    kind = integration.provider
    since, until = busy_cache.read_window(user, now)
    before = busy_cache.union(busy_cache.cached(user.id).values())
    busy_cache.put(user.id, kind, intervals, read_since)
    everything = _person_intervals(session, user, integration, intervals, now, settings)
    try:
        days = _store_days(session, user, everything, now, until) if everything is not None else ()
        schedule.record_success(integration, now, settings, interval_s=settings.calendar_sync_interval_s)
        session.add(integration)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another calendar sync of this person ran at the same time; try again") from None
    after = busy_cache.union(busy_cache.cached(user.id).values())
    changed = after != before
    recomputed = _recompute(session, user, after, now) if changed else []
    return CalendarSyncReport(kind, len(intervals), days, changed, since, until, tuple(recomputed))


def _person_intervals(
    session: Session, user: User, integration: Integration, read: list[BusyInterval], now: datetime, settings: Settings
) -> tuple[BusyInterval, ...] | None:
    """The busy intervals of all the person's calendars: this read, and the others from memory (read when this
    process holds none); None when another calendar cannot be read now (the days wait for a complete picture)."""
    held = busy_cache.cached(user.id)
    per_kind = [tuple(read)]
    for other in access.calendar_integrations(session, user.id):
        if other.id == integration.id:
            continue
        if other.provider in held:
            per_kind.append(held[other.provider])
            continue
        started = time.monotonic()
        try:
            intervals = access.source_for(session, other, settings).busy(*busy_cache.read_window(user, now))
        except Exception as error:
            log.info(
                "calendar days of person #%s wait: %s unreadable (%s)", user.id, other.provider, type(error).__name__
            )
            return None
        busy_cache.put(user.id, other.provider, intervals, started)
        per_kind.append(tuple(intervals))
    return busy_cache.union(per_kind)


def _store_days(
    session: Session, user: User, intervals: tuple[BusyInterval, ...], now: datetime, until: datetime
) -> tuple[date, ...]:
    """Upsert the derivative of each local day read in full (today, tomorrow); the days stored (flushed)."""
    tz = zone(user.tz)
    day, days = now.astimezone(tz).date(), []
    while day_bounds(day, tz)[1] <= until:
        days.append(day)
        day += timedelta(days=1)
    rows = {
        row.day: row
        for row in session.exec(
            select(CalendarDayRecord).where(CalendarDayRecord.user_id == user.id, col(CalendarDayRecord.day).in_(days))
        )
    }
    for day in days:
        summary = summarize_day(intervals, day, tz)
        row = rows.get(day) or CalendarDayRecord(user_id=user.id, day=day)
        row.busy_minutes, row.meetings = summary.busy_minutes, summary.meetings
        row.first_busy_at, row.last_busy_at = summary.first_busy, summary.last_busy
        row.updated_at = utcnow()
        session.add(row)
    session.flush()
    return tuple(days)


def fingerprint(intervals: tuple[BusyInterval, ...]) -> str:
    """A short name of a set of busy times: the same times, the same name (an agent computes once per change)."""
    text = ";".join(f"{interval.start.isoformat()}/{interval.end.isoformat()}" for interval in intervals)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _recompute(session: Session, user: User, intervals: tuple[BusyInterval, ...], now: datetime) -> list[str]:
    """The person's eligible agents that read the calendar, computed afresh, and a fresher tip for the page when the
    one waiting predates them (:func:`oo_app.recommender.refresh_tips`); a failure leaves the stored days."""
    try:
        written = [
            agent.manifest.id
            for agent in eligible_agents(session, user.id, now)
            if agent.manifest.calendar
            and compute_output(session, user, agent, now=now, fresh_data=f"calendar{fingerprint(intervals)}")
            is not None
        ]
        session.commit()
        if written:
            refresh_tips(session, {user.id}, now)
            session.commit()
    except Exception:
        session.rollback()
        log.exception("calendar: agents of person #%s were not recomputed after new busy times", user.id)
        return []
    if written:
        log.info("person #%s: %d calendar agents computed after new busy times", user.id, len(written))
    return written
