"""When a tip may reach a person: at their inferred productive hours, never in their quiet hours, never in a meeting.

Decided from what oO inferred (the time-of-day agent's parameters), on the person's own clock with DST applied, and
from their busy intervals when they share a calendar (:mod:`agents.busy`). Web push (:mod:`oo_app.push.delivery`)
delivers by it: a delivery moment owns a productive window (:func:`slot_window`), and its tip goes at the start of the
first free block in that window long enough to read it (:func:`push_moment`), else not at all; an open page swaps
its tip only when the person is free to read one (:func:`free_to_read`); a snoozed tip waits for :func:`snooze_until`,
the person's next morning, or the next free block after the meeting it was snoozed in when that comes first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.busy import BusyInterval, busy_at, free_blocks
from agents.registry import get_agent
from agents.time_of_day import in_window
from oo_app.clock import as_utc, zone
from oo_app.models import User, UserPreference

TIME_OF_DAY = "time-of-day"
MAX_DAILY_TIPS = 3
# A free stretch shorter than this is no time to read a tip: the few minutes between two meetings.
READING_TIME = timedelta(minutes=10)


def hour_distance(a: int, b: int) -> int:
    """Hours between two hours of the day, around the clock."""
    return min((a - b) % 24, (b - a) % 24)


def timing_params(session: Session, user: User) -> dict[str, Any]:
    """The time-of-day parameters oO holds for ``user``: the agent's cold-start defaults (``tz``: the person's zone),
    overlaid by the stored values, each inferred by the agent's last run or set by the person."""
    return timing_params_of(session, [user])[user.id]


# Every delivery round reads them for everyone (every few minutes): built once, the values bound at each call.
_STORED = select(UserPreference.user_id, UserPreference.key, UserPreference.value).where(
    col(UserPreference.user_id).in_(sa.bindparam("user_ids", expanding=True)),
    UserPreference.scope == sa.bindparam("scope"),
)


class Person(Protocol):
    """What the timing parameters read of a person: a :class:`~oo_app.models.User`, or a row of its id and zone."""

    id: int | None
    tz: str


def timing_params_of(session: Session, users: Sequence[Person]) -> dict[int, dict[str, Any]]:
    """:func:`timing_params` of each of ``users`` by id, read in one query (a delivery round reads everyone's)."""
    ids = [user.id for user in users]
    stored = session.exec(_STORED, params={"user_ids": ids, "scope": TIME_OF_DAY}).all() if ids else []
    return timing_params_from([(user.id, user.tz) for user in users], stored)


def timing_params_from(
    persons: Iterable[tuple[int, str]], stored: Iterable[tuple[int, str, Any]]
) -> dict[int, dict[str, Any]]:
    """The timing parameters of ``persons`` (id, zone) by id, in their order, from their ``stored`` time-of-day values
    (id, key, value): the agent's cold-start defaults, their zone, the stored values over them."""
    defaults = {param.key: param.cold_start_default for param in get_agent(TIME_OF_DAY).manifest.params}
    params: dict[int, dict[str, Any]] = {user_id: defaults | {"tz": tz} for user_id, tz in persons}
    for user_id, key, value in stored:
        params[user_id][key] = value
    for values in params.values():
        for key, value in values.items():
            if value is defaults.get(key):  # a default nothing stored replaced: the caller's own copy
                values[key] = copy.deepcopy(value)
    return params


def delivery_hours(params: Mapping[str, Any], limit: int = MAX_DAILY_TIPS) -> list[int]:
    """The local hours to deliver tips at, ascending: ``preferred_hour``, then the ``peak_hours`` nearest to it (a tie
    to the earlier), at most ``limit``; never an hour of the quiet window ``[quiet_start, quiet_end)``."""
    return list(_delivery_hours(*_hours_key(params), limit))


def _hours_key(params: Mapping[str, Any]) -> tuple[Any, ...]:
    return (params["preferred_hour"], tuple(params.get("peak_hours") or ()), params["quiet_start"], params["quiet_end"])


# A delivery round asks every person's hours and moments at every round, from parameters that change once a day or
# less: each answer is a pure function of them, kept (a few thousand small tuples at most).
@lru_cache(maxsize=4096)
def _delivery_hours(
    preferred_hour: Any, peak_hours: tuple[Any, ...], quiet_start: Any, quiet_end: Any, limit: int
) -> tuple[int, ...]:
    preferred = int(preferred_hour)
    peaks = sorted({int(h) for h in peak_hours}, key=lambda h: (hour_distance(h, preferred), h))
    start, end = int(quiet_start), int(quiet_end)
    allowed = [hour for hour in dict.fromkeys([preferred, *peaks]) if not in_window(hour, start, end)]
    return tuple(sorted(allowed[:limit]))


def is_quiet(params: Mapping[str, Any], moment: datetime) -> bool:
    """Whether ``moment`` lies in the quiet window of ``params`` on the clock of their ``tz`` (DST included); a naive
    ``moment`` is taken as UTC."""
    local = as_utc(moment).astimezone(zone(params.get("tz")))
    return in_window(local.hour, int(params["quiet_start"]), int(params["quiet_end"]))


def delivery_moments(params: Mapping[str, Any], day: date, limit: int = MAX_DAILY_TIPS) -> list[datetime]:
    """The UTC moments on the local date ``day`` (in ``tz``) at the top of each of :func:`delivery_hours`, ascending;
    an hour the day does not have (skipped by a DST change) is left out."""
    return list(_delivery_moments(params.get("tz"), _delivery_hours(*_hours_key(params), limit), day))


@lru_cache(maxsize=4096)
def _delivery_moments(tz: str | None, hours: tuple[int, ...], day: date) -> tuple[datetime, ...]:
    local_zone = zone(tz)
    moments = []
    for hour in hours:
        moment = datetime.combine(day, time(hour), tzinfo=local_zone).astimezone(UTC)
        if moment.astimezone(local_zone).hour == hour:
            moments.append(moment)
    return tuple(moments)


def next_wall_clock(moment: datetime, hour: int, local_zone: Any) -> datetime:
    """The first UTC moment after ``moment`` at which the local clock reads ``hour``:00 (an hour skipped by a DST
    change falls on the instant of the change; a repeated one is taken the first time)."""
    local_day = moment.astimezone(local_zone).date()
    for offset in range(3):
        candidate = datetime.combine(local_day + timedelta(days=offset), time(hour), tzinfo=local_zone).astimezone(UTC)
        if candidate > moment:
            return candidate
    raise AssertionError("a wall-clock hour recurs within two days")


def productive_hours(params: Mapping[str, Any]) -> set[int]:
    """The person's productive local hours: ``preferred_hour`` and ``peak_hours``, none of the quiet window."""
    hours = {int(params["preferred_hour"]), *(int(h) for h in params.get("peak_hours") or [])}
    start, end = int(params["quiet_start"]), int(params["quiet_end"])
    return {hour for hour in hours if not in_window(hour, start, end)}


def slot_window(params: Mapping[str, Any], slot: datetime, limit: int = MAX_DAILY_TIPS) -> tuple[datetime, datetime]:
    """The productive window of the delivery moment ``slot`` (UTC): from ``slot`` through the run of productive hours
    (:func:`productive_hours`) that follows its hour on the person's clock, ending at the first hour that is not
    productive, is quiet, or is another delivery hour (each slot owns its window; windows never overlap)."""
    local_zone = zone(params.get("tz"))
    hour = slot.astimezone(local_zone).hour
    productive, delivery = productive_hours(params), set(delivery_hours(params, limit))
    length = 1
    while length < 24 and (hour + length) % 24 in productive and (hour + length) % 24 not in delivery:
        length += 1
    return slot, next_wall_clock(slot, (hour + length) % 24, local_zone)


def free_to_read(busy: Sequence[BusyInterval], moment: datetime) -> bool:
    """Whether the person is free at ``moment`` for at least :data:`READING_TIME` (no meeting now nor before then)."""
    blocks = free_blocks(busy, as_utc(moment), minimum=READING_TIME)
    return bool(blocks) and blocks[0].start == as_utc(moment)


def push_moment(
    params: Mapping[str, Any], slot: datetime, busy: Sequence[BusyInterval], limit: int = MAX_DAILY_TIPS
) -> datetime | None:
    """When the tip of the delivery moment ``slot`` may go: the start of the first free block at or after ``slot``
    that lasts at least :data:`READING_TIME` (overlapping and back-to-back meetings taken as one) and starts inside
    the slot's productive window (:func:`slot_window`) and outside the quiet hours: ``slot`` itself when the person is
    free then; else None, the meetings take the slot."""
    _, until = slot_window(params, slot, limit)
    for block in free_blocks(busy, slot, minimum=READING_TIME):
        if block.start >= until:
            return None
        if not is_quiet(params, block.start):
            return block.start
    return None


def snooze_until(
    params: Mapping[str, Any], moment: datetime, limit: int = MAX_DAILY_TIPS, busy: Sequence[BusyInterval] = ()
) -> datetime:
    """When a tip snoozed at ``moment`` comes back: when the person is in a meeting (overlapping and back-to-back
    meetings taken as one), the start of the first free block after it long enough to read a tip
    (:data:`READING_TIME`) when that comes before their next morning and outside their quiet hours; else
    :func:`next_morning`."""
    moment = as_utc(moment)
    morning = next_morning(params, moment, limit)
    if busy_at(busy, moment) is None:
        return morning
    block = next(iter(free_blocks(busy, moment, minimum=READING_TIME)), None)
    if block is not None and block.start < morning and not is_quiet(params, block.start):
        return block.start
    return morning


def next_morning(params: Mapping[str, Any], moment: datetime, limit: int = MAX_DAILY_TIPS) -> datetime:
    """The person's "tomorrow morning" for a tip snoozed at ``moment``: the first delivery moment at or after the next
    end of their quiet window, on their clock (DST included).

    Snoozed in the evening, that is the next day's first delivery moment after they wake; snoozed in the small hours,
    inside the quiet window, it is this coming morning's. Without a quiet window, the morning starts at the next
    local midnight. Should no delivery moment come within a week (every hour quiet), the end of the quiet window is
    the answer. A naive ``moment`` is taken as UTC.
    """
    moment = as_utc(moment)
    local_zone = zone(params.get("tz"))
    start, end = int(params["quiet_start"]), int(params["quiet_end"])
    morning = next_wall_clock(moment, end if start != end else 0, local_zone)
    first_day = morning.astimezone(local_zone).date()
    for offset in range(8):
        for candidate in delivery_moments(params, first_day + timedelta(days=offset), limit):
            if candidate >= morning:
                return candidate
    return morning
