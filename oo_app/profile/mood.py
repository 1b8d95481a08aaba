"""Mood check-ins: one tap on the tip page, stored as an event (``type = "mood"``, payload ``{"level": n}``).

The scale is three levels (:data:`agents.base.MOOD_LEVELS`: 1 low, 2 okay, 3 good): few enough to answer without
thinking. A person has at most one check-in per ``REPLACE_WINDOW``: a tap within it replaces the last one (its level
and time) instead of adding another. Check-ins need consent ``mood``; without it nothing is written (Forbidden), and
revoking it deletes them (:func:`forget_moods`, called by :mod:`oo_app.profile.consents`). A new check-in drops the
mood agent's current outputs so the next tip reads it. Functions here flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import MOOD_CONSENT, MOOD_EVENT, MOOD_LEVELS
from oo_app.auth.errors import Forbidden
from oo_app.errors import InvalidInput
from oo_app.models import AgentOutput, Consent, Event, User

REPLACE_WINDOW = timedelta(minutes=30)
MOOD_AGENT = "mood"
SCALE = ", ".join(f"{level} ({word})" for level, word in MOOD_LEVELS.items())
NO_CONSENT = "mood check-ins are off: allow 'mood' in your settings first; nothing was stored"


@dataclass(frozen=True)
class MoodCheckInState:
    """A stored check-in: its level, the level's word, when, and whether it replaced one of the last minutes."""

    level: int
    label: str
    at: datetime
    replaced: bool


def mood_level(value: object) -> int:
    """``value`` as a mood level; InvalidInput naming the scale when it is not one of its levels."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in MOOD_LEVELS:
        raise InvalidInput(f"a mood is one of {SCALE}; {value!r} is not")
    return value


def mood_allowed(session: Session, user_id: int) -> bool:
    """Whether the person grants consent ``mood``."""
    query = select(Consent.id).where(
        Consent.user_id == user_id,
        Consent.key == MOOD_CONSENT,
        Consent.granted == True,  # noqa: E712
    )
    return session.exec(query).first() is not None


def _latest(session: Session, user_id: int) -> Event | None:
    return session.exec(
        select(Event)
        .where(Event.user_id == user_id, Event.type == MOOD_EVENT)
        .order_by(col(Event.at).desc(), col(Event.id).desc())
        .limit(1)
    ).first()


def record_mood(session: Session, user: User, level: object, now: datetime | None = None) -> MoodCheckInState:
    """Store a check-in at ``level`` for ``user``: InvalidInput for a level off the scale and Forbidden without
    consent ``mood``, both before anything is written; within ``REPLACE_WINDOW`` of the last check-in, that one is
    replaced."""
    checked = mood_level(level)
    if not mood_allowed(session, user.id):
        raise Forbidden(NO_CONSENT)
    now = now or datetime.now(UTC)
    # Two taps at once from two tabs: the person's row serialises them (PostgreSQL), so they never make two check-ins.
    session.exec(select(User.id).where(User.id == user.id).with_for_update()).first()
    last = _latest(session, user.id)
    replaced = last is not None and now - last.at < REPLACE_WINDOW
    row = last if replaced and last is not None else Event(user_id=user.id, type=MOOD_EVENT)
    row.at, row.payload = now, {"level": checked}
    session.add(row)
    session.exec(sa.delete(AgentOutput).where(AgentOutput.user_id == user.id, AgentOutput.agent_id == MOOD_AGENT))
    session.flush()
    return MoodCheckInState(checked, MOOD_LEVELS[checked], now, replaced)


def current_mood(session: Session, user: User, now: datetime | None = None) -> MoodCheckInState | None:
    """The check-in a tap now would replace (one within ``REPLACE_WINDOW``), or None."""
    now = now or datetime.now(UTC)
    last = _latest(session, user.id)
    if last is None or now - last.at >= REPLACE_WINDOW:
        return None
    level = last.payload.get("level")
    if level not in MOOD_LEVELS:
        return None
    return MoodCheckInState(level, MOOD_LEVELS[level], last.at, False)


def forget_moods(session: Session, user_id: int) -> int:
    """Delete every mood check-in of the person; how many were deleted."""
    result = session.exec(sa.delete(Event).where(Event.user_id == user_id, Event.type == MOOD_EVENT))
    return result.rowcount or 0
