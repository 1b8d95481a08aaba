"""Queries of the events notebook (``admin_notebooks/events.py``): the signal store by person, type and time, and its
counts per day. Reads only; payloads come back as compact JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from oo_app.hub.shared import bound, hub_session, person_condition
from oo_app.models import Event, EventType, User

EVENT_COLUMNS = ["id", "at", "person_id", "person", "type", "payload"]


@dataclass(frozen=True)
class EventFilters:
    """Which events to look at: ``person`` is an id or part of an email; ``types`` keeps those types (empty: all);
    ``start`` and ``end`` are UTC days (both included) or aware instants (end excluded)."""

    person: str | None = None
    types: tuple[str, ...] = ()
    start: date | datetime | None = None
    end: date | datetime | None = None


def _event_query(filters: EventFilters) -> Any:
    start, end = bound(filters.start, end=False), bound(filters.end, end=True)
    conditions = [
        person_condition(filters.person),
        col(Event.type).in_(list(filters.types)) if filters.types else None,
        col(Event.at) >= start if start else None,
        col(Event.at) < end if end else None,
    ]
    return (
        select(Event.id, Event.at, Event.user_id, User.email, Event.type, Event.payload)
        .join(User, col(User.id) == col(Event.user_id))
        .where(*[condition for condition in conditions if condition is not None])
    )


def events(engine: Engine, filters: EventFilters = EventFilters(), limit: int = 500) -> pd.DataFrame:
    """The events that pass ``filters``, newest first, at most ``limit``: columns :data:`EVENT_COLUMNS`; ``payload``
    is compact JSON text."""
    query = _event_query(filters).order_by(col(Event.at).desc(), col(Event.id).desc()).limit(limit)
    with hub_session(engine) as session:
        rows = [
            (event_id, at, user_id, email, kind, json.dumps(payload, sort_keys=True, separators=(",", ":")))
            for event_id, at, user_id, email, kind, payload in session.exec(query).all()
        ]
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def events_per_day(engine: Engine, filters: EventFilters = EventFilters()) -> pd.DataFrame:
    """Counts of the events that pass ``filters`` per UTC day and type: columns ``date``, ``type``, ``events``;
    oldest first, days without events left out."""
    with hub_session(engine) as session:
        rows = session.exec(_event_query(filters)).all()
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["date"] = pd.to_datetime(frame["at"], utc=True).dt.date
    counts = frame.groupby(["date", "type"], as_index=False).agg(events=("id", "count"))
    return counts.sort_values(["date", "type"], ignore_index=True)


def event_types(engine: Engine) -> list[str]:
    """Every event type oO knows and every type stored, sorted."""
    with hub_session(engine) as session:
        stored = set(session.exec(select(Event.type).distinct()))
    return sorted(stored | {kind.value for kind in EventType})
