"""Which tip a push carries, and the message the service worker receives.

Contract of :func:`tip_to_push`, in order:

1. **A snoozed tip whose night is over comes back**: the person's most recently snoozed tip, once its
   ``snoozed_until`` has passed (and for a day after; an older snooze lapses), unless a push brought it back already.
   Its reaction (``snoozed``) is history and cannot change, so it comes back as a new tip row copying its text, kind,
   sources, prompt version, model and policy (created now); the delivery row names both (``tip_id`` the copy,
   ``snoozed_tip_id`` the original). Only the latest snoozed tip comes back: snoozing several means "later" once.
2. **The current tip**, when it is unanswered, was never pushed, and the page would still show it for a while
   (created less than ``TIP_SHELF_LIFE - REUSE_MIN_SHELF`` ago), so the page the notification opens shows that very tip.
3. Otherwise **a fresh tip** from :func:`oo_app.recommender.recommend`.

A pushed tip is not marked shown: pushed is not seen. It is marked shown when the page the notification opens
displays it (it is then the latest unanswered tip). Nothing here writes an event: events feed the agents' picture of
when the person is active, and a push is oO's doing, not theirs; ``push_deliveries`` is the log of pushes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from oo_app.models import PushDelivery, Reaction, Tip, TipKind, User
from oo_app.push.answers import ACTIONS, answer_token
from oo_app.recommender import recommend
from oo_app.recommender.feedback import TIP_SHELF_LIFE, latest_tip

TITLE = "oO"
OPEN_URL = "/"
REUSE_MIN_SHELF = timedelta(minutes=30)
SNOOZE_LAPSES_AFTER = timedelta(days=1)


def payload(tip: Tip, now: datetime) -> str:
    """The push message (JSON; the service worker relies on exactly these keys):
    ``{"title": "oO", "body": <tip text>, "tip_id": <int>, "kind": "advice"|"todo", "url": "/",
    "actions": [{"action": "done", "title": "Done"}, {"action": "later", "title": "Later"}], "answer": <token>}``:
    the notification's buttons, and the token (:func:`oo_app.push.answers.answer_token`, valid from ``now``) the
    service worker posts back with the action tapped, to ``POST /api/push/react``."""
    body = {
        "title": TITLE,
        "body": tip.text,
        "tip_id": tip.id,
        "kind": TipKind(tip.kind).value,
        "url": OPEN_URL,
        "actions": [{"action": action, "title": title} for action, (title, _) in ACTIONS.items()],
        "answer": answer_token(tip, now),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# Every push runs them: built once, their values bound at each call (building a statement costs SQLAlchemy more CPU
# than running it).
_PUSHED = {
    name: select(PushDelivery.id).where(getattr(PushDelivery, name) == sa.bindparam("tip_id")).limit(1)
    for name in ("tip_id", "snoozed_tip_id")
}
_LAST_SNOOZED = (
    select(Tip)
    .where(Tip.user_id == sa.bindparam("user_id"), Tip.shadow == False, Tip.reaction == Reaction.snoozed.value)  # noqa: E712
    .order_by(col(Tip.reacted_at).desc(), col(Tip.id).desc())
    .limit(1)
)


def _was_pushed(session: Session, column: str, tip_id: int) -> bool:
    """Whether a push carried tip ``tip_id`` as its ``column`` (``tip_id``, or ``snoozed_tip_id``: brought back)."""
    return session.exec(_PUSHED[column], params={"tip_id": tip_id}).first() is not None


def returning_snoozed_tip(session: Session, user: User, now: datetime) -> Tip | None:
    """The snoozed tip due back at ``now`` (see the module), or None."""
    tip = session.exec(_LAST_SNOOZED, params={"user_id": user.id}).first()
    if tip is None or tip.snoozed_until is None or not (now - SNOOZE_LAPSES_AFTER < tip.snoozed_until <= now):
        return None
    return None if _was_pushed(session, "snoozed_tip_id", tip.id) else tip


def bring_back(session: Session, snoozed: Tip, now: datetime) -> Tip:
    """A new tip row, created at ``now``, carrying ``snoozed``'s text and provenance."""
    tip = Tip(
        user_id=snoozed.user_id,
        text=snoozed.text,
        kind=snoozed.kind,
        prompt_version=snoozed.prompt_version,
        model_alias=snoozed.model_alias,
        model=snoozed.model,
        sources=list(snoozed.sources),
        policy=snoozed.policy,
        created_at=now,
    )
    session.add(tip)
    session.flush()
    return tip


def tip_to_push(session: Session, user: User, now: datetime) -> tuple[Tip, Tip | None]:
    """The tip to push to ``user`` at ``now`` and, when it brings a snoozed tip back, that snoozed tip."""
    snoozed = returning_snoozed_tip(session, user, now)
    if snoozed is not None:
        return bring_back(session, snoozed, now), snoozed
    current = latest_tip(session, user.id)
    if (
        current is not None
        and current.reaction is None
        and current.created_at + TIP_SHELF_LIFE - REUSE_MIN_SHELF > now
        and not _was_pushed(session, "tip_id", current.id)
    ):
        return current, None
    return recommend(session, user, now), None
