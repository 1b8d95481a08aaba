"""Sending one push message to one browser's push service, with pywebpush.

The message is encrypted to the subscription's keys (RFC 8291, ``Content-Encoding: aes128gcm``) and signed with
oO's VAPID key (RFC 8292: ``Authorization: vapid t=<JWT>, k=<public key>``, ``aud`` = the endpoint's origin,
``sub`` = ``OO_VAPID_SUBJECT``, expiring within 24 hours), with a ``TTL`` and ``Urgency: normal``. The endpoint is
checked again right before sending (:func:`oo_app.push.endpoints.approve_endpoint`), the message goes to an address
that check approved (:mod:`oo_app.push.pinned_http`: no second resolution) and no redirect is followed.
A send never raises for what a push service answers: the result says what happened, naming the endpoint by its
origin only (the full endpoint is a capability).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import requests
from pywebpush import WebPushException, webpush

from oo_app.models import PushSubscription
from oo_app.push.endpoints import approve_endpoint, origin_of
from oo_app.push.errors import EndpointRefused
from oo_app.push.keys import VapidKeys
from oo_app.push.pinned_http import PinnedSession, pinned

log = logging.getLogger(__name__)

GONE = frozenset({404, 410})  # the push service no longer knows the subscription (RFC 8030, section 7.3)
URGENCY = "normal"


@dataclass(frozen=True)
class SendResult:
    """What one push service answered: ``ok`` (201 and the like), ``gone`` (404/410: forget the subscription), or a
    failure with its ``error``."""

    ok: bool
    status: int | None = None
    error: str | None = None

    @property
    def gone(self) -> bool:
        return self.status in GONE


class PushSender(Protocol):
    def send(self, subscription: PushSubscription, payload: str, ttl: int) -> SendResult: ...

    def close(self) -> None: ...


class WebPushSender:
    """Sends with ``pywebpush.webpush`` over one HTTP session (close it after the round)."""

    def __init__(self, keys: VapidKeys, *, timeout_s: float, allow_private: bool) -> None:
        self._keys = keys
        self._vapid = keys.signer()
        self._timeout_s = timeout_s
        self._allow_private = allow_private
        self._session = PinnedSession()

    def send(self, subscription: PushSubscription, payload: str, ttl: int) -> SendResult:
        origin = origin_of(subscription.endpoint)
        try:
            approved = approve_endpoint(subscription.endpoint, allow_private=self._allow_private)
        except EndpointRefused as error:
            return SendResult(ok=False, error=f"{origin}: refused ({error})")
        try:
            with pinned(approved.host, approved.port, approved.addresses):
                response = webpush(
                    subscription_info={
                        "endpoint": subscription.endpoint,
                        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                    },
                    data=payload,
                    vapid_private_key=self._vapid,
                    vapid_claims={"sub": self._keys.subject, "aud": origin},
                    content_encoding="aes128gcm",
                    ttl=ttl,
                    timeout=self._timeout_s,
                    headers={"Urgency": URGENCY},
                    requests_session=self._session,
                )
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            reason = f"answered {status}" if status is not None else f"refused the message ({error.message})"
            return SendResult(ok=False, status=status, error=f"{origin} {reason}")
        except requests.RequestException as error:
            return SendResult(ok=False, error=f"{origin} unreachable ({type(error).__name__})")
        return SendResult(ok=True, status=response.status_code)

    def close(self) -> None:
        self._session.close()
