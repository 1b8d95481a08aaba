"""Named contexts ("work", "holiday", ...): a person creates, switches, schedules and deletes them.

What a context means: the person names it; oO reads a *kind* from it (:mod:`agents.contexts`): ``work``, ``home``,
``rest`` (holiday, vacation, a day off) or ``any`` (every agent fits), from the kind the person picked when creating
it, else from the last word of its name that oO knows ("office" -> work, "summer holiday" -> rest), else ``any``.
Agents declare the kinds they fit in their manifest (none declared: every context); while a context is in effect
only the agents fitting its kind speak (:func:`agents.eligibility.eligible_agents`), the prompt states it as a fact
("context: holiday (rest)") and the composer follows it (at rest no todo, at work the task agents first).

Which context is in effect: the one the person chose by hand (``active``; "none" is a choice too) when they chose
since the last schedule boundary, else the one a weekly schedule puts there, else none. A schedule is weekdays and a
start and an end on the person's clock (their zone, DST included; it runs overnight when it ends at or before its
start). Schedules are checked here before they are stored: a known weekday, a real time, an end that differs from the
start, and no overlap with another context's schedules (the error names both).

At most one context is active at a time: choosing one unchooses the others, in one transaction, and stamps
``switched_at`` on all the person's rows. Names are trimmed, single-line, 1-64 characters and unique per person
regardless of case; they are looked up regardless of case. A person has at most ``MAX_CONTEXTS``. Functions here
flush and never commit: the caller's session is the transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from agents.contexts import WEEKDAYS, ContextKind, kind_of, slots_overlap
from agents.eligibility import context_in_effect, slot_of
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.models import Context, User

MAX_NAME = 64
MAX_CONTEXTS = 20
MAX_SCHEDULES = 7  # per context
FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

ContextAction = Literal["create", "activate", "deactivate", "delete"]


@dataclass(frozen=True)
class ContextState:
    """A context as the person sees it: ``active`` when chosen by hand, ``in_effect`` when it is the one the agents
    see now (by hand or by schedule); ``kind`` as oO reads it; ``schedules`` as stored."""

    name: str
    active: bool
    created_at: datetime
    kind: str = ContextKind.any.value
    in_effect: bool = False
    schedules: list[dict[str, Any]] = field(default_factory=list)


def _kind(row: Context) -> ContextKind:
    try:
        return kind_of(row.name, row.kind)
    except ValueError:
        return kind_of(row.name)


def _state(row: Context, in_effect: str | None = None) -> ContextState:
    return ContextState(
        name=row.name,
        active=row.active,
        created_at=row.created_at,
        kind=_kind(row).value,
        in_effect=row.name == in_effect,
        schedules=list(row.schedules or []),
    )


def context_kind(kind: str | None) -> str | None:
    """``kind`` as stored: one of work, home, rest, any, or None (read from the name); InvalidInput otherwise."""
    if kind is None or not kind.strip():
        return None
    try:
        return ContextKind(kind.strip().lower()).value
    except ValueError:
        raise InvalidInput(
            f"{kind[:16]!r} is not a kind of context; use {', '.join(k.value for k in ContextKind)}"
        ) from None


def context_name(name: str) -> str:
    """``name`` as stored: whitespace trimmed and collapsed; InvalidInput when empty, too long or not one line."""
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidInput("a context name is plain text on one line, without control characters")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("a context needs a name, such as 'work' or 'holiday'")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"a context name has at most {MAX_NAME} characters; {len(cleaned)} given")
    return cleaned


def _rows(session: Session, user_id: int, *, lock: bool = False) -> list[Context]:
    query = select(Context).where(Context.user_id == user_id).order_by(col(Context.created_at), col(Context.id))
    return list(session.exec(query.with_for_update() if lock else query))


def _find(rows: list[Context], name: str) -> Context | None:
    wanted = " ".join(name.split()).casefold()
    return next((row for row in rows if row.name.casefold() == wanted), None)


def _named(rows: list[Context], name: str) -> Context:
    row = _find(rows, name)
    if row is None:
        known = ", ".join(repr(row.name) for row in rows) or "none yet"
        raise NotFound(f"you have no context named {name[:MAX_NAME]!r}; your contexts: {known}")
    return row


def list_contexts(session: Session, user: User, now: datetime | None = None) -> list[ContextState]:
    """The person's contexts, oldest first, the one in effect at ``now`` (default: now) marked."""
    current = context_in_effect(session, user.id, now)
    return [_state(row, current.name if current else None) for row in _rows(session, user.id)]


def create_context(
    session: Session, user: User, name: str, *, activate: bool = False, kind: str | None = None
) -> ContextState:
    """A new context named ``name`` (inactive unless ``activate``), of ``kind`` when given (else read from the name).
    Conflict when the person already has one of that name (any case) or already has ``MAX_CONTEXTS``; InvalidInput
    for a bad name or kind."""
    cleaned = context_name(name)
    chosen_kind = context_kind(kind)
    rows = _rows(session, user.id, lock=True)
    if _find(rows, cleaned) is not None:
        raise Conflict(f"you already have a context named {cleaned!r}")
    if len(rows) >= MAX_CONTEXTS:
        raise Conflict(f"you have {MAX_CONTEXTS} contexts, the most oO keeps; delete one first")
    row = Context(user_id=user.id, name=cleaned, kind=chosen_kind)
    session.add(row)
    session.flush()
    return activate_context(session, user, cleaned) if activate else _state(row)


def _choose(session: Session, rows: list[Context], chosen: Context | None, now: datetime | None) -> None:
    """Record the person's hand choice (None: no context) at ``now``; it holds until the next schedule boundary."""
    moment = now or datetime.now(UTC)
    for row in rows:
        row.active = row is chosen
        row.switched_at = moment
        session.add(row)
    session.flush()


def activate_context(session: Session, user: User, name: str, now: datetime | None = None) -> ContextState:
    """Choose ``name`` by hand as the person's one active context (the others become inactive) at ``now``; it is in
    effect until the next schedule boundary. NotFound for an unknown name."""
    rows = _rows(session, user.id, lock=True)
    chosen = _named(rows, name)
    _choose(session, rows, chosen, now)
    return _state(chosen, chosen.name)


def deactivate_context(session: Session, user: User, name: str, now: datetime | None = None) -> ContextState:
    """Choose no context by hand when ``name`` is active or in effect (then none is, until the next schedule
    boundary); nothing changes for another context. NotFound for an unknown name."""
    rows = _rows(session, user.id, lock=True)
    row = _named(rows, name)
    current = context_in_effect(session, user.id, now)
    if row.active or (current is not None and current.name == row.name):
        _choose(session, rows, None, now)
    return _state(row)


def switch_context(session: Session, user: User, name: str | None, now: datetime | None = None) -> str | None:
    """The one-tap switch: choose ``name`` by hand, or no context when ``name`` is None; the name in effect after.
    NotFound for an unknown name."""
    rows = _rows(session, user.id, lock=True)
    chosen = _named(rows, name) if name is not None else None
    _choose(session, rows, chosen, now)
    return chosen.name if chosen is not None else None


def delete_context(session: Session, user: User, name: str) -> None:
    """Delete the context ``name``, active or not; NotFound for an unknown name."""
    row = _named(_rows(session, user.id, lock=True), name)
    session.delete(row)
    session.flush()


def change_context(
    session: Session, user: User, action: ContextAction, name: str, kind: str | None = None
) -> list[ContextState]:
    """Apply one ``action`` to the context ``name`` (``kind`` only with ``create``); the person's contexts after."""
    if kind is not None and action != "create":
        raise InvalidInput("a context's kind is given when creating it; delete and create it to change the kind")
    if action == "create":
        create_context(session, user, name, kind=kind)
    elif action == "activate":
        activate_context(session, user, name)
    elif action == "deactivate":
        deactivate_context(session, user, name)
    elif action == "delete":
        delete_context(session, user, name)
    else:
        raise InvalidInput(f"unknown context action {action!r}; use create, activate, deactivate or delete")
    return list_contexts(session, user)


def _clock(value: Any, what: str) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if len(text) == 4 and text[1] == ":":
        text = "0" + text  # 9:00 -> 09:00
    if not _CLOCK.match(text):
        raise InvalidInput(f"the {what} {str(value)[:16]!r} is not a time of day; write it like 09:00 or 17:30")
    return text


def _weekdays(values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        raise InvalidInput("a schedule needs at least one weekday (mon, tue, wed, thu, fri, sat, sun)")
    days = set()
    for value in values:
        day = value.strip().lower() if isinstance(value, str) else ""
        day = WEEKDAYS[FULL_WEEKDAYS.index(day)] if day in FULL_WEEKDAYS else day
        if day not in WEEKDAYS:
            raise InvalidInput(f"{str(value)[:16]!r} is not a weekday; use mon, tue, wed, thu, fri, sat or sun")
        days.add(day)
    return [day for day in WEEKDAYS if day in days]


def schedule_of(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One schedule as stored (``{"weekdays": ["mon", ...], "start": "09:00", "end": "17:00"}``), weekdays in week
    order; InvalidInput for an unknown weekday, a time that is not ``HH:MM`` or an end equal to the start."""
    start, end = _clock(raw.get("start"), "start"), _clock(raw.get("end"), "end")
    if start == end:
        raise InvalidInput(
            f"a schedule cannot end when it starts ({start}); for a whole day, run it from 00:00 to 23:59"
        )
    return {"weekdays": _weekdays(raw.get("weekdays")), "start": start, "end": end}


def describe(schedule: Mapping[str, Any]) -> str:
    """A schedule in plain words: ``mon, tue 09:00-17:00``."""
    return f"{', '.join(schedule['weekdays'])} {schedule['start']}-{schedule['end']}"


def set_schedules(
    session: Session, user: User, name: str, schedules: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> ContextState:
    """Replace the weekly schedules of the context ``name`` (an empty list removes them). NotFound for an unknown
    name; InvalidInput for a bad schedule or more than ``MAX_SCHEDULES``; Conflict when one overlaps a schedule of
    another context. Nothing is stored unless every schedule is good."""
    rows = _rows(session, user.id, lock=True)
    row = _named(rows, name)
    cleaned = [schedule_of(raw) for raw in schedules]
    if len(cleaned) > MAX_SCHEDULES:
        raise InvalidInput(f"a context has at most {MAX_SCHEDULES} schedules; {len(cleaned)} given")
    for other in rows:
        if other is row:
            continue
        for theirs in other.schedules or []:
            try:
                their_slot = slot_of(theirs)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # unreadable (never stored through here): ignored where schedules are read too
            for mine in cleaned:
                if slots_overlap(slot_of(mine), their_slot):
                    raise Conflict(
                        f"{row.name}'s schedule {describe(mine)} overlaps {other.name}'s {describe(theirs)}; "
                        "change one of them first"
                    )
    row.schedules = cleaned
    session.add(row)
    session.flush()
    current = context_in_effect(session, user.id, now)
    return _state(row, current.name if current else None)


def add_schedule(session: Session, user: User, name: str, schedule: Mapping[str, Any]) -> str:
    """Add one weekly schedule to the context ``name`` (checked as :func:`set_schedules` checks); a plain-words
    notice."""
    row = _named(_rows(session, user.id, lock=True), name)
    cleaned = schedule_of(schedule)
    set_schedules(session, user, name, [*(row.schedules or []), cleaned])
    return f"{row.name}: {describe(cleaned)} added"
