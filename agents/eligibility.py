"""Which agents may speak for a person: consents granted, not switched off, fitting the context in effect.

Used by the runner (what to compute) and the recommender (whose snippets to read), so both agree. The context in
effect (:func:`context_in_effect`) is the person's hand choice or their schedule's (:func:`agents.contexts.context_at`),
on the person's clock: the time-of-day agent's ``tz`` when they set or oO inferred one, else their account's zone.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence, Set
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import Agent
from agents.contexts import WEEKDAYS, ContextKind, InEffect, WeeklySlot, context_at, fits, kind_of
from agents.registry import registry
from oo_app.clock import zone
from oo_app.models import Consent, Context, User, UserPreference

log = logging.getLogger(__name__)

ENABLED_KEY = "enabled"
ZONE_SCOPE, ZONE_KEY = "time-of-day", "tz"


def slot_of(stored: Mapping[str, Any]) -> WeeklySlot:
    """A stored schedule (``{"weekdays": ["mon", ...], "start": "09:00", "end": "17:00"}``) as a slot; raises
    ValueError, KeyError or TypeError on anything else (the profile validates schedules before storing them)."""
    days = frozenset(WEEKDAYS.index(day) for day in stored["weekdays"])
    start, end = (int(stored[key][:2]) * 60 + int(stored[key][3:5]) for key in ("start", "end"))
    return WeeklySlot(days, start, end)


def _slots(row: Context) -> list[WeeklySlot]:
    try:
        return [slot_of(stored) for stored in row.schedules or []]
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("context %s has a schedule oO cannot read; it is ignored", row.id)
        return []


# Every tip and every agent run asks these: built once, their values bound at each call (building a statement costs
# SQLAlchemy more CPU than running it).
_USER_ID = sa.bindparam("user_id")
_PREFERRED_ZONE = select(UserPreference.value).where(
    UserPreference.user_id == _USER_ID, UserPreference.scope == ZONE_SCOPE, UserPreference.key == ZONE_KEY
)
_ACCOUNT_ZONE = select(User.tz).where(User.id == _USER_ID)
_CONTEXTS = select(Context).where(Context.user_id == _USER_ID).order_by(col(Context.id))
_GRANTED = select(Consent.key).where(Consent.user_id == _USER_ID, Consent.granted == True)  # noqa: E712
_SWITCHES = select(UserPreference.scope, UserPreference.value).where(
    UserPreference.user_id == _USER_ID, UserPreference.key == ENABLED_KEY
)


def person_zone(session: Session, user_id: int) -> str:
    """The person's time zone name: the time-of-day ``tz`` preference when there is one, else the account's."""
    preferred = session.exec(_PREFERRED_ZONE, params={"user_id": user_id}).first()
    account = None if _is_zone(preferred) else session.exec(_ACCOUNT_ZONE, params={"user_id": user_id}).first()
    return _zone_name(preferred, account)


def _is_zone(preferred: Any) -> bool:
    return isinstance(preferred, str) and bool(preferred)


def _zone_name(preferred: Any, account: str | None) -> str:
    """The zone a person's clock reads: their ``tz`` preference when it names one, else their account's, else UTC."""
    return preferred if _is_zone(preferred) else account or "UTC"


def context_in_effect(session: Session, user_id: int, now: datetime | None = None) -> InEffect | None:
    """The person's context in effect at ``now`` (default: now): hand choice or schedule; None when there is none."""
    rows = list(session.exec(_CONTEXTS, params={"user_id": user_id}))
    if not rows:
        return None
    return _in_effect(rows, person_zone(session, user_id), now or datetime.now(UTC))


def _in_effect(rows: Sequence[Context], zone_name: str, now: datetime) -> InEffect | None:
    """The context in effect at ``now`` of a person whose contexts are ``rows`` (by id) and whose clock reads
    ``zone_name``."""
    chosen = next((row.name for row in rows if row.active), None)
    switched = [row.switched_at for row in rows if row.switched_at is not None]
    kinds: dict[str, ContextKind] = {}
    for row in rows:
        try:
            kinds[row.name] = kind_of(row.name, row.kind)
        except ValueError:
            log.warning("context %s has an unknown kind %r; taken from its name", row.id, row.kind)
            kinds[row.name] = kind_of(row.name)
    return context_at(
        chosen,
        max(switched) if switched else None,
        {row.name: _slots(row) for row in rows},
        kinds,
        zone(zone_name),
        now,
    )


# Passed as ``in_effect`` when the caller has not read the context in effect: eligible_agents reads it if it must.
UNREAD: Any = object()


def eligible_agents(
    session: Session,
    user_id: int,
    now: datetime | None = None,
    *,
    among: Collection[str] | None = None,
    in_effect: InEffect | None = UNREAD,
) -> list[Agent]:
    """The agents (of ``among``, agent ids, when given) that may speak for the person at ``now``.

    The context in effect is read only when some agent that the consents and switches let through declares the
    contexts it fits; a caller that already read it (at ``now``) passes it as ``in_effect``, so that a tip reads it
    once (benchmarks/react_path.py)."""
    granted = set(session.exec(_GRANTED, params={"user_id": user_id}))
    switches = session.exec(_SWITCHES, params={"user_id": user_id})
    allowed = allowed_agents(granted, switched_off(switches), among)
    if not needs_context(allowed):
        return allowed
    return fitting(allowed, context_in_effect(session, user_id, now) if in_effect is UNREAD else in_effect)


# The rule itself, apart from how its inputs are read (one person's above, or a group's at once).


def switched_off(switches: Iterable[tuple[str, Any]]) -> set[str]:
    """The agent ids a person's ``(scope, value)`` rows of the key ``enabled`` switch off: only a stored False does."""
    return {scope for scope, value in switches if value is False}


def allowed_agents(granted: Set[str], disabled: Set[str], among: Collection[str] | None = None) -> list[Agent]:
    """The registered agents (of ``among``, agent ids, when given) whose consents are all ``granted`` and which are
    not ``disabled``, in registry order: the eligible ones, unless the context in effect silences some
    (:func:`fitting`)."""
    return [
        agent
        for agent in registry().values()
        if (among is None or agent.manifest.id in among)
        and granted.issuperset(agent.manifest.consents)
        and agent.manifest.id not in disabled
    ]


def needs_context(allowed: Iterable[Agent]) -> bool:
    """Whether the context in effect can silence any of ``allowed``: only agents declaring contexts fit some only."""
    return any(agent.manifest.contexts for agent in allowed)


def fitting(allowed: Iterable[Agent], context: InEffect | None) -> list[Agent]:
    """Those of ``allowed`` that fit ``context``, the person's context in effect (None: none)."""
    kind = context.kind if context is not None else None
    return [agent for agent in allowed if fits(agent.manifest.contexts, kind)]


# A round's group at once (agents.due_pairs): the same rows as the statements above, of many persons in one statement.
READ_GROUP = 500  # persons whose rows one statement reads (a bounded IN list)


def in_groups(user_ids: Sequence[int]) -> Iterator[Sequence[int]]:
    """``user_ids`` in consecutive groups of at most :data:`READ_GROUP`, for the group reads below."""
    for first in range(0, len(user_ids), READ_GROUP):
        yield user_ids[first : first + READ_GROUP]


_GROUP = sa.bindparam("user_ids", expanding=True)
_GROUP_GRANTED = select(Consent.user_id, Consent.key).where(col(Consent.user_id).in_(_GROUP), Consent.granted == True)  # noqa: E712
_GROUP_SWITCHES = select(UserPreference.user_id, UserPreference.scope, UserPreference.value).where(
    col(UserPreference.user_id).in_(_GROUP), UserPreference.key == ENABLED_KEY
)
_GROUP_CONTEXTS = select(Context).where(col(Context.user_id).in_(_GROUP)).order_by(col(Context.id))
_GROUP_ZONES = (
    select(User.id, User.tz, UserPreference.value)
    .outerjoin(
        UserPreference,
        sa.and_(UserPreference.user_id == User.id, UserPreference.scope == ZONE_SCOPE, UserPreference.key == ZONE_KEY),
    )
    .where(col(User.id).in_(_GROUP))
)


def eligible_agents_of(session: Session, user_ids: Collection[int], now: datetime) -> dict[int, list[Agent]]:
    """:func:`eligible_agents` of each of the persons ``user_ids`` at ``now``, by person id, read for all of them at
    once: their consents in one statement, their switches in another, and the contexts in effect of those whose
    allowed agents declare contexts in two more (:func:`contexts_in_effect`)."""
    if not user_ids:
        return {}
    group = {"user_ids": list(user_ids)}
    granted: dict[int, set[str]] = {user_id: set() for user_id in user_ids}
    for user_id, key in session.exec(_GROUP_GRANTED, params=group):
        granted[user_id].add(key)
    switches: dict[int, list[tuple[str, Any]]] = {user_id: [] for user_id in user_ids}
    for user_id, scope, value in session.exec(_GROUP_SWITCHES, params=group):
        switches[user_id].append((scope, value))
    allowed = {user_id: allowed_agents(granted[user_id], switched_off(switches[user_id])) for user_id in user_ids}
    contexts = contexts_in_effect(
        session, [user_id for user_id, agents in allowed.items() if needs_context(agents)], now
    )
    return {
        user_id: fitting(agents, contexts[user_id]) if user_id in contexts else agents
        for user_id, agents in allowed.items()
    }


def contexts_in_effect(session: Session, user_ids: Collection[int], now: datetime) -> dict[int, InEffect | None]:
    """:func:`context_in_effect` of each of the persons ``user_ids`` at ``now``, by person id: their contexts read in
    one statement, and the zones of those who have any in another."""
    if not user_ids:
        return {}
    rows: dict[int, list[Context]] = {}
    for row in session.exec(_GROUP_CONTEXTS, params={"user_ids": list(user_ids)}):
        rows.setdefault(row.user_id, []).append(row)
    zones = {}
    if rows:
        for user_id, account, preferred in session.exec(_GROUP_ZONES, params={"user_ids": list(rows)}):
            zones[user_id] = _zone_name(preferred, account)
    return {
        user_id: _in_effect(rows[user_id], zones.get(user_id, _zone_name(None, None)), now) if user_id in rows else None
        for user_id in user_ids
    }
