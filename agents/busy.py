"""A person's calendar as oO keeps it: busy intervals (no title, no attendee, no place) and each day's derivative.

The shared vocabulary of the calendar signal. Sources (:mod:`oo_app.calendar`) turn a CalDAV server, Google Calendar
or an ICS address into :class:`BusyInterval` values held in memory only; the sync stores one :class:`CalendarDay` per
local day; the calendar agent, push timing and snooze read both through the pure functions here. Every moment is
aware UTC; local days are on the person's clock (DST included). Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oo_app.clock import as_utc

CALENDAR_CONSENT = "calendar"  # the consent that lets oO read a person's busy times
HORIZON = timedelta(hours=48)  # how far ahead busy intervals are read and held
# A free block shorter than this is not worth naming: the gap between two meetings.
MIN_FREE_BLOCK = timedelta(minutes=15)


@dataclass(frozen=True, slots=True, order=True)
class BusyInterval:
    """One busy stretch: ``start`` < ``end``, aware UTC. What a meeting was about is never kept."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"a busy interval ends after it starts: {self.start:%Y-%m-%d %H:%M} .. {self.end:%H:%M}")

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def contains(self, moment: datetime) -> bool:
        return self.start <= as_utc(moment) < self.end


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """The stored derivative of one local day: busy minutes, how many meetings, the first and last busy moment."""

    day: date
    busy_minutes: int
    meetings: int
    first_busy: datetime | None = None
    last_busy: datetime | None = None


def merge(intervals: Iterable[BusyInterval]) -> tuple[BusyInterval, ...]:
    """The intervals sorted, overlapping and touching ones joined: what "busy" means, whatever the overlaps."""
    merged: list[BusyInterval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = BusyInterval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


def busy_at(intervals: Sequence[BusyInterval], moment: datetime) -> BusyInterval | None:
    """The (merged) busy interval ``moment`` falls in, or None when the person is free then."""
    moment = as_utc(moment)
    for interval in merge(intervals):
        if interval.start > moment:
            return None
        if interval.contains(moment):
            return interval
    return None


def next_busy(intervals: Sequence[BusyInterval], moment: datetime) -> BusyInterval | None:
    """The first (merged) busy interval that starts after ``moment``, or None."""
    moment = as_utc(moment)
    return next((interval for interval in merge(intervals) if interval.start > moment), None)


@dataclass(frozen=True, slots=True)
class FreeBlock:
    """A free stretch from ``start`` to ``end``; ``end`` is None when nothing is booked until the horizon."""

    start: datetime
    end: datetime | None

    @property
    def minutes(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds() / 60


def free_blocks(
    intervals: Sequence[BusyInterval],
    moment: datetime,
    horizon: timedelta = HORIZON,
    minimum: timedelta = MIN_FREE_BLOCK,
) -> list[FreeBlock]:
    """The free stretches from ``moment`` to ``moment + horizon`` of at least ``minimum``, in order; the last one is
    open-ended (``end`` None) when no meeting follows it within the horizon."""
    moment = as_utc(moment)
    until = moment + horizon
    blocks: list[FreeBlock] = []
    cursor = moment
    for interval in merge(intervals):
        if interval.end <= cursor:
            continue
        if interval.start >= until:
            break
        if interval.start - cursor >= minimum:
            blocks.append(FreeBlock(cursor, interval.start))
        cursor = max(cursor, interval.end)
    if cursor < until:
        blocks.append(FreeBlock(cursor, None))
    return blocks


def next_free_block(
    intervals: Sequence[BusyInterval], moment: datetime, minimum: timedelta = MIN_FREE_BLOCK
) -> FreeBlock | None:
    """The first free block at or after ``moment`` (the current one when the person is free now)."""
    blocks = free_blocks(intervals, moment, minimum=minimum)
    return blocks[0] if blocks else None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start and end of the local date ``day`` in ``tz`` (23 or 25 hours on a DST change)."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def summarize_day(intervals: Iterable[BusyInterval], day: date, tz: ZoneInfo) -> CalendarDay:
    """The derivative of the local date ``day``: each interval clipped to the day; ``meetings`` counts the intervals
    as the source gave them (two overlapping meetings are two), ``busy_minutes`` the merged time (never double)."""
    start, end = day_bounds(day, tz)
    clipped = [
        BusyInterval(max(interval.start, start), min(interval.end, end))
        for interval in intervals
        if interval.end > start and interval.start < end
    ]
    merged = merge(clipped)
    return CalendarDay(
        day=day,
        busy_minutes=round(sum(interval.minutes for interval in merged)),
        meetings=len(clipped),
        first_busy=merged[0].start if merged else None,
        last_busy=merged[-1].end if merged else None,
    )
