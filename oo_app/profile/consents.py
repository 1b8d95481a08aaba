"""Consents: what a person allows oO (its agents' reading, web push), granted and revoked per key, with the text
they agreed to.

The keys are those the agents' manifests require (``activity``, ``tasks``, ...) and the product's own (``push``: web
push notifications, needed by no agent). Revoking one stops every agent that needs it
(:func:`agents.eligibility.eligible_agents` reads only granted consents) and deletes those agents' outputs for the
person in the same transaction; revoking ``push`` deletes the person's push subscriptions in it too, and revoking
``mood`` their mood check-ins (the person expects them to stop counting; kept, a new grant would bring them back),
revoking ``tasks`` forgets their open tasks cached in memory at once, and revoking ``calendar`` deletes their
``calendar_days`` in it and forgets their busy times in memory at once. Tips already shown stay in the person's tip
log: they are what oO told them.
Functions here flush and never commit: the caller's session is the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import MOOD_CONSENT
from agents.busy import CALENDAR_CONSENT
from agents.registry import registry
from oo_app.calendar.connections import forget_calendar
from oo_app.errors import InvalidInput
from oo_app.integrations import open_tasks
from oo_app.models import AgentOutput, Consent, PrefSource, User, UserPreference
from oo_app.profile.mood import forget_moods
from oo_app.push.subscriptions import PUSH_CONSENT, forget_subscriptions


@dataclass(frozen=True)
class ConsentText:
    """What a person agrees to: a short ``title`` and the ``text`` in plain words (what it lets oO do, then what oO
    never does with it); a new text gets a new ``version``."""

    version: str
    text: str
    title: str = ""


# The text a person agrees to, per key; a new text gets a new version, and the version agreed to is kept per person.
CONSENT_TEXTS: dict[str, ConsentText] = {
    "activity": ConsentText(
        "v2",
        "Lets oO learn your good and quiet hours from when you open it and how you answer its tips. oO never looks "
        "at anything you do outside oO.",
        "When you use oO",
    ),
    "tasks": ConsentText(
        "v3",
        "Lets oO learn your habits and main areas from when your tasks were done, when they were due and the names "
        "of their projects, and read your open tasks' titles while it writes a tip, to name one. oO never keeps a "
        "title or reads a description.",
        "Your tasks",
    ),
    MOOD_CONSENT: ConsentText(
        "v1",
        "Lets oO keep the energy check-ins you tap under a tip (low, okay or good), learn when your energy tends to "
        "dip and offer gentler tips then. oO never uses them for anything else nor nudges you to check in; turning it "
        "off deletes them.",
        "Your energy check-ins",
    ),
    CALENDAR_CONSENT: ConsentText(
        "v2",
        "Lets oO read when you are busy in the calendar you connect, so a tip fits the free time before your next "
        "meeting and nothing reaches you in one. oO takes only when each meeting starts and ends and keeps only how "
        "busy each day was; it never keeps a meeting's title, description, guests or place. Turning it off deletes "
        "what it kept.",
        "Your calendar",
    ),
    PUSH_CONSENT: ConsentText(
        "v2",
        "Lets oO send a tip as a notification to the browsers you turn it on in, at your good hours. oO never sends "
        "one in your quiet hours, nor more than three a day; turning it off unsubscribes them all.",
        "Notifications",
    ),
}


@dataclass(frozen=True)
class ConsentState:
    """One consent key for a person.

    ``title``, ``text`` and ``text_version`` are the current wording; ``agreed_version`` is the version the person
    granted (None when never granted); ``at`` is when they last granted or revoked it; ``agents`` need it to run.
    """

    key: str
    granted: bool
    title: str
    text: str
    text_version: str
    agreed_version: str | None
    at: datetime | None
    agents: list[str]


@dataclass(frozen=True)
class ConsentChange:
    """The consents after a change, the agents it stopped and how many of their outputs it deleted."""

    consents: list[ConsentState]
    stopped_agents: list[str]
    deleted_outputs: int
    note: str


def consent_keys() -> list[str]:
    """Every consent key: those an agent of the registry requires and the product's own (``push``), sorted."""
    return sorted({key for agent in registry().values() for key in agent.manifest.consents} | set(CONSENT_TEXTS))


def agents_needing(key: str) -> list[str]:
    """The ids of the agents that require consent ``key``."""
    return [agent_id for agent_id, agent in registry().items() if key in agent.manifest.consents]


def consent_text(key: str) -> ConsentText:
    """The wording of ``key``; a key without its own (a new agent's) gets one naming the agents that need it."""
    return CONSENT_TEXTS.get(key) or ConsentText(
        "v1",
        f"Lets oO's agents {', '.join(agents_needing(key))} read your {key} data to write your tips. oO never shares "
        "it.",
        key.replace("_", " ").capitalize(),
    )


def list_consents(session: Session, user: User) -> list[ConsentState]:
    """Every consent key with the person's answer (not granted when they never answered)."""
    rows = {row.key: row for row in session.exec(select(Consent).where(Consent.user_id == user.id))}
    states = []
    for key in consent_keys():
        row, text = rows.get(key), consent_text(key)
        states.append(
            ConsentState(
                key=key,
                granted=bool(row and row.granted),
                title=text.title,
                text=text.text,
                text_version=text.version,
                agreed_version=row.text_version if row is not None and row.granted else None,
                at=row.at if row is not None else None,
                agents=agents_needing(key),
            )
        )
    return states


def set_consents(
    session: Session, user: User, changes: Mapping[str, bool], now: datetime | None = None
) -> ConsentChange:
    """Grant (True) or revoke (False) consent keys for ``user``, all or nothing.

    A grant records the current text version and the time. A revocation records the time, stops every agent that needs
    the key and deletes those agents' ``agent_outputs`` of the person and the values they inferred (values the person
    set stay), a revocation of ``push`` deletes their push subscriptions, one of ``mood`` their mood check-ins and one
    of ``calendar`` their calendar days (and their busy times in memory), in the caller's transaction.
    Unknown keys or non-boolean answers raise InvalidInput before anything changes.
    """
    known = consent_keys()
    for key, granted in changes.items():
        if key not in known:
            raise InvalidInput(f"unknown consent {key!r}; the consents are: {', '.join(known)}")
        if not isinstance(granted, bool):
            raise InvalidInput(f"consent {key!r} takes true (grant) or false (revoke), not {granted!r}")
    now = now or datetime.now(UTC)
    rows = {row.key: row for row in session.exec(select(Consent).where(Consent.user_id == user.id))}
    stopped: set[str] = set()
    unsubscribed = forgotten_moods = forgotten_days = 0
    for key, granted in changes.items():
        row = rows.get(key) or Consent(user_id=user.id, key=key)
        if granted:
            row.text_version = consent_text(key).version
        row.granted, row.at = granted, now
        session.add(row)
        if not granted:
            stopped.update(agents_needing(key))
        if key == open_tasks.TASKS_CONSENT and not granted:
            open_tasks.forget(user.id)  # at once: the cache is in memory, outside the transaction
        if key == PUSH_CONSENT and not granted:
            unsubscribed = forget_subscriptions(session, user.id)
        if key == MOOD_CONSENT and not granted:
            forgotten_moods = forget_moods(session, user.id)
        if key == CALENDAR_CONSENT and not granted:
            forgotten_days = forget_calendar(session, user.id)
    deleted = 0
    if stopped:
        result = session.exec(
            sa.delete(AgentOutput).where(AgentOutput.user_id == user.id, col(AgentOutput.agent_id).in_(sorted(stopped)))
        )
        deleted = result.rowcount or 0
        # What the stopped agents learned from that data goes too; values the person set stay theirs.
        session.exec(
            sa.delete(UserPreference).where(
                UserPreference.user_id == user.id,
                col(UserPreference.scope).in_(sorted(stopped)),
                UserPreference.source == PrefSource.inferred,
            )
        )
    session.flush()
    notes = []
    if stopped:
        notes.append(
            "The stopped agents' outputs and what they learned are deleted; tips already shown stay in your tip log; "
            "they write nothing new until you grant it again."
        )
    if PUSH_CONSENT in changes and not changes[PUSH_CONSENT]:
        notes.append(
            f"Your browsers are unsubscribed ({unsubscribed} subscription(s) deleted); oO sends no notification until "
            "you grant it again and subscribe."
        )
    if MOOD_CONSENT in changes and not changes[MOOD_CONSENT]:
        notes.append(f"Your mood check-ins are deleted ({forgotten_moods}).")
    if CALENDAR_CONSENT in changes and not changes[CALENDAR_CONSENT]:
        notes.append(
            f"What oO kept of your calendar is deleted ({forgotten_days} day(s)); it reads none until you grant it "
            "again."
        )
    return ConsentChange(
        consents=list_consents(session, user),
        stopped_agents=sorted(stopped),
        deleted_outputs=deleted,
        note=" ".join(notes),
    )


def grant_consent(session: Session, user: User, key: str, now: datetime | None = None) -> ConsentChange:
    """Grant one consent (see :func:`set_consents`)."""
    return set_consents(session, user, {key: True}, now)


def revoke_consent(session: Session, user: User, key: str, now: datetime | None = None) -> ConsentChange:
    """Revoke one consent: its agents stop and their outputs for the person are deleted (see :func:`set_consents`)."""
    return set_consents(session, user, {key: False}, now)
