"""A person's push subscriptions: one per browser, accepted only with the ``push`` consent, keys checked.

A subscription is the browser's ``PushSubscription.toJSON()``: the push service's endpoint (checked by
:func:`oo_app.push.endpoints.check_endpoint`) and the keys the payload is encrypted to (RFC 8291): ``p256dh``, an
uncompressed P-256 point (65 bytes), and ``auth``, a 16-byte secret, both base64url. Subscribing is idempotent per
endpoint, and an endpoint subscribed again by another person moves to them (a browser delivers to whoever signed in
on it last). A person keeps at most ``MAX_SUBSCRIPTIONS`` browsers: a new one retires the oldest, so nobody can make
oO fan one tip out to a crowd of URLs. Revoking the consent deletes every subscription of the person
(:func:`forget_subscriptions`, called by :mod:`oo_app.profile.consents` in the same transaction). Functions here flush
and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oo_app.auth.errors import Forbidden
from oo_app.errors import InvalidInput
from oo_app.models import Consent, PushSubscription, User
from oo_app.push.endpoints import check_endpoint, origin_of
from oo_app.push.keys import b64url, b64url_decode
from oo_app.settings import get_settings

PUSH_CONSENT = "push"
P256DH_BYTES = 65
AUTH_BYTES = 16
MAX_SUBSCRIPTIONS = 10
NO_CONSENT = (
    f"web push needs your consent {PUSH_CONSENT!r}: grant it on the settings page "
    f'(PATCH /api/profile/consents {{"{PUSH_CONSENT}": true}}), then subscribe again'
)


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as its person may see it: the push service's origin, never the full endpoint or the keys."""

    id: int
    origin: str
    created_at: datetime
    expires_at: datetime | None
    last_success_at: datetime | None
    failures: int


def has_push_consent(session: Session, user_id: int) -> bool:
    return (
        session.exec(
            select(Consent.id).where(
                Consent.user_id == user_id,
                Consent.key == PUSH_CONSENT,
                Consent.granted == True,  # noqa: E712
            )
        ).first()
        is not None
    )


def p256dh_key(text: str) -> str:
    """The browser's ECDH public key, normalized (unpadded base64url); InvalidInput (422) unless it is a P-256 point."""
    try:
        data = b64url_decode(text)
    except ValueError:
        raise InvalidInput("keys.p256dh must be base64url (the browser's PushSubscription.toJSON() value)") from None
    if len(data) != P256DH_BYTES or data[0] != 0x04:
        raise InvalidInput(
            f"keys.p256dh must be an uncompressed P-256 public key ({P256DH_BYTES} bytes starting with 0x04), "
            f"not {len(data)} bytes"
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise InvalidInput("keys.p256dh is not a point on the P-256 curve") from None
    return b64url(data)


def auth_secret(text: str) -> str:
    """The browser's authentication secret, normalized; InvalidInput (422) unless it is 16 bytes of base64url."""
    try:
        data = b64url_decode(text)
    except ValueError:
        raise InvalidInput("keys.auth must be base64url (the browser's PushSubscription.toJSON() value)") from None
    if len(data) != AUTH_BYTES:
        raise InvalidInput(f"keys.auth must be a {AUTH_BYTES}-byte secret, not {len(data)} bytes")
    return b64url(data)


def expiry(expiration_ms: float | None, now: datetime) -> datetime | None:
    """``expirationTime`` (milliseconds since the epoch, or null) as a UTC moment; InvalidInput when already past."""
    if expiration_ms is None:
        return None
    try:
        moment = datetime.fromtimestamp(float(expiration_ms) / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidInput("expirationTime must be milliseconds since 1970 (or null)") from None
    if moment <= now:
        raise InvalidInput("this push subscription has already expired: ask the browser for a new one")
    return moment


def _view(subscription: PushSubscription) -> SubscriptionView:
    return SubscriptionView(
        id=subscription.id,
        origin=origin_of(subscription.endpoint),
        created_at=subscription.created_at,
        expires_at=subscription.expires_at,
        last_success_at=subscription.last_success_at,
        failures=subscription.failures,
    )


def subscribe(
    session: Session,
    user: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    expiration_ms: float | None = None,
    now: datetime | None = None,
) -> SubscriptionView:
    """Store (or refresh) the browser subscription ``endpoint`` for ``user``.

    Raises Forbidden (403) without the ``push`` consent, InvalidInput (422) for bad keys, an expired subscription or
    an endpoint oO will not send to. Subscribing an endpoint again replaces its keys and makes it ``user``'s.
    """
    if not has_push_consent(session, user.id):
        raise Forbidden(NO_CONSENT)
    now = now or datetime.now(UTC)
    keys = {"p256dh": p256dh_key(p256dh), "auth": auth_secret(auth)}
    expires_at = expiry(expiration_ms, now)
    check_endpoint(endpoint, allow_private=get_settings().push_private_endpoints_allowed)
    fresh = {**keys, "expires_at": expires_at, "failures": 0, "last_failure_at": None}
    subscription = session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
    if subscription is None:
        try:
            with session.begin_nested():
                subscription = PushSubscription(user_id=user.id, endpoint=endpoint, created_at=now, **fresh)
                session.add(subscription)
        except IntegrityError:  # the same browser subscribed twice at once: the other request stored it
            subscription = session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).one()
    if subscription.user_id != user.id or subscription.p256dh != keys["p256dh"] or subscription.auth != keys["auth"]:
        subscription.created_at, subscription.last_success_at = now, None
    subscription.user_id = user.id
    for name, value in fresh.items():
        setattr(subscription, name, value)
    session.add(subscription)
    session.flush()
    _retire_oldest(session, user.id, keep=subscription.id)
    return _view(subscription)


def _retire_oldest(session: Session, user_id: int, keep: int) -> None:
    """Delete the person's oldest subscriptions beyond ``MAX_SUBSCRIPTIONS`` (never ``keep``, the one just made)."""
    others = session.exec(
        select(PushSubscription.id)
        .where(PushSubscription.user_id == user_id, PushSubscription.id != keep)
        .order_by(col(PushSubscription.created_at).desc(), col(PushSubscription.id).desc())
    ).all()
    retired = others[MAX_SUBSCRIPTIONS - 1 :]
    if retired:
        session.exec(sa.delete(PushSubscription).where(col(PushSubscription.id).in_(retired)))
        session.flush()


def unsubscribe(session: Session, user: User, endpoint: str) -> bool:
    """Delete ``user``'s subscription of ``endpoint``; whether there was one. Another person's is never touched."""
    result = session.exec(
        sa.delete(PushSubscription).where(PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint)
    )
    session.flush()
    return bool(result.rowcount)


def list_subscriptions(session: Session, user: User) -> list[SubscriptionView]:
    """The person's subscriptions, oldest first, as they may see them (origins only)."""
    rows = session.exec(
        select(PushSubscription).where(PushSubscription.user_id == user.id).order_by(col(PushSubscription.id))
    ).all()
    return [_view(row) for row in rows]


def forget_subscriptions(session: Session, user_id: int) -> int:
    """Delete every subscription of the person (their ``push`` consent was revoked); how many."""
    result = session.exec(sa.delete(PushSubscription).where(PushSubscription.user_id == user_id))
    session.flush()
    return result.rowcount or 0
