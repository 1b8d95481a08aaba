"""Todoist's webhooks: a signed delivery says that a person's tasks changed, and their sync runs at once.

Contract: the body is trusted only after its ``X-Todoist-Hmac-SHA256`` (base64 of HMAC-SHA256 of the raw body under
oO's client secret) matched, in constant time; otherwise :class:`WebhookRefused` and nothing is read. A delivery is
handled once, by its ``X-Todoist-Delivery-ID``: a replay writes nothing. The ``user_id`` names the person through
the Todoist user id stored at their first sync; an unknown one is answered like any other and writes nothing, so a
caller learns nothing of who uses oO. The delivery only makes the person's integration due: the completion itself is
read with oO's token through the sync (its project's name, its completion time), never taken from the body, and a
person in backoff stays in backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oo_app.errors import NotFound
from oo_app.integrations.errors import MalformedWebhook, WebhookRefused
from oo_app.integrations.oauth import CONNECTED
from oo_app.integrations.todoist import PROVIDER
from oo_app.models import Integration, WebhookDelivery
from oo_app.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Todoist-Hmac-SHA256"
DELIVERY_HEADER = "X-Todoist-Delivery-ID"
# The events after which a person's completions may have changed.
TASK_EVENTS = frozenset({"item:completed", "item:uncompleted", "item:updated", "item:deleted"})
KEEP_DELIVERIES = timedelta(days=30)  # Todoist retries a failed delivery for far less long


def signature(body: bytes, client_secret: str) -> str:
    """What Todoist puts in ``X-Todoist-Hmac-SHA256`` for ``body``."""
    return base64.b64encode(hmac.new(client_secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify(body: bytes, signed: str | None, client_secret: str) -> None:
    """Raises :class:`WebhookRefused` unless ``signed`` is ``body``'s signature under ``client_secret``."""
    if not client_secret or not signed:
        raise WebhookRefused("this delivery is not signed by Todoist")
    if not hmac.compare_digest(signature(body, client_secret).encode(), signed.encode("utf-8", "surrogateescape")):
        raise WebhookRefused("this delivery is not signed by Todoist")


def receive(
    session: Session, body: bytes, signed: str | None, delivery_id: str | None, now: datetime, settings: Settings
) -> int | None:
    """Handle one delivery (flushed; the caller commits): the id of the person whose sync is now due, or None.

    Raises :class:`NotFound` when webhooks are off, :class:`WebhookRefused` for a bad signature and
    :class:`MalformedWebhook` for a signed body that is not Todoist's shape. A replay, an unknown person, a person
    who must reconnect and an event that does not concern tasks are None, with nothing written.
    """
    if not settings.todoist_webhooks:
        raise NotFound("Todoist webhooks are not enabled on this server")
    verify(body, signed, settings.todoist_client_secret.get_secret_value())
    try:
        event = json.loads(body)
    except ValueError:
        raise MalformedWebhook("the delivery's body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("event_name"), str) or event.get("user_id") is None:
        raise MalformedWebhook("the delivery has no event_name or user_id")
    if not delivery_id or len(delivery_id) > 128:
        raise MalformedWebhook(f"the delivery has no usable {DELIVERY_HEADER}")
    integration = session.exec(
        select(Integration).where(
            Integration.provider == PROVIDER, Integration.provider_user_id == str(event["user_id"])[:64]
        )
    ).first()
    if integration is None or integration.status != CONNECTED:
        log.info("todoist webhook for no connected person: ignored")
        return None
    try:
        with session.begin_nested():
            session.add(WebhookDelivery(user_id=integration.user_id, provider=PROVIDER, delivery_id=delivery_id))
    except IntegrityError:
        log.info("todoist webhook delivery replayed: ignored")
        return None
    session.execute(
        delete(WebhookDelivery).where(
            col(WebhookDelivery.user_id) == integration.user_id,
            col(WebhookDelivery.received_at) < now - KEEP_DELIVERIES,
        )
    )
    if event["event_name"] not in TASK_EVENTS:
        return None
    if integration.consecutive_failures == 0:  # in backoff, the scheduled attempt stands
        integration.next_attempt_at = now
        session.add(integration)
    session.flush()
    return integration.user_id
