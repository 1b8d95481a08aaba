"""A person's history as numpy arrays on their local calendar, built once per history and shared by the agents.

Done moments are task completions, or completed tips (``tip_done``) without any. Agents count with array operations,
not per-event Python (thousands of people run through every agent). Read-only, derived from the history alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from agents.base import UserHistory

DAY = 86_400
DONE_EVENTS = frozenset({"tip_done"})
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# A daily (or weekly) rhythm is what recurs from one day to another, so it is read only from moments on at least this
# many distinct local days, however many moments there are. One day is one sitting (ten answers minutes apart all
# "peak" at one hour); two can be one sitting across midnight, or the evening and the next morning; three is the fewest
# on which an hour can come back after a night between, and a person who opens oO now and then reaches it within a
# week, so a new person hears "not known yet" for days, not weeks.
MIN_RHYTHM_DAYS = 3
# Zones change offset a few times a year and never change and change back within a week, so two moments this close
# with the same offset share it with every moment between them.
SAME_OFFSET_SPAN = 7 * DAY

T = TypeVar("T")


class PerHistory(Generic[T]):
    """``compute`` done once for the history it last saw: an agent's infer functions run one after another on it.

    The result is shared between callers, so it must be treated as read-only. :meth:`prime` hands it a value computed
    elsewhere (the batch path, :mod:`agents.batch`, computes it for many persons at once): it must equal what
    ``compute`` would return for that history.
    """

    def __init__(self, compute: Callable[[UserHistory], T]) -> None:
        functools.update_wrapper(self, compute)
        self._compute = compute
        self._last: tuple[UserHistory, T] | None = None

    def __call__(self, history: UserHistory) -> T:
        entry = self._last
        if entry is not None and entry[0] is history:
            return entry[1]
        value = self._compute(history)
        self._last = (history, value)
        return value

    def prime(self, history: UserHistory, value: T) -> None:
        self._last = (history, value)


def per_history(compute: Callable[[UserHistory], T]) -> PerHistory[T]:
    return PerHistory(compute)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _seconds(moments: list[datetime]) -> np.ndarray:
    return np.fromiter(map(datetime.timestamp, moments), dtype=float, count=len(moments))


@dataclass(frozen=True)
class CompletionArrays:
    """The task completions of a history, one entry per completion, in the history's order."""

    completed: np.ndarray  # UTC epoch seconds
    due: np.ndarray  # UTC epoch seconds, NaN without a due date
    project: np.ndarray  # index into ``projects``
    projects: tuple[str, ...]  # distinct project names ("" for none)


@per_history
def completion_arrays(history: UserHistory) -> CompletionArrays:
    completions = history.task_completions
    dues = list(map(attrgetter("due_at"), completions))
    names = list(map(attrgetter("project"), completions))
    index = {name: position for position, name in enumerate(dict.fromkeys(names))}
    return CompletionArrays(
        completed=_frozen(_seconds(list(map(attrgetter("completed_at"), completions)))),
        due=_frozen(np.array([d.timestamp() if d is not None else np.nan for d in dues], dtype=float)),
        project=_frozen(np.fromiter(map(index.__getitem__, names), dtype=np.int64, count=len(names))),
        projects=tuple(index),
    )


def utc_offsets(seconds: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """The UTC offset of ``zone``, in seconds, at each of ``seconds`` (ascending epoch seconds).

    Asks the zone about twice per week of history instead of once per moment, bisecting where the offset changes.
    """
    offsets = np.zeros(len(seconds))
    if len(seconds) == 0:
        return offsets

    def offset_at(index: int) -> float:
        offset = datetime.fromtimestamp(float(seconds[index]), zone).utcoffset()
        return offset.total_seconds() if offset is not None else 0.0

    last = len(seconds) - 1
    pending = [(0, last, offset_at(0), offset_at(last))]
    while pending:
        low, high, low_offset, high_offset = pending.pop()
        if low_offset == high_offset and seconds[high] - seconds[low] <= SAME_OFFSET_SPAN:
            offsets[low : high + 1] = low_offset
        elif high - low <= 1:
            offsets[low], offsets[high] = low_offset, high_offset
        else:
            middle = (low + high) // 2
            middle_offset = offset_at(middle)
            pending += [(low, middle, low_offset, middle_offset), (middle, high, middle_offset, high_offset)]
    return offsets


def weekday_of(day: np.ndarray) -> np.ndarray:
    """Monday = 0 for local day numbers (day 0, 1970-01-01, was a Thursday)."""
    return (day + 3) % 7


def local_day(history: UserHistory, moment: datetime) -> int:
    """The local day number (days since 1970-01-01 on the person's calendar) of ``moment``."""
    return history.local(moment).toordinal() - EPOCH_ORDINAL


@dataclass(frozen=True)
class LocalDone:
    """A person's done moments in their zone; days are numbered from 1970-01-01 on their local calendar."""

    seconds: np.ndarray  # UTC epoch seconds, ascending
    day: np.ndarray  # local day number of each moment
    hour: np.ndarray  # local hour (0-23) of each moment
    today: int  # local day number of ``history.now`` (a partial day)
    first_day: int  # local day of the first moment of any kind: since when the person is observed at all
    from_tasks: bool  # task completions (True) or, without any, completed tips (False)

    @property
    def noun(self) -> str:
        return "tasks" if self.from_tasks else "tips"

    def on_days(self, start: int, end: int) -> np.ndarray:
        """Which moments fall on local days ``[start, end)`` (a boolean mask)."""
        return (self.day >= start) & (self.day < end)


@per_history
def local_done(history: UserHistory) -> LocalDone:
    """The done moments of ``history`` on the person's local calendar."""
    from_tasks = bool(history.task_completions)
    if from_tasks:
        seconds = np.sort(completion_arrays(history).completed)
    else:
        seconds = np.sort(_seconds([e.at for e in history.events if e.type in DONE_EVENTS]))
    local = seconds + utc_offsets(seconds, history.zone)
    firsts = [min(map(attrgetter("at"), history.events), default=history.now)]
    firsts += [min(map(attrgetter("completed_at"), history.task_completions), default=history.now)]
    return LocalDone(
        seconds=_frozen(seconds),
        day=_frozen(np.floor_divide(local, DAY).astype(np.int64)),
        hour=_frozen((np.floor_divide(local, 3600) % 24).astype(np.int64)),
        today=local_day(history, history.now),
        first_day=local_day(history, min(firsts)),
        from_tasks=from_tasks,
    )


@dataclass(frozen=True)
class LocalMoments:
    """Moments on a person's local calendar: the day number (from 1970-01-01) and the hour (0-23) of each."""

    day: np.ndarray
    hour: np.ndarray


@per_history
def local_activity(history: UserHistory) -> LocalMoments:
    """Everything the person did (every event and every task completion), ascending, on their local calendar."""
    seconds = np.sort(np.concatenate([_seconds([e.at for e in history.events]), completion_arrays(history).completed]))
    local = seconds + utc_offsets(seconds, history.zone)
    return LocalMoments(
        day=_frozen(np.floor_divide(local, DAY).astype(np.int64)),
        hour=_frozen((np.floor_divide(local, 3600) % 24).astype(np.int64)),
    )


def days_seen(day: np.ndarray) -> int:
    """On how many distinct local days moments on local days ``day`` (one entry per moment) fall."""
    return int(np.unique(day).size)
