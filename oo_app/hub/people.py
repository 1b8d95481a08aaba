"""Queries of the people notebook (``admin_notebooks/people.py``): what an operator may see of one person (the
settings page's profile, never a token), the state of their signals (first run, Todoist sync, mood, context), their
latest tips and newest output per agent. Reads only; never a task title, a token or a mood note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from agents.eligibility import context_in_effect
from oo_app.errors import NotFound
from oo_app.hub.shared import hub_session
from oo_app.hub.tips import TipFilters, tip_rows
from oo_app.models import AgentOutput, Context, Event, EventType, Integration, User
from oo_app.profile.overview import Profile, profile_of


@dataclass(frozen=True)
class PersonCard:
    """What an operator may see of one person: the profile of the settings page (never a token), their latest tips
    (columns :data:`TIP_LOG_COLUMNS`) and their newest output per agent."""

    profile: Profile
    tips: pd.DataFrame
    outputs: pd.DataFrame
    signals: pd.DataFrame  # columns SIGNAL_COLUMNS, one row per signal


SIGNAL_COLUMNS = ["signal", "state", "detail"]
MOOD_WINDOW = timedelta(days=14)
MOOD_WORDS = {1: "low", 2: "okay", 3: "good"}


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def signal_rows(session: Session, user: User, now: datetime) -> list[tuple[str, str, str]]:
    """How each of ``user``'s signals reaches their tips right now, as (signal, state, detail) rows: whether they
    answered the first run, each integration's sync (last sync, next attempt, failures, last error), their latest mood
    check-in and how many in the last 14 days, and the context in effect (by hand or by schedule)."""
    rows = [("first run", "answered" if user.onboarded_at else "not answered yet", _when(user.onboarded_at))]
    integrations = session.exec(
        select(  # never a token column
            Integration.provider,
            Integration.status,
            Integration.last_synced_at,
            Integration.next_attempt_at,
            Integration.consecutive_failures,
            Integration.last_error,
        ).where(Integration.user_id == user.id)
    ).all()
    for provider, status, synced, next_attempt, failures, error in integrations:
        detail = f"last synced {_when(synced)}"
        if next_attempt is not None:
            detail += f"; next attempt {_when(next_attempt)}"
        if failures:
            detail += f"; {failures} failures in a row, last: {error}"
        rows.append((provider, status, detail))
    moods = session.exec(
        select(Event.at, Event.payload)
        .where(Event.user_id == user.id, Event.type == EventType.mood, Event.at >= now - MOOD_WINDOW)
        .order_by(col(Event.at).desc())
    ).all()
    if moods:
        level = moods[0][1].get("level")
        rows.append(("mood", MOOD_WORDS.get(level, str(level)), f"{_when(moods[0][0])}; {len(moods)} in 14 days"))
    else:
        rows.append(("mood", "no check-in", "none in 14 days"))
    in_effect = context_in_effect(session, user.id, now)
    contexts = session.exec(select(Context.schedules).where(Context.user_id == user.id)).all()
    slots = sum(len(schedules or []) for schedules in contexts)
    counts = f"{len(contexts)} contexts, {slots} weekly slots"
    if in_effect is None:
        rows.append(("context", "none", counts))
    else:
        how = "by schedule" if in_effect.scheduled else "by hand"
        rows.append(("context", f"{in_effect.name} ({in_effect.kind})", f"{how}; {counts}"))
    return rows


def find_person(engine: Engine, who: str, now: datetime | None = None, tips: int = 20) -> PersonCard:
    """The :class:`PersonCard` of the person whose id or exact email (any case) is ``who``; NotFound otherwise."""
    now = now or datetime.now(UTC)
    who = who.strip()
    with hub_session(engine) as session:
        if who.isdigit():
            user = session.get(User, int(who))
        else:
            user = session.exec(select(User).where(func.lower(User.email) == who.lower())).first()
        if user is None:
            raise NotFound(f"no person with the id or email {who!r}")
        profile = profile_of(session, user, now)
        latest = session.exec(
            select(
                AgentOutput.agent_id,
                AgentOutput.agent_version,
                AgentOutput.computed_at,
                AgentOutput.expires_at,
                AgentOutput.snippet,
            )
            .where(AgentOutput.user_id == user.id)
            .order_by(col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())
        ).all()
        log_rows = tip_rows(session, TipFilters(person=str(user.id), shadow=None), tips)
        signals = pd.DataFrame(signal_rows(session, user, now), columns=SIGNAL_COLUMNS)
    newest: dict[str, tuple[Any, ...]] = {}
    for agent_id, version, computed_at, expires_at, snippet in latest:
        newest.setdefault(agent_id, (agent_id, version, computed_at, expires_at, expires_at > now, snippet))
    outputs = pd.DataFrame(
        [newest[agent_id] for agent_id in sorted(newest)],
        columns=["agent", "version", "computed_at", "expires_at", "fresh", "snippet"],
    )
    return PersonCard(profile=profile, tips=log_rows, outputs=outputs, signals=signals)
