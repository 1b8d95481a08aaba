"""A person's events and task completions held as numbers, as a batch read them from the database in one go.

:class:`EventColumn` and :class:`CompletionColumn` stand in for the tuples of :class:`agents.base.UserHistory`: each
is a read-only sequence of the same :class:`~agents.base.HistoryEvent` / :class:`~agents.base.Completion` values,
built only when something iterates them. The batch path (:class:`agents.population.Population`) reads their numbers
instead, so a round never builds a datetime per moment. Times are integer UTC epoch microseconds: ``micros / 1e6``
is bit for bit what ``datetime.timestamp()`` gives (both divide the exact integer once, correctly rounded).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, overload

import numpy as np

from agents.base import Completion, HistoryEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_DUE = np.iinfo(np.int64).min  # in ``CompletionColumn.due``: no due date


def moment(micros: int) -> datetime:
    """The aware UTC datetime of ``micros`` epoch microseconds (exact)."""
    return EPOCH + timedelta(microseconds=micros)


class _Column(Sequence[Any]):
    """A read-only sequence whose items are built from arrays on first use; equal to the tuple of its items."""

    @cached_property
    def items(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.micros)  # type: ignore[attr-defined]

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.items[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return repr(self.items)

    @property
    def seconds(self) -> np.ndarray:
        """UTC epoch seconds, as ``datetime.timestamp()`` gives them."""
        return self.micros / 1e6  # type: ignore[attr-defined]


class EventColumn(_Column):
    """A person's events, ascending: ``micros`` (UTC epoch microseconds) and ``kind`` (index into ``kinds``)."""

    def __init__(self, micros: np.ndarray, kind: np.ndarray, kinds: Sequence[str]) -> None:
        self.micros, self.kind, self.kinds = micros, kind, tuple(kinds)

    @cached_property
    def items(self) -> tuple[HistoryEvent, ...]:
        kinds = self.kinds
        return tuple(
            HistoryEvent(kinds[k], moment(m)) for k, m in zip(self.kind.tolist(), self.micros.tolist(), strict=True)
        )


class CompletionColumn(_Column):
    """A person's task completions, ascending: ``micros`` (completed), ``due`` (:data:`NO_DUE` without a due date)
    and ``project`` (index into ``projects``, names already plain)."""

    def __init__(self, micros: np.ndarray, due: np.ndarray, project: np.ndarray, projects: Sequence[str]) -> None:
        self.micros, self.due, self.project, self.projects = micros, due, project, tuple(projects)

    @property
    def due_seconds(self) -> np.ndarray:
        """UTC epoch seconds of the due dates, NaN without one."""
        return np.where(self.due == NO_DUE, np.nan, self.due / 1e6)

    @cached_property
    def items(self) -> tuple[Completion, ...]:
        names = self.projects
        return tuple(
            Completion(moment(m), None if d == NO_DUE else moment(d), names[p])
            for m, d, p in zip(self.micros.tolist(), self.due.tolist(), self.project.tolist(), strict=True)
        )
