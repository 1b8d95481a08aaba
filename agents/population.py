"""Many persons' histories as flat columns, packed once and shared by every agent's batch path (:mod:`agents.batch`).

Each column holds every person's moments one after another (person 0's first, ascending within a person), with
``person`` saying whose each entry is and ``starts`` where each person's run begins. The values equal what
:mod:`agents.history_arrays` derives from each history alone, so a batch answer equals the per-person one.
Read-only, derived from the histories alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from itertools import chain, compress, pairwise, repeat
from operator import attrgetter, is_not
from zoneinfo import ZoneInfo

import numpy as np

from agents.base import Completion, HistoryEvent, UserHistory
from agents.columns import CompletionColumn, EventColumn
from agents.history_arrays import DAY, DONE_EVENTS, LocalDone

# The zone is asked every this many seconds between a population's first and last moment; :func:`utc_offsets` rests
# on the same premise (no zone changes offset and back within a week).
PROBE = 6 * DAY


def offsets_in(zone: ZoneInfo, seconds: np.ndarray) -> np.ndarray:
    """The UTC offset of ``zone`` at each of ``seconds`` (epoch seconds, any order), as :func:`utc_offsets` finds it.

    Finds the zone's changes between the first and last moment once (zones change at whole seconds), then looks each
    moment up among them: no sort of the moments, a few zone calls per week of the span.
    """
    if len(seconds) == 0:
        return np.zeros(0)

    def offset_at(moment: float) -> float:
        offset = datetime.fromtimestamp(moment, zone).utcoffset()
        return offset.total_seconds() if offset is not None else 0.0

    low, high = math.floor(float(seconds.min())), math.ceil(float(seconds.max()))
    probes = list(range(low, high + PROBE, PROBE))
    offsets = [offset_at(probes[0])]
    changes: list[int] = []
    for before, after in pairwise(probes):
        offset = offset_at(after)
        if offset == offsets[-1]:
            continue
        first_new, last_old = after, before  # the first second with the new offset lies in (last_old, first_new]
        while first_new - last_old > 1:
            middle = (first_new + last_old) // 2
            if offset_at(middle) == offsets[-1]:
                last_old = middle
            else:
                first_new = middle
        changes.append(first_new)
        offsets.append(offset)
    return np.asarray(offsets)[np.searchsorted(np.asarray(changes, dtype=float), seconds, side="right")]


def _seconds(moments: Sequence[datetime]) -> np.ndarray:
    """UTC epoch seconds of ``moments``, as ``datetime.timestamp()`` gives them."""
    return np.fromiter(map(datetime.timestamp, moments), dtype=float, count=len(moments))


def _seconds_or_nan(moments: Sequence[datetime | None]) -> np.ndarray:
    """:func:`_seconds`, NaN where a moment is None (a task without a due date)."""
    given = np.fromiter(map(is_not, moments, repeat(None)), dtype=bool, count=len(moments))
    seconds = np.full(len(moments), np.nan)
    seconds[given] = _seconds(list(compress(moments, given)))
    return seconds


def _codes(values: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each value's index into the distinct values (in order of first appearance), and those values."""
    index = {value: code for code, value in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values)), tuple(index)


def _event_parts(events: Sequence[HistoryEvent]) -> tuple[np.ndarray, np.ndarray]:
    """One person's event seconds and done flags, from the numbers of an :class:`EventColumn` when it is one."""
    if isinstance(events, EventColumn):
        return events.seconds, _done_kinds(events.kinds)[events.kind]
    done = np.fromiter(map(DONE_EVENTS.__contains__, map(attrgetter("type"), events)), dtype=bool, count=len(events))
    return _seconds(list(map(attrgetter("at"), events))), done


@lru_cache(maxsize=64)
def _done_kinds(kinds: tuple[str, ...]) -> np.ndarray:
    return np.fromiter(map(DONE_EVENTS.__contains__, kinds), dtype=bool, count=len(kinds))


def _completion_parts(
    completions: Sequence[Completion],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """One person's completion seconds, due seconds (NaN: none), project codes and the names they index."""
    if isinstance(completions, CompletionColumn):
        return completions.seconds, completions.due_seconds, completions.project, completions.projects
    codes, names = _codes(list(map(attrgetter("project"), completions)))
    completed = _seconds(list(map(attrgetter("completed_at"), completions)))
    return completed, _seconds_or_nan(list(map(attrgetter("due_at"), completions))), codes, names


def _global_codes(parts: Sequence[tuple[np.ndarray, tuple[str, ...]]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-person project codes (each into its own names) as codes into everyone's distinct names, numbered in order
    of first appearance over all persons one after another (as :func:`_codes` numbers them)."""
    ids: dict[str, int] = {}
    lookups: dict[int, np.ndarray] = {}  # by the names tuple: a batch read shares one among its persons
    raw = [np.zeros(0, dtype=np.int64)]
    for codes, names in parts:
        lookup = lookups.get(id(names))
        if lookup is None:
            lookup = np.fromiter((ids.setdefault(name, len(ids)) for name in names), np.int64, len(names))
            lookups[id(names)] = lookup
        raw.append(lookup[codes])
    flat = np.concatenate(raw)
    present, first = np.unique(flat, return_index=True)
    order = present[np.argsort(first)]
    renumber = np.zeros(len(ids), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    names_by_id = list(ids)
    return renumber[flat], tuple(names_by_id[i] for i in order.tolist())


@dataclass(frozen=True)
class Column:
    """Entries of many persons, grouped by person (ascending ``person``), ascending ``seconds`` within a person."""

    person: np.ndarray  # whose entry (index into the population)
    seconds: np.ndarray  # UTC epoch seconds
    starts: np.ndarray  # person p's entries are [starts[p], starts[p + 1])

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)


def _column(person: np.ndarray, seconds: np.ndarray, size: int, *extra: np.ndarray) -> tuple[Column, list[np.ndarray]]:
    """A :class:`Column` of ``(person, seconds)`` pairs, sorted by person then seconds, and ``extra`` in that order."""
    ordered = len(person) < 2 or bool(
        np.all((np.diff(person) > 0) | ((np.diff(person) == 0) & (np.diff(seconds) >= 0)))
    )
    if not ordered:
        order = np.lexsort((seconds, person))
        person, seconds, extra = person[order], seconds[order], tuple(e[order] for e in extra)
    starts = np.searchsorted(person, np.arange(size + 1))
    return Column(person, seconds, starts), list(extra)


@dataclass(frozen=True)
class LocalColumn(Column):
    """A column's moments on each person's local calendar: day numbers from 1970-01-01 and hours."""

    day: np.ndarray
    hour: np.ndarray


def ragged_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``values[starts[p]:starts[p + 1]].sum()`` for every p, to the last bit: rows of one length are summed as a
    matrix, which numpy adds in the same (pairwise) order as each row alone."""
    lengths = np.diff(starts)
    sums = np.zeros(len(lengths))
    for length in np.unique(lengths):
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        sums[rows] = values[starts[rows, None] + np.arange(length)].sum(axis=1)
    return sums


def _firsts(values: np.ndarray) -> np.ndarray:
    """``values`` with each run of equal neighbours kept once."""
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def marked(selected: np.ndarray) -> list[list[int]]:
    """The columns each row of ``selected`` (a boolean matrix) marks, ascending, as plain ints."""
    columns = np.nonzero(selected)[1].tolist()
    ends = np.cumsum(selected.sum(axis=1)).tolist()
    return [columns[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


class Population:
    """The histories of many persons, read once into columns that every agent's batch path shares.

    A column is built the first time an agent asks for it. Zones are applied per zone, not per person.
    """

    def __init__(self, histories: Sequence[UserHistory]) -> None:
        self.histories = tuple(histories)
        self.size = len(self.histories)

    @cached_property
    def now(self) -> np.ndarray:
        return np.fromiter((h.now.timestamp() for h in self.histories), dtype=float, count=self.size)

    @cached_property
    def event_counts(self) -> np.ndarray:
        return np.fromiter((len(h.events) for h in self.histories), dtype=np.int64, count=self.size)

    @cached_property
    def _zones(self) -> tuple[np.ndarray, list[ZoneInfo]]:
        names: dict[str, int] = {}
        codes = np.fromiter((names.setdefault(h.tz, len(names)) for h in self.histories), np.int64, self.size)
        return codes, [ZoneInfo(name) for name in names]

    def local(self, person: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """``seconds`` of the given persons shifted by their zone's offset at each moment (local epoch seconds)."""
        codes, zones = self._zones
        of_moment = codes[person]
        local = np.empty(len(seconds))
        for code, zone in enumerate(zones):
            mine = of_moment == code
            local[mine] = seconds[mine] + offsets_in(zone, seconds[mine])
        return local

    def _localised(self, column: Column) -> LocalColumn:
        # Whole local seconds: the same days and hours as the seconds' own floor division (floor(x / n) is
        # floor(floor(x) / n)), in integers, ten times cheaper than dividing floats.
        whole = np.floor(self.local(column.person, column.seconds)).astype(np.int64)
        return LocalColumn(column.person, column.seconds, column.starts, day=whole // DAY, hour=whole // 3600 % 24)

    def local_days(self, seconds: np.ndarray) -> np.ndarray:
        """The local day number of one moment per person (``seconds[p]`` for person p)."""
        whole = np.floor(seconds)
        return np.floor_divide(self.local(np.arange(self.size), whole), DAY).astype(np.int64)

    @cached_property
    def events(self) -> Events:
        """Every event on the person's calendar, and whether it is a done moment (a completed tip)."""
        parts = [_event_parts(h.events) for h in self.histories]
        seconds = np.concatenate([np.zeros(0), *(part[0] for part in parts)])
        done = np.concatenate([np.zeros(0, dtype=bool), *(part[1] for part in parts)])
        column, (done,) = _column(np.repeat(np.arange(self.size), self.event_counts), seconds, self.size, done)
        return Events(**vars(self._localised(column)), done=done)

    @cached_property
    def completions(self) -> Completions:
        """Every task completion on the person's calendar, with its due moment and project."""
        counts = np.fromiter((len(h.task_completions) for h in self.histories), np.int64, self.size)
        parts = [_completion_parts(h.task_completions) for h in self.histories]
        codes, projects = _global_codes([(part[2], part[3]) for part in parts])
        column, (due, codes) = _column(
            np.repeat(np.arange(self.size), counts),
            np.concatenate([np.zeros(0), *(part[0] for part in parts)]),
            self.size,
            np.concatenate([np.zeros(0), *(part[1] for part in parts)]),
            codes,
        )
        return Completions(**vars(self._localised(column)), due=due, project=codes, projects=projects)

    @cached_property
    def done(self) -> Done:
        """Each person's done moments on their calendar: task completions, or completed tips without any."""
        completions, events = self.completions, self.events
        from_tasks = completions.counts > 0
        tips = events.done & ~from_tasks[events.person]
        person = np.concatenate([completions.person, events.person[tips]])
        # A person's moments all come from one of the two, already ascending: ordering by person keeps them so.
        order = np.argsort(person, kind="stable")
        first = self.now.copy()  # since when each person is observed at all: their first moment of any kind, or now
        for source in (completions, events):
            has = source.counts > 0
            first[has] = np.minimum(first[has], source.seconds[source.starts[:-1][has]])
        return Done(
            person=person[order],
            seconds=np.concatenate([completions.seconds, events.seconds[tips]])[order],
            starts=np.searchsorted(person[order], np.arange(self.size + 1)),
            day=np.concatenate([completions.day, events.day[tips]])[order],
            hour=np.concatenate([completions.hour, events.hour[tips]])[order],
            today=self.local_days(self.now),
            first_day=self.local_days(first),
            from_tasks=from_tasks,
        )

    def activity_per_hour(self) -> np.ndarray:
        """Everything each person did (every event and every task completion) per local hour: (size, 24)."""
        return self.per_hour(self.events) + self.per_hour(self.completions)

    @cached_property
    def moods(self) -> Moods:
        counts = np.fromiter((len(h.moods) for h in self.histories), np.int64, self.size)
        flat = list(chain.from_iterable(h.moods for h in self.histories))
        levels = np.fromiter(map(attrgetter("level"), flat), dtype=float, count=len(flat))
        column, (levels,) = _column(
            np.repeat(np.arange(self.size), counts), _seconds(list(map(attrgetter("at"), flat))), self.size, levels
        )
        return Moods(**vars(self._localised(column)), level=levels)

    def days_seen(self, *columns: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """On how many distinct local days each person's moments fall, over ``columns`` of ``(person, day)`` arrays
        (``person[i]``'s moment on local day ``day[i]``), as :func:`agents.history_arrays.days_seen` counts them for
        one person: (size,). Exact in any order; fast when each column is grouped by person, ascending in time."""
        days = [day for _, day in columns if len(day)]
        if not days:
            return np.zeros(self.size, dtype=np.int64)
        low = min(int(day.min()) for day in days)
        span = max(int(day.max()) for day in days) - low + 1
        # One integer per (person, day), a run of equal ones kept once per column; the columns' few sorted runs are
        # merged by a stable sort (timsort) in about linear time. 500 persons x 90 days, events and completions: 2 ms
        # of CPU, against 13 ms for np.unique of the same integers and 190 ms for np.unique over the pairs.
        keys = np.sort(np.concatenate([_firsts(person * span + (day - low)) for person, day in columns]), kind="stable")
        return np.bincount(_firsts(keys) // span, minlength=self.size)

    def per_hour(self, column: LocalColumn, keep: np.ndarray | None = None) -> np.ndarray:
        """How many of ``column``'s moments (those in ``keep``) fall in each local hour, per person: (size, 24)."""
        person, hour = (column.person, column.hour) if keep is None else (column.person[keep], column.hour[keep])
        return np.bincount(person * 24 + hour, minlength=self.size * 24).reshape(self.size, 24)


@dataclass(frozen=True)
class Events(LocalColumn):
    done: np.ndarray  # a completed tip


@dataclass(frozen=True)
class Completions(LocalColumn):
    due: np.ndarray  # UTC epoch seconds, NaN without a due date
    project: np.ndarray  # index into ``projects``
    projects: tuple[str, ...]  # distinct project names of everyone ("" for none)


@dataclass(frozen=True)
class Done(LocalColumn):
    today: np.ndarray  # per person: the local day of now (a partial day)
    first_day: np.ndarray  # per person: the local day of their first moment of any kind
    from_tasks: np.ndarray  # per person: task completions (True) or, without any, completed tips

    def of(self, index: int) -> LocalDone:
        """Person ``index``'s done moments, as :func:`agents.history_arrays.local_done` gives them."""
        span = slice(self.starts[index], self.starts[index + 1])
        return LocalDone(
            seconds=self.seconds[span],
            day=self.day[span],
            hour=self.hour[span],
            today=int(self.today[index]),
            first_day=int(self.first_day[index]),
            from_tasks=bool(self.from_tasks[index]),
        )


@dataclass(frozen=True)
class Moods(LocalColumn):
    level: np.ndarray


def _nothing(index: int) -> None:
    return None


@dataclass(frozen=True)
class Batched:
    """What an agent's batch path found for a population: per parameter key, each person's inferred value (None:
    nothing inferred, the default applies), and ``prime(i)``, which hands person i's facts to the per-history caches
    its ``compute`` reads (:meth:`agents.history_arrays.PerHistory.prime`), so it does not derive them again."""

    values: dict[str, list]
    prime: Callable[[int], None] = _nothing
