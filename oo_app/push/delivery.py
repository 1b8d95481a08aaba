"""One web push delivery round: who is due now, claim the slot, pick the tip, send it, record what happened.

Contract of :func:`deliver_due` (the scheduler, the workers and ``oo push deliver`` call it): for each person with a
push subscription and the ``push`` consent, a push goes out for a delivery moment of
:func:`oo_app.recommender.timing.delivery_moments` (their inferred preferred and peak hours, on their clock), the
slot, within ``OO_PUSH_GRACE_MINUTES`` after its push moment and before the next delivery moment (a missed slot is
skipped, never sent late), and only if

- it is not in their quiet hours (:func:`~oo_app.recommender.timing.is_quiet`),
- it is not inside one of their meetings (busy intervals of a calendar they share, :func:`agents.runner.busy_of`):
  the push moment is the slot itself when they are free then for long enough to read a tip, else the start of the
  first such free block inside the slot's productive window, outside the quiet hours
  (:func:`~oo_app.recommender.timing.push_moment`); the slot waits for it (held as ``in_meeting``), or passes when
  the meetings fill the window,
- no tip of theirs is snoozed past now (a snooze holds every push until its ``snoozed_until``),
- they did not just see or answer a tip (``OO_PUSH_RECENT_VIEW_MINUTES``: the page is open, or was a moment ago),
- they got fewer than ``OO_PUSH_DAILY_CAP`` pushes that local day, and none in the last ``OO_PUSH_MIN_GAP_MINUTES``.

The slot (person, delivery moment) is then **claimed** in ``push_deliveries`` (unique) and committed before anything
is sent: two workers or rounds never send the same slot twice; delivery is at most once per slot. Then the tip is
picked (:func:`oo_app.push.tips.tip_to_push`) and sent to each of the person's browsers (:mod:`oo_app.push.sender`),
with a TTL that never reaches into the quiet hours or the next meeting. A push service answering 404/410 has
forgotten the subscription: it is deleted. Any other failure is recorded on the slot, which stays claimed (no resend
storm). Each phase runs in a short transaction of its own; nothing is held open while a push service answers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from agents.busy import BusyInterval
from agents.runner import busy_of
from oo_app.clock import zone
from oo_app.db import get_engine
from oo_app.models import Consent, PushDelivery, PushDeliveryStatus, PushSubscription, Tip, User, UserPreference
from oo_app.push.keys import load_vapid
from oo_app.push.sender import PushSender, SendResult, WebPushSender
from oo_app.push.slots import meeting_hold, open_slot, push_ttl
from oo_app.push.subscriptions import PUSH_CONSENT
from oo_app.push.tips import payload, tip_to_push
from oo_app.recommender.timing import TIME_OF_DAY, is_quiet, timing_params_from
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rules:
    """The delivery rules of the settings (see the module)."""

    daily_cap: int
    min_gap: timedelta
    grace: timedelta
    recent_view: timedelta
    ttl_s: int

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        return cls(
            daily_cap=settings.push_daily_cap,
            min_gap=timedelta(minutes=settings.push_min_gap_minutes),
            grace=timedelta(minutes=settings.push_grace_minutes),
            recent_view=timedelta(minutes=settings.push_recent_view_minutes),
            ttl_s=settings.push_ttl_s,
        )


@dataclass(frozen=True)
class Pushed:
    """One claimed slot and what became of it."""

    user_id: int
    slot: datetime
    status: str
    tip_id: int | None = None
    snoozed_tip_id: int | None = None
    sent_to: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "slot": self.slot.isoformat(),
            "status": self.status,
            "tip_id": self.tip_id,
            "snoozed_tip_id": self.snoozed_tip_id,
            "sent_to": self.sent_to,
            "error": self.error,
        }


@dataclass
class DeliveryReport:
    """A round: the persons it considered (subscribed, consenting), the slots it claimed, why the others waited."""

    at: datetime
    persons: int = 0
    pushed: list[Pushed] = field(default_factory=list)
    waited: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> list[Pushed]:
        return [push for push in self.pushed if push.status == PushDeliveryStatus.sent]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "persons": self.persons,
            "pushed": [push.as_dict() for push in self.pushed],
            "waited": dict(sorted(self.waited.items())),
        }


# --- holds -------------------------------------------------------------------------------------------------------


def _local_day_bounds(params: Mapping[str, Any], slot: datetime) -> tuple[datetime, datetime]:
    local_zone = zone(params.get("tz"))
    day = slot.astimezone(local_zone).date()
    start = datetime.combine(day, time(), tzinfo=local_zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=local_zone).astimezone(UTC)


# A round asks these of every person whose slot is open: one statement, built once, its values bound at each call
# (building a statement costs SQLAlchemy more CPU than running it, and each statement more than SQLite's answer).
_MINE = PushDelivery.user_id == sa.bindparam("user_id")
_TIPS_OF = select(Tip.id).where(Tip.user_id == sa.bindparam("user_id"), Tip.shadow == False)  # noqa: E712
_SINCE = sa.bindparam("since")
_HOLDS = select(
    select(PushDelivery.id).where(_MINE, PushDelivery.slot == sa.bindparam("slot")).exists(),
    _TIPS_OF.where(col(Tip.snoozed_until) > sa.bindparam("now")).exists(),
    _TIPS_OF.where(or_(col(Tip.shown_at) >= _SINCE, col(Tip.reacted_at) >= _SINCE)).exists(),
    select(func.count())
    .where(_MINE, PushDelivery.slot >= sa.bindparam("day_start"), PushDelivery.slot < sa.bindparam("day_end"))
    .scalar_subquery(),
    select(func.max(PushDelivery.claimed_at)).where(_MINE).scalar_subquery(),
)


def hold_reason(
    session: Session, user_id: int, params: Mapping[str, Any], slot: datetime, now: datetime, rules: Rules
) -> str | None:
    """Why the person's due ``slot`` gets no push (``slot_taken``, ``snoozed``, ``recently_viewed``, ``daily_cap``,
    ``min_gap``: the first that holds, in that order), or None when it may be claimed."""
    day_start, day_end = _local_day_bounds(params, slot)
    bound = {"user_id": user_id, "slot": slot, "now": now, "since": now - rules.recent_view}
    taken, snoozed, viewed, today, last = session.exec(
        _HOLDS, params=bound | {"day_start": day_start, "day_end": day_end}
    ).one()
    if taken:
        return "slot_taken"
    if snoozed:
        return "snoozed"
    if rules.recent_view and viewed:
        return "recently_viewed"
    if today >= rules.daily_cap:
        return "daily_cap"
    if last is not None and now - last < rules.min_gap:
        return "min_gap"
    return None


# --- the round ----------------------------------------------------------------------------------------------------


_REACHED = (
    col(User.id).in_(select(PushSubscription.user_id)),
    col(User.id).in_(select(Consent.user_id).where(Consent.key == PUSH_CONSENT, Consent.granted == True)),  # noqa: E712
)
_SUBSCRIBED = select(User).where(*_REACHED).order_by(col(User.id))
# What a round reads of them, every few minutes: their ids and zones with their stored timing parameters, in one query
# and without building each person's row.
_REACHED_TIMING = (
    select(User.id, User.tz, UserPreference.key, UserPreference.value)
    .outerjoin(UserPreference, sa.and_(UserPreference.user_id == User.id, UserPreference.scope == TIME_OF_DAY))
    .where(*_REACHED)
    .order_by(col(User.id))
)


def subscribed_persons(session: Session) -> list[User]:
    """Every person with a push subscription and the ``push`` consent, by id."""
    return list(session.exec(_SUBSCRIBED).all())


def claim_slot(session: Session, user_id: int, slot: datetime, now: datetime) -> PushDelivery | None:
    """Insert the slot's delivery row (the caller commits); None when another round or worker holds it already."""
    delivery = PushDelivery(user_id=user_id, slot=slot, claimed_at=now)
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        return None
    return delivery


def _engine_of(database: Engine | Session | None) -> Engine:
    if database is None:
        return get_engine()
    if isinstance(database, Session):
        return database.get_bind()  # type: ignore[return-value]
    return database


def _open(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def _prepare(engine: Engine, delivery_id: int, user_id: int, now: datetime) -> tuple[Tip, Tip | None, list[Any]]:
    """Pick the tip of a claimed slot and record it on the slot; the tip, the snoozed tip it brings back, and the
    person's subscriptions (detached)."""
    with _open(engine) as session:
        user = session.get(User, user_id)
        tip, snoozed = tip_to_push(session, user, now)
        delivery = session.get(PushDelivery, delivery_id)
        delivery.tip_id, delivery.snoozed_tip_id = tip.id, snoozed.id if snoozed else None
        session.add(delivery)
        subscriptions = list(session.exec(select(PushSubscription).where(PushSubscription.user_id == user_id)))
        session.commit()
        return tip, snoozed, subscriptions


def _send(
    sender: PushSender, subscriptions: list[PushSubscription], message: str, ttl: int, now: datetime
) -> dict[int, SendResult]:
    results = {}
    for subscription in subscriptions:
        if subscription.expires_at is not None and subscription.expires_at <= now:
            results[subscription.id] = SendResult(ok=False, status=410, error="the subscription expired")
            continue
        results[subscription.id] = sender.send(subscription, message, ttl)
    return results


def _record(engine: Engine, delivery_id: int, results: dict[int, SendResult], now: datetime) -> PushDelivery:
    """Write the outcome on the slot and the subscriptions: gone ones deleted, counters of the others updated."""
    with _open(engine) as session:
        delivery = session.get(PushDelivery, delivery_id)
        for subscription_id, result in results.items():
            subscription = session.get(PushSubscription, subscription_id)
            if subscription is None:
                continue
            if result.gone:
                session.delete(subscription)
            elif result.ok:
                subscription.last_success_at, subscription.failures = now, 0
            else:
                subscription.last_failure_at, subscription.failures = now, subscription.failures + 1
        errors = [result.error for result in results.values() if not result.ok and not result.gone and result.error]
        delivery.sent_to = sum(result.ok for result in results.values())
        if delivery.sent_to:
            delivery.status, delivery.sent_at = PushDeliveryStatus.sent, now
        elif errors:
            delivery.status = PushDeliveryStatus.failed
        else:
            delivery.status = PushDeliveryStatus.gone
        delivery.error = "; ".join(errors) or (None if results else "no subscription left to send to")
        session.add(delivery)
        session.commit()
        return delivery


def _fail(engine: Engine, delivery_id: int, error: str) -> None:
    with _open(engine) as session:
        session.exec(
            sa.update(PushDelivery)
            .where(col(PushDelivery.id) == delivery_id)
            .values(status=PushDeliveryStatus.failed, error=error)
        )
        session.commit()


def _deliver_one(engine: Engine, sender: PushSender, user_id: int, slot: datetime, ttl: int, now: datetime) -> Pushed:
    with _open(engine) as session:
        delivery = claim_slot(session, user_id, slot, now)
        if delivery is None:
            return Pushed(user_id=user_id, slot=slot, status="slot_taken")
        session.commit()
        delivery_id = delivery.id
    try:
        tip, snoozed, subscriptions = _prepare(engine, delivery_id, user_id, now)
        results = _send(sender, subscriptions, payload(tip, now), ttl, now)
        delivery = _record(engine, delivery_id, results, now)
    except Exception as error:
        log.exception("push to person %s at slot %s failed; the slot stays claimed", user_id, slot.isoformat())
        _fail(engine, delivery_id, f"internal error ({type(error).__name__}); see the logs")
        return Pushed(user_id=user_id, slot=slot, status=PushDeliveryStatus.failed, error=type(error).__name__)
    return Pushed(
        user_id=user_id,
        slot=slot,
        status=delivery.status,
        tip_id=tip.id,
        snoozed_tip_id=snoozed.id if snoozed else None,
        sent_to=delivery.sent_to,
        error=delivery.error,
    )


def deliver_due(
    database: Engine | Session | None = None,
    now: datetime | None = None,
    *,
    sender: PushSender | None = None,
    settings: Settings | None = None,
) -> DeliveryReport:
    """Run one delivery round at ``now`` (default: now) on ``database`` (an engine, or a session whose engine is used:
    commit your writes first; default: the app's) and report it. Raises :class:`~oo_app.push.errors.PushNotConfigured`
    before claiming anything when someone is due and push has no VAPID key."""
    settings = settings or get_settings()
    rules = Rules.of(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    engine = _engine_of(database)
    report = DeliveryReport(at=now)
    due: list[tuple[int, dict[str, Any], datetime, tuple[BusyInterval, ...]]] = []
    with _open(engine) as session:
        rows = session.exec(_REACHED_TIMING).all()
        persons = {user_id: tz for user_id, tz, _, _ in rows}
        stored = [(user_id, key, value) for user_id, _, key, value in rows if key is not None]
        report.persons = len(persons)
        for user_id, params in timing_params_from(persons.items(), stored).items():
            slot = open_slot(params, now, rules.grace)
            reason = "not_due" if slot is None else "quiet" if is_quiet(params, now) else None
            reason = reason or hold_reason(session, user_id, params, slot, now, rules)
            busy = busy_of(session, user_id) if reason is None else ()  # read only for a slot it could send
            reason = reason or meeting_hold(params, slot, now, busy, rules.grace)
            if reason:
                report.waited[reason] += 1
            else:
                due.append((user_id, params, slot, busy))
    if not due:
        return report
    own_sender = sender is None
    sender = sender or WebPushSender(
        load_vapid(settings), timeout_s=settings.push_timeout_s, allow_private=settings.push_private_endpoints_allowed
    )
    try:
        for user_id, params, slot, busy in due:
            pushed = _deliver_one(engine, sender, user_id, slot, push_ttl(params, now, rules.ttl_s, busy), now)
            if pushed.status == "slot_taken":
                report.waited["slot_taken"] += 1
            else:
                report.pushed.append(pushed)
    finally:
        if own_sender:
            sender.close()
    log.info("push round at %s: %d pushed, waiting %s", now.isoformat(), len(report.pushed), dict(report.waited))
    return report


def push_status(session: Session, now: datetime) -> dict[str, Any]:
    """Subscriptions, the persons they reach (with the consent) and the last 24 hours' slots by status."""
    by_status = session.exec(
        select(PushDelivery.status, func.count())
        .where(PushDelivery.claimed_at > now - timedelta(days=1))
        .group_by(PushDelivery.status)
    ).all()
    return {
        "subscriptions": session.exec(select(func.count()).select_from(PushSubscription)).one(),
        "persons_reached": len(subscribed_persons(session)),
        "last_24h": {str(status): count for status, count in sorted(by_status)},
    }
