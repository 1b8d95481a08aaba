"""Answering a tip from its notification: the signed token a push carries, and the answer it lets the person give.

Contract: :func:`answer_token` signs (person id, tip id, purpose, expiry) under ``OO_SECRET_KEY`` with a salt of its
own (itsdangerous, HMAC-SHA256), so a session cookie, a CSRF token or any other value oO signs never passes for one;
:func:`read_answer_token` returns its claim or raises :class:`~oo_app.push.errors.AnswerRefused` (forged, altered,
another purpose) or :class:`~oo_app.push.errors.AnswerExpired`. :func:`answer_from_notification` records ``done`` or
``later`` (the ``snoozed`` reaction) through the page's own :func:`~oo_app.recommender.react` (snooze time, event,
learning) and, when it is the tip the page would show, writes the tip that follows as the page does, so the open
page moves on to it (an older tip's answer leaves the newer tip standing).

Tapped twice (a double tap, two devices at once), the tip is answered once: the answers serialize on the tip's row,
and the second finds it answered. The same answer again is success with nothing written (``recorded`` false); a
different one is a :class:`~oo_app.errors.Conflict` and the tip keeps its first answer, wherever it was given.
Never reads a session cookie: the token alone says who answers which tip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, select

from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.models import Reaction, Tip, User
from oo_app.push.errors import AnswerExpired, AnswerRefused
from oo_app.recommender import react
from oo_app.recommender.feedback import latest_tip
from oo_app.recommender.on_request import tip_after
from oo_app.settings import Settings, get_settings

# The notification's buttons, in order: the action the service worker posts back, its title, the reaction it records.
ACTIONS: dict[str, tuple[str, Reaction]] = {"done": ("Done", Reaction.done), "later": ("Later", Reaction.snoozed)}
# Long enough for a notification read in the tray that afternoon, short enough that a copied token soon dies; a tap
# after it opens the page instead (assets/sw.js), where the tip can still be answered.
ANSWER_LIFETIME = timedelta(hours=6)
PURPOSE = "answer-tip"
SALT = "oo-push-answer"
MAX_TOKEN_LENGTH = 256  # a token is about 90 characters; anything much longer is not one of oO's

REFUSED = "this notification cannot answer a tip: open oO to answer it there"
EXPIRED = "this notification is too old to answer from: open oO to answer the tip there"
GONE = "the tip of this notification no longer exists"


@dataclass(frozen=True)
class AnswerClaim:
    """What a valid token allows: person ``user_id`` answers their tip ``tip_id``."""

    user_id: int
    tip_id: int


@dataclass(frozen=True)
class Answered:
    """The outcome of an answer: the tip, its reaction, whether this answer recorded it (False: it already stood),
    and the tip written to follow it (None when nothing was written: already answered, or past the tip limit)."""

    tip: Tip
    reaction: Reaction
    recorded: bool
    following: Tip | None = None


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt=SALT)


def answer_token(tip: Tip, now: datetime | None = None, settings: Settings | None = None) -> str:
    """A token that lets the person of ``tip`` answer it (and nothing else) until ``ANSWER_LIFETIME`` after ``now``."""
    now = now or datetime.now(UTC)
    expires = int((now + ANSWER_LIFETIME).timestamp())
    return _serializer(settings or get_settings()).dumps({"u": tip.user_id, "t": tip.id, "p": PURPOSE, "e": expires})


def read_answer_token(token: str, now: datetime | None = None, settings: Settings | None = None) -> AnswerClaim:
    """The claim of ``token``; :class:`AnswerRefused` unless oO signed it for this purpose, :class:`AnswerExpired`
    once its expiry has passed. Reads no database."""
    try:
        data = _serializer(settings or get_settings()).loads(token)
    except BadSignature:
        raise AnswerRefused(REFUSED) from None
    fields = data if isinstance(data, dict) else {}
    user_id, tip_id, expires = fields.get("u"), fields.get("t"), fields.get("e")
    if fields.get("p") != PURPOSE or not all(type(value) is int for value in (user_id, tip_id, expires)):
        raise AnswerRefused(REFUSED)
    if (now or datetime.now(UTC)).timestamp() >= expires:
        raise AnswerExpired(EXPIRED)
    return AnswerClaim(user_id=user_id, tip_id=tip_id)


def reaction_of(action: str) -> Reaction:
    """The reaction a notification action records; :class:`InvalidInput` for an action oO does not offer."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; a notification offers {', '.join(ACTIONS)}")
    return ACTIONS[action][1]


def _answerable_tip(session: Session, claim: AnswerClaim) -> Tip:
    """The claimed tip as it stands; ``NotFound`` when the person or the tip is gone.

    An unanswered tip is read again after taking its row's write lock: a second answer waits there until the first is
    committed, then reads it (PostgreSQL: the row lock; SQLite: the database's write lock, which its first write
    takes). An answered one is returned as read: a repeated tap writes nothing, not even the lock."""
    owned = (col(Tip.id) == claim.tip_id, col(Tip.user_id) == claim.user_id, col(Tip.shadow) == False)  # noqa: E712
    tip = session.exec(select(Tip).where(*owned)).first()
    if tip is None:
        raise NotFound(GONE)
    if tip.reaction is None:
        session.exec(sa.update(Tip).where(*owned).values(reaction=Tip.reaction))  # changes nothing: takes the lock
        session.refresh(tip)
    return tip


def answer_from_notification(session: Session, token: str, action: str, now: datetime | None = None) -> Answered:
    """Answer the tip ``token`` names with ``action`` (``done`` or ``later``); see the module for double taps.

    Raises, before anything is written: :class:`AnswerRefused`, :class:`AnswerExpired`, ``InvalidInput`` (an unknown
    action), ``NotFound`` (the person or the tip is gone), ``Conflict`` (the tip was answered otherwise)."""
    now = now or datetime.now(UTC)
    claim = read_answer_token(token, now)
    reaction = reaction_of(action)
    user = session.get(User, claim.user_id)
    if user is None:
        raise NotFound(GONE)
    tip = _answerable_tip(session, claim)
    if tip.reaction is not None:
        if tip.reaction == reaction:
            return Answered(tip=tip, reaction=reaction, recorded=False)
        raise Conflict(f"this tip was already answered ({Reaction(tip.reaction).value}); nothing changed")
    current = latest_tip(session, user.id)
    answered = react(session, user, tip.id, reaction.value, now)
    # The tip the page shows gets its successor, as on the page; an older tip's answer leaves the newer one standing.
    following = tip_after(session, user, answered, now) if current is not None and current.id == tip.id else None
    return Answered(tip=answered, reaction=reaction, recorded=True, following=following)
