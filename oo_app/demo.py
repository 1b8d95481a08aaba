"""Synthetic histories with planted habits, and the demo person seeded into an empty database.

:func:`synthetic_history` writes the persona format of ``shared/personas`` (without ``truth``) so tests and
benchmarks can make as many people as they need; :func:`seed_demo` stores one such history for ``demo@example.com``;
:func:`seed_fresh_person` makes a brand-new person with no history, for trying the first run by hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, insert, select

from oo_app.errors import Conflict, InvalidInput
from oo_app.models import Consent, Event, TaskCompletion, User

DEMO_CONSENTS = ("activity", "calendar", "mood", "tasks")


@dataclass(frozen=True)
class Habits:
    """The habits planted in a synthetic history (local time of the person)."""

    tz: str = "Europe/Berlin"
    preferred_hour: int = 10
    quiet_start: int = 23
    quiet_end: int = 7
    projects: tuple[tuple[str, float], ...] = (("Work", 0.5), ("Home", 0.3), ("Health", 0.2))
    completions_per_day: float = 3.0
    lateness_days: float = 1.0
    weekend_factor: float = 1.0
    weekday_weights: tuple[float, ...] = (1.0,) * 7  # relative completion rate per local weekday, Monday first
    recent_factor: float = 1.0  # completion rate multiplier over the last 7 days: a planted engagement trend
    project_lateness: tuple[tuple[str, float], ...] = ()  # days late per project, instead of ``lateness_days``


def _active_hours(habits: Habits) -> list[int]:
    start, end = habits.quiet_start, habits.quiet_end
    quiet = {h for h in range(24) if (start <= h < end if start < end else h >= start or h < end)}
    return [h for h in range(24) if h not in quiet]


def synthetic_history(habits: Habits, days: int = 90, now: datetime | None = None, seed: int = 0) -> dict[str, Any]:
    """A persona-format history of ``days`` days ending at ``now`` with ``habits`` planted in it."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    zone = ZoneInfo(habits.tz)
    active = _active_hours(habits)
    names = [name for name, _ in habits.projects]
    weights = [weight for _, weight in habits.projects]
    events: list[dict[str, str]] = []
    completions: list[dict[str, str]] = []
    lateness = dict(habits.project_lateness)
    first_day = (now.astimezone(zone) - timedelta(days=days)).date()
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        rate = habits.completions_per_day * (habits.weekend_factor if day.weekday() >= 5 else 1.0)
        rate *= habits.weekday_weights[day.weekday()] * (habits.recent_factor if offset >= days - 7 else 1.0)
        count = max(0, round(rng.gauss(rate, rate**0.5)))
        for _ in range(count):
            if rng.random() < 0.6:
                hour = round(rng.gauss(habits.preferred_hour, 0.7)) % 24
                hour = hour if hour in active else habits.preferred_hour
            else:
                hour = rng.choice(active)
            local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=zone)
            done = local.astimezone(UTC)
            if done > now:
                continue
            noise = rng.gauss(0.0, 0.3)
            project = rng.choices(names, weights)[0]
            planted = lateness.get(project, habits.lateness_days)
            # A late habit is never early by chance; an early one (negative lateness) finishes before the due date.
            late = max(0.0, planted + noise) if planted >= 0 else planted + noise
            due = done - timedelta(days=late)
            completions.append({"completed_at": done.isoformat(), "due_at": due.isoformat(), "project": project})
            if rng.random() < 0.5:
                events.append({"type": "tip_shown", "at": (done - timedelta(minutes=5)).isoformat()})
                events.append({"type": "tip_done", "at": done.isoformat()})
        if rng.random() < 0.7:
            hour = rng.choice(active)
            opened = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=zone).astimezone(UTC)
            if opened <= now:
                events.append({"type": "app_open", "at": opened.isoformat()})
    events.sort(key=lambda event: event["at"])
    completions.sort(key=lambda completion: completion["completed_at"])
    return {"tz": habits.tz, "now": now.isoformat(), "events": events, "task_completions": completions}


def store_history(session: Session, user: User, history: dict[str, Any], source: str = "demo") -> None:
    """Write a persona-format history's events and completion derivatives for ``user``: inserted at once, in their
    order (a simulated person's months of history; row by row, the ORM took a statement for each)."""
    events = [
        {"user_id": user.id, "type": event["type"], "at": datetime.fromisoformat(event["at"]), "payload": {}}
        for event in history["events"]
    ]
    completions = [
        {
            "user_id": user.id,
            "source_key": f"{source}:{index}",
            "completed_at": datetime.fromisoformat(completion["completed_at"]),
            "due_at": datetime.fromisoformat(completion["due_at"]) if completion.get("due_at") else None,
            "project": completion.get("project", ""),
        }
        for index, completion in enumerate(history["task_completions"])
    ]
    for model, rows in ((Event, events), (TaskCompletion, completions)):
        if rows:
            session.execute(insert(model), rows)


def grant_consents(session: Session, user: User, keys: tuple[str, ...] = DEMO_CONSENTS) -> None:
    session.add_all(Consent(user_id=user.id, key=key, granted=True) for key in keys)


def seed_demo(session: Session, email: str, now: datetime | None = None, days: int = 90) -> User | None:
    """Create the demo person with ``days`` of synthetic history if the database has no person yet.

    Returns the new person, or None when the database already holds someone (the seed never touches real data).
    """
    if session.exec(select(User.id).limit(1)).first() is not None:
        return None
    habits = Habits()
    user = User(email=email.lower(), display_name="Demo", tz=habits.tz)
    session.add(user)
    session.flush()
    grant_consents(session, user)
    store_history(session, user, synthetic_history(habits, days=days, now=now, seed=7))
    session.flush()
    return user


def seed_fresh_person(session: Session, email: str) -> User:
    """Create a brand-new person for trying the first run by hand: no history, no consents, not onboarded (the tip
    page asks them the first-run question), like a person right after their first sign-in.

    Raises :class:`~oo_app.errors.Conflict` when a person with that email exists (nothing is changed) and
    :class:`~oo_app.errors.InvalidInput` for an address without ``@``. Flushes; the caller commits."""
    address = email.strip().lower()
    if "@" not in address or len(address) > 320:
        raise InvalidInput(f"{email!r} is not an email address")
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        raise Conflict(f"a person with the email {address} exists already; choose another email")
    user = User(email=address, display_name="", tz="UTC", onboarded_at=None)
    session.add(user)
    session.flush()
    return user
