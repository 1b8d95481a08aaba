"""The tip loop around :func:`recommend`: which tip a person sees now, marking it shown, and their reaction.

Every reaction is logged twice on purpose: on the tip (its outcome) and as an event (the durable signal agents read).
A snoozed tip is held until the person's next morning, or the free time after the meeting they snoozed it in when that
comes first (``snoozed_until``, see :func:`~oo_app.recommender.timing.snooze_until`): no push reaches them before it,
and then web push brings it back. An open page gets no new tip while the person is in a meeting or about to go into
one (:func:`replacement_tip`, :func:`~oo_app.recommender.timing.free_to_read`), as web push times its tips.
A reaction recomputes the learner agent (:func:`learn_from`) before the next tip written reads it: at once when tips
are not written ahead, or when the reaction's own next tip is written inline; otherwise on the write-ahead thread once
the reaction is committed, before the successor of the next shown tip is written. The tip taken from those written
ahead was written before the reaction, so the reaction never waits on the learner.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from agents.eligibility import eligible_agents
from agents.rewards import GENERIC, LEARNER
from agents.runner import busy_of, compute_output
from oo_app.db import session_scope
from oo_app.erasure import PersonGone, forget_late_work, unless_gone
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.models import AgentOutput, Event, Reaction, Tip, User
from oo_app.recommender import policies, prefetch
from oo_app.recommender.orchestrator import is_waiting
from oo_app.recommender.service import recommend
from oo_app.recommender.timing import free_to_read, snooze_until, timing_params
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

TIP_SHELF_LIFE = timedelta(hours=1)  # an unanswered tip older than this gives way to a fresh one

# The statements of the hot paths (every reaction, every live check of an open page) are built once, their values
# bound at each call: building a statement costs SQLAlchemy more CPU than running it (benchmarks/react_path.py).
_LATEST_TIP = (
    select(Tip)
    .where(Tip.user_id == sa.bindparam("user_id"), Tip.shadow == False, sa.not_(is_waiting()))  # noqa: E712
    .order_by(col(Tip.created_at).desc(), col(Tip.id).desc())
    .limit(1)
)
_TIPS = Tip.__table__.c
# (An update's parameters may not be named as its columns.)
_OWNED = (_TIPS.id == sa.bindparam("the_tip"), _TIPS.user_id == sa.bindparam("its_person"), _TIPS.shadow == False)  # noqa: E712
_OWNED_TIP = select(Tip).where(*_OWNED)
# Read fresh and locked: a tip this transaction read before (the page's) gets the reaction another one committed.
_OWNED_TIP_LOCKED = _OWNED_TIP.with_for_update().execution_options(populate_existing=True)
# A no-op update: it takes the tip's write lock (SQLite: the database).
_HOLD_TIP = sa.update(Tip.__table__).where(*_OWNED).values(reaction=_TIPS.reaction)
# The person whose reaction to a tip the learner reads, while both exist.
_PERSON_OF_TIP = select(User).where(
    User.id == sa.bindparam("user_id"), select(Tip.id).where(Tip.id == sa.bindparam("tip_id")).exists()
)


def latest_tip(session: Session, user_id: int) -> Tip | None:
    """The person's newest tip, shadows and tips still waiting to follow another (:mod:`.prefetch`) aside."""
    return session.exec(_LATEST_TIP, params={"user_id": user_id}).first()


def next_tip(session: Session, user: User, answered: Tip | None, now: datetime | None = None) -> Tip:
    """The tip after ``answered``: the one written ahead to follow it while fresh, else a new one.

    While tips are written ahead (``OO_PREPARE_NEXT_TIP``), a reaction never waits on the model: when the tip written
    ahead is not ready yet (the person answered within seconds), the alias's fallback (the composer) writes this one.
    """
    now = now or datetime.now(UTC)
    ahead = prefetch.take_waiting(session, user, answered, TIP_SHELF_LIFE, now) if answered is not None else None
    if ahead is not None:
        if (ahead.lead_agent or GENERIC) == (answered.lead_agent or GENERIC):
            learn_now(session, user)  # its "why this tip?" counts the answers to tips like it, this one's included
        return ahead
    learn_now(session, user)  # the tip written here reads the reaction it follows
    quick = policies.without_waiting(session) if get_settings().prepare_next_tip else None
    return recommend(session, user, now, policy=quick)


def current_tip(session: Session, user: User, now: datetime | None = None) -> Tip:
    """The tip to show now: the latest unanswered one while it is fresh, else the next one."""
    now = now or datetime.now(UTC)
    tip = latest_tip(session, user.id)
    if tip is None or tip.created_at + TIP_SHELF_LIFE <= now:
        return recommend(session, user, now)
    if tip.reaction is not None:
        return next_tip(session, user, tip, now)
    return tip


def replacement_tip(session: Session, user: User, shown_id: int, now: datetime | None = None) -> Tip | None:
    """What should replace the tip ``shown_id`` on an open page: a newer unanswered tip, or a fresh one once it has
    gone stale; None while it stands, and while the person is not free to read one (in a meeting, or less than
    :data:`~oo_app.recommender.timing.READING_TIME` before one): the page changes at the start of the next free block,
    the moment web push would choose. Never writes a tip after a reaction (the reaction's handler does that)."""
    now = now or datetime.now(UTC)
    tip = latest_tip(session, user.id)
    if tip is None or tip.reaction is not None:
        return None
    stale = tip.created_at + TIP_SHELF_LIFE <= now
    if tip.id == shown_id and not stale:
        return None  # the tip stands: no need to read the person's busy times (most of an open page's looks)
    if not free_to_read(busy_of(session, user.id), now):
        return None
    return tip if tip.id != shown_id else recommend(session, user, now)


def mark_shown(session: Session, tip: Tip, now: datetime | None = None) -> Tip:
    """Record that ``tip`` reached the person's screen (once); once that is committed, its successor is written
    ahead (:mod:`.prefetch`, when ``OO_PREPARE_NEXT_TIP`` is on)."""
    if tip.shown_at is None:
        tip.shown_at = now or datetime.now(UTC)
        session.add(tip)
        session.add(Event(user_id=tip.user_id, type="tip_shown", at=tip.shown_at, payload={"tip_id": tip.id}))
        session.flush()
        prefetch.after_commit(session, tip)
    return tip


def react(session: Session, user: User, tip_id: int, reaction: str, now: datetime | None = None) -> Tip:
    """Log ``reaction`` to the person's tip ``tip_id``; raises NotFound for someone else's tip. ``snoozed`` holds the
    tip until the person's next morning, or the free time after their current meeting when sooner
    (``tip.snoozed_until``).
    Answered twice at once, the tip keeps the first answer and the second raises ``Conflict``."""
    try:
        kind = Reaction(reaction)
    except ValueError:
        raise InvalidInput(
            f"unknown reaction {reaction!r}; use one of {', '.join(r.value for r in Reaction)}"
        ) from None
    owned = {"the_tip": tip_id, "its_person": user.id}
    # Two answers at once (a double tap, two devices, the page and a notification) serialize on the tip's row, and the
    # second answer then reads the first one's reaction and is refused below. PostgreSQL locks the row as it reads it
    # (one statement); SQLite has no row locks: a no-op update takes its write lock, then the tip is read again.
    if session.get_bind().dialect.name == "postgresql":
        tip = session.exec(_OWNED_TIP_LOCKED, params=owned).first()
    else:
        tip = session.exec(_OWNED_TIP, params=owned).first()
        if tip is not None and tip.reaction is None:
            session.execute(_HOLD_TIP, owned)
            session.refresh(tip)
    if tip is None:
        raise NotFound(f"no tip {tip_id} for this person")
    if tip.reaction is not None:
        raise Conflict(f"tip {tip_id} was already answered ({tip.reaction})")
    now = now or datetime.now(UTC)
    tip.reaction, tip.reacted_at = kind, now
    if kind is Reaction.snoozed:
        tip.snoozed_until = snooze_until(timing_params(session, user), now, busy=busy_of(session, user.id))
    session.add(tip)
    session.add(Event(user_id=user.id, type=kind.event_type, at=now, payload={"tip_id": tip.id}))
    session.flush()
    if get_settings().prepare_next_tip:
        _learn_after_commit(session, user, tip, now)
    else:
        learn_from(session, user, tip.id, now)
    return tip


def learn_from(session: Session, user: User, tip_id: int, now: datetime) -> None:
    """Recompute the learner agent with the reaction to tip ``tip_id`` (when it may speak for the person), so the next
    tip reads it."""
    learner = next(iter(eligible_agents(session, user.id, now, among={LEARNER})), None)
    if learner is not None:
        compute_output(session, user, learner, now, fresh_data=f"tip{tip_id}")


_LEARNING = "oo.learning"  # session.info: the reaction (tip, moment) the learner has yet to read, until commit


def _learn_after_commit(session: Session, user: User, tip: Tip, now: datetime) -> None:
    """Leave the learner to the write-ahead thread once ``session`` commits, unless :func:`learn_now` runs it first."""
    session.info[_LEARNING] = (tip.id, now)
    engine, user_id = session.get_bind(), user.id

    def submit(committed: Session) -> None:
        pending = committed.info.pop(_LEARNING, None)
        if pending is not None:
            prefetch.submit_in_order(_learning_job, engine, user_id, *pending)

    event.listen(session, "after_commit", submit, once=True)
    # A reaction rolled back was never given: a later commit of this session must not learn from it.
    event.listen(session, "after_rollback", lambda rolled_back: rolled_back.info.pop(_LEARNING, None), once=True)


def learn_now(session: Session, user: User) -> None:
    """Recompute the learner now with the reaction of this transaction it has yet to read, if any."""
    pending = session.info.pop(_LEARNING, None)
    if pending is not None:
        tip_id, now = pending
        learn_from(session, user, tip_id, now)


def _learning_job(engine: Engine, user_id: int, tip_id: int, now: datetime) -> None:
    try:
        with session_scope(engine) as session:
            user = session.exec(_PERSON_OF_TIP, params={"user_id": user_id, "tip_id": tip_id}).first()
            if user is None:
                return  # the person or the tip deleted meanwhile
            with unless_gone(session, user_id):
                learn_from(session, user, tip_id, now)
    except PersonGone:
        log.info("the learner did not read tip %s: its person %s was deleted meanwhile", tip_id, user_id)
        forget_late_work(engine, user_id)
    except Exception:
        log.exception("the learner could not read the reaction to tip %s; the next round of agents will", tip_id)


def refresh_tips(session: Session, user_ids: set[int], now: datetime | None = None) -> list[Tip]:
    """After new agent outputs, replace each person's unanswered tip that predates them with a fresh one."""
    now = now or datetime.now(UTC)
    newest_output = dict(
        session.exec(
            select(AgentOutput.user_id, func.max(AgentOutput.computed_at))
            .where(col(AgentOutput.user_id).in_(user_ids))
            .group_by(AgentOutput.user_id)
        ).all()
    )
    written = []
    for user in session.exec(select(User).where(col(User.id).in_(user_ids))).all():
        tip = latest_tip(session, user.id)
        newest = newest_output.get(user.id)
        if tip is None or (tip.reaction is None and newest is not None and tip.created_at < newest):
            written.append(recommend(session, user, now))
    return written
