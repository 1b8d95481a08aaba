"""The tip loop as a person drives it (``POST /api/recommend``, the tip page), within their limit (:mod:`.limits`).

A request repeated within ``OO_TIP_REPEAT_WINDOW_S`` answers the person's unanswered tip again and writes nothing.
Past the limit, :func:`requested_tip` raises :class:`~.limits.TipLimitReached` (the API's 429) having written
nothing; the page's functions answer the tip the person already has, or None (the page asks them to wait a moment),
and a reaction stands either way. Never meters the operator's tools: they call :mod:`.feedback` directly.
The page's tip is decided for one person at a time (:func:`tip_to_show`): a first visit asks for it twice at once
(the page's early fetch and its live state), and both must get the same tip.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, select

from oo_app.models import Tip, User
from oo_app.recommender.feedback import current_tip, latest_tip, next_tip, replacement_tip
from oo_app.recommender.limits import TipLimitReached, metered
from oo_app.recommender.service import recommend
from oo_app.settings import get_settings

log = logging.getLogger(__name__)


def unanswered_tip(session: Session, user_id: int) -> Tip | None:
    """The person's latest tip while they have not answered it, however old."""
    tip = latest_tip(session, user_id)
    return tip if tip is not None and tip.reaction is None else None


def requested_tip(session: Session, user: User, now: datetime | None = None) -> Tip:
    """What ``POST /api/recommend`` answers: the unanswered tip again while it is younger than the repeat window,
    else a new tip, which takes a token; :class:`~.limits.TipLimitReached` when the person's bucket is empty."""
    now = now or datetime.now(UTC)
    window = timedelta(seconds=get_settings().tip_repeat_window_s)
    tip = unanswered_tip(session, user.id)
    if tip is not None and now - tip.created_at < window:
        return tip
    with metered():
        return recommend(session, user, now)


DECIDING_WAIT_S = 60.0  # past this, a decision goes ahead without the lock (logged) rather than hang a page
_deciding: dict[int, threading.Lock] = {}
# Every page opened runs it: built once, its value bound at each call (building a statement costs SQLAlchemy more CPU
# than running it).
_LOCK_PERSON = select(User.id).where(User.id == sa.bindparam("user_id")).with_for_update()
_deciding_guard = threading.Lock()


def one_decision_at_a_time(session: Session, user_id: int) -> None:
    """Until ``session``'s transaction ends, another transaction calling this for the same person waits here, then
    sees what this one wrote. In PostgreSQL a row lock on the person (every process of a deployment); elsewhere
    (SQLite: one process) a lock of this process, released when the transaction ends, never SQLite's write lock,
    which would stop everyone's writes while a model writes this person's tip. Call it before reading what the
    decision depends on."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(_LOCK_PERSON, params={"user_id": user_id})
        return
    with _deciding_guard:
        lock = _deciding.setdefault(user_id, threading.Lock())
    if not lock.acquire(timeout=DECIDING_WAIT_S):
        log.warning("person #%s: a tip decision waited %.0f s for another; going ahead", user_id, DECIDING_WAIT_S)
        return
    released = False

    def release(_session: Session, transaction: SessionTransaction) -> None:
        nonlocal released
        if transaction.parent is None and not released:
            released = True
            lock.release()

    sa.event.listen(session, "after_transaction_end", release)


def tip_to_show(session: Session, user: User, now: datetime | None = None) -> Tip | None:
    """The page's tip: :func:`~.feedback.current_tip` within the limit; past it, the unanswered tip however old, or
    None when there is none. Decided for one person at a time (:func:`one_decision_at_a_time`): two calls at once
    (the page's early fetch and its live state) answer the same tip, whose writing and marking as shown the first
    commits before the second looks."""
    one_decision_at_a_time(session, user.id)
    try:
        with metered():
            return current_tip(session, user, now)
    except TipLimitReached:
        return unanswered_tip(session, user.id)


def tip_after(session: Session, user: User, answered: Tip, now: datetime | None = None) -> Tip | None:
    """The page's tip after the person answered ``answered``: :func:`~.feedback.next_tip` within the limit, None past
    it (the reaction is kept all the same)."""
    try:
        with metered():
            return next_tip(session, user, answered, now)
    except TipLimitReached:
        return None


def replacement_within_limit(session: Session, user: User, shown_id: int, now: datetime | None = None) -> Tip | None:
    """:func:`~.feedback.replacement_tip` for an open page, None (the page keeps its tip) past the limit."""
    try:
        with metered():
            return replacement_tip(session, user, shown_id, now)
    except TipLimitReached:
        return None


def tip_for_new_context(session: Session, user: User, now: datetime | None = None) -> Tip | None:
    """The page's tip right after the person switched context: a new tip written for the context now in effect
    (the unanswered one it replaces stays unanswered, like a tip replaced on an open page); past the limit, the
    unanswered tip however old, or None."""
    try:
        with metered():
            return recommend(session, user, now)
    except TipLimitReached:
        return unanswered_tip(session, user.id)
