"""The first run: a new person answers, once, what oO may learn from, and their first tip is written from it at once.

A person meets the first run while ``users.onboarded_at`` is None (only a first sign-in and ``oo seed-demo
--fresh-person`` make such a person). :func:`answer_first_run` records the answer (the consents chosen, or none for
"not now") and the time, with the same domain function as the settings page, and starts the person in their
browser's time zone (:mod:`oo_app.profile.zone`); :func:`first_tip` then runs the agents the answer made eligible
(:func:`oo_app.profile.granted_agents.run_granted_agents`, as a grant on the settings page does, cold-start defaults
while there is no history) instead of waiting for their schedule, and writes the tip from their outputs.
:func:`answer_first_run` flushes and never commits: the caller's session is the transaction; :func:`first_tip` commits
each agent's output as it is written, so SQLite's one write lock is never held while the next agent computes or the
tip's model writes (a Todoist backfill runs beside it). Notifications (``push``) are not asked here: they need the
browser's own permission, given on the settings page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from oo_app.errors import InvalidInput
from oo_app.models import Tip, User
from oo_app.profile.consents import ConsentChange, consent_keys, consent_text, list_consents, set_consents
from oo_app.profile.granted_agents import run_granted_agents
from oo_app.profile.zone import adopt_browser_zone
from oo_app.push.subscriptions import PUSH_CONSENT
from oo_app.recommender.service import recommend


@dataclass(frozen=True)
class OfferedConsent:
    """One choice of the first run: its key, a short title and what it lets oO do and never do, in plain words."""

    key: str
    title: str
    text: str


@dataclass(frozen=True)
class FirstRunAnswer:
    """What answering did: the consents granted (none for "not now"), and False in ``recorded`` when the person had
    answered already (nothing changed)."""

    granted: list[str]
    recorded: bool

    @property
    def personal(self) -> bool:
        """Whether any agent may now learn about the person (else their tips stay generic)."""
        return bool(self.granted)


@dataclass(frozen=True)
class FirstTip:
    """The first tip and the agents that ran for it (their outputs are what it is written from)."""

    tip: Tip
    agents: list[str]


def first_run_pending(user: User) -> bool:
    """Whether ``user`` has never answered (nor skipped) the first-run question."""
    return user.onboarded_at is None


def offered_consents() -> list[OfferedConsent]:
    """The consents the first run asks for: every key an agent needs, in the order of :func:`consent_keys`."""
    return [
        OfferedConsent(key, consent_text(key).title or key, consent_text(key).text)
        for key in consent_keys()
        if key != PUSH_CONSENT
    ]


def answer_first_run(
    session: Session,
    user: User,
    granted: Mapping[str, bool] | None,
    now: datetime | None = None,
    zone: str | None = None,
) -> FirstRunAnswer:
    """Record the person's answer to the first run: ``granted`` maps each offered key to the person's choice (a key
    left out counts as not granted); None means "not now" (nothing granted). ``zone`` is the time zone the person's
    browser reported, unchecked (None when it reported none).

    Every offered key is recorded as the person's answer (granted or not) with :func:`set_consents`, ``onboarded_at``
    is set and the browser's zone becomes the person's unless they set their own or it is unknown (then it is ignored,
    see :func:`~oo_app.profile.zone.adopt_browser_zone`), in the caller's transaction. A person who answered already
    keeps everything as it is (``recorded`` False). Raises InvalidInput, before anything changes, for a key the first
    run does not offer or an answer that is not a boolean.
    """
    offered = [consent.key for consent in offered_consents()]
    chosen = dict(granted or {})
    for key, value in chosen.items():
        if key not in offered:
            raise InvalidInput(f"the first run asks only for {', '.join(offered)}, not {key!r}")
        if not isinstance(value, bool):
            raise InvalidInput(f"consent {key!r} takes true (grant) or false (not now), not {value!r}")
    if not first_run_pending(user):
        return FirstRunAnswer(granted=[], recorded=False)
    now = now or datetime.now(UTC)
    change: ConsentChange = set_consents(session, user, {key: chosen.get(key, False) for key in offered}, now)
    user.onboarded_at = now
    if zone is not None:
        adopt_browser_zone(session, user, zone)
    session.add(user)
    session.flush()
    return FirstRunAnswer(granted=[state.key for state in change.consents if state.granted], recorded=True)


def first_tip(session: Session, user: User, now: datetime | None = None) -> FirstTip:
    """Run every agent the person's consents make eligible now (not at their next schedule), committing each output,
    and write their first tip from the outputs (flushed; the caller commits it); with no eligible agent the tip is a
    generic one. Blocking (agents, the tip's model): call it in a worker thread from the page."""
    now = now or datetime.now(UTC)
    granted = [state.key for state in list_consents(session, user) if state.granted]
    session.commit()  # nothing of the caller's stays pending while the agents compute
    outputs = run_granted_agents(session, user, granted, now, commit_each=True)
    return FirstTip(tip=recommend(session, user, now), agents=sorted({output.agent_id for output in outputs}))
