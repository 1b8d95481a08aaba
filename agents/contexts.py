"""What a person's context means to the agents: a kind (work, home, rest or any) and the weekly slots that schedule it.

Agents declare the kinds they fit (``AgentManifest.contexts``); a person's context gets its kind from the kind they
picked, else from its name (:func:`kind_of`). :func:`context_at` tells which context is in effect at a moment, from
the person's hand choice and their weekly schedules on their own clock (DST included). Pure functions of the standard
library: the rows are read by :mod:`agents.eligibility`, written by :mod:`oo_app.profile.contexts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class ContextKind(StrEnum):
    work = "work"
    home = "home"
    rest = "rest"  # holiday, vacation, a day off: no task pressure
    any = "any"  # a context oO cannot place: every agent fits


# The kinds an agent may declare; declaring none means it fits every context.
AGENT_KINDS = frozenset({ContextKind.work, ContextKind.home, ContextKind.rest})

# Words of a context's name that give its kind. The last known word wins ("summer holiday" -> rest, "home office" ->
# work): in English the head of a name is its last word.
NAME_WORDS: dict[str, ContextKind] = {
    **dict.fromkeys(("work", "office", "job", "workday", "workdays", "school", "study", "shift"), ContextKind.work),
    **dict.fromkeys(("home", "house", "family", "chores", "household"), ContextKind.home),
    **dict.fromkeys(
        ("rest", "holiday", "holidays", "vacation", "leave", "off", "weekend", "sick", "break", "sabbatical"),
        ContextKind.rest,
    ),
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def kind_of(name: str, chosen: str | None = None) -> ContextKind:
    """The kind of a context named ``name``: the kind the person ``chosen`` when they gave one, else the last word of
    the name that oO knows (see ``NAME_WORDS``), else ``any``."""
    if chosen:
        return ContextKind(chosen)
    words = "".join(char if char.isalnum() else " " for char in name.casefold()).split()
    for word in reversed(words):
        if word in NAME_WORDS:
            return NAME_WORDS[word]
    return ContextKind.any


def fits(agent_kinds: Iterable[str], kind: ContextKind | None) -> bool:
    """Whether an agent declaring ``agent_kinds`` speaks in a context of ``kind`` (None: no context in effect)."""
    declared = set(agent_kinds)
    return not declared or kind is None or kind is ContextKind.any or kind in declared


@dataclass(frozen=True)
class WeeklySlot:
    """Local weekdays (0 = Monday) from ``start`` to ``end`` minutes after midnight; overnight when ``end <= start``
    (then it ends on the next day). ``end == start`` is refused where slots are made."""

    weekdays: frozenset[int]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def week_spans(self) -> Iterator[tuple[int, int]]:
        """The slot as half-open spans of minutes since Monday 00:00, a span past Sunday wrapped to Monday."""
        length = (self.end - self.start) % MINUTES_PER_DAY
        for day in sorted(self.weekdays):
            start = day * MINUTES_PER_DAY + self.start
            end = start + length
            if end <= MINUTES_PER_WEEK:
                yield start, end
            else:
                yield start, MINUTES_PER_WEEK
                yield 0, end - MINUTES_PER_WEEK

    def occurrences(self, zone: ZoneInfo, days: Iterable[date]) -> Iterator[tuple[datetime, datetime]]:
        """The slot's intervals (aware UTC) starting on the local ``days``, each bound taken on the wall clock."""
        for day in days:
            if day.weekday() in self.weekdays:
                start = _wall(day, self.start, zone)
                end = _wall(day + timedelta(days=1) if self.overnight else day, self.end, zone)
                yield start, end


def _wall(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The instant (UTC) of a wall-clock time; a time skipped by DST counts as the instant the clock jumped from."""
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


def slots_overlap(first: WeeklySlot, second: WeeklySlot) -> bool:
    return any(a < d and c < b for a, b in first.week_spans() for c, d in second.week_spans())


@dataclass(frozen=True)
class InEffect:
    """The context in effect at a moment: its name and kind, and whether a schedule put it there."""

    name: str
    kind: ContextKind
    scheduled: bool


def scheduled_at(
    schedules: Mapping[str, Iterable[WeeklySlot]], zone: ZoneInfo, now: datetime
) -> tuple[str | None, datetime | None]:
    """The context a schedule puts in effect at ``now`` (None outside every slot) and the last schedule boundary (a
    slot's start or end) at or before ``now`` (None without any schedule)."""
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=back) for back in range(8, -2, -1)]
    current: str | None = None
    boundary: datetime | None = None
    for name, slots in schedules.items():
        for slot in slots:
            for start, end in slot.occurrences(zone, days):
                if start <= now < end:
                    current = name
                for edge in (start, end):
                    if edge <= now and (boundary is None or edge > boundary):
                        boundary = edge
    return current, boundary


def context_at(
    chosen: str | None,
    chosen_at: datetime | None,
    schedules: Mapping[str, Iterable[WeeklySlot]],
    kinds: Mapping[str, ContextKind],
    zone: ZoneInfo,
    now: datetime,
) -> InEffect | None:
    """The context in effect at ``now``: the one the person ``chosen`` by hand (None: "none") when they chose at
    ``chosen_at`` since the last schedule boundary; else the one a schedule puts there; else none. Without
    schedules the hand choice always holds (a choice of unknown time counts as before every boundary)."""
    scheduled, boundary = scheduled_at(schedules, zone, now)
    if boundary is None or (chosen_at is not None and chosen_at >= boundary):
        return InEffect(chosen, kinds[chosen], scheduled=False) if chosen is not None else None
    return InEffect(scheduled, kinds[scheduled], scheduled=True) if scheduled is not None else None
