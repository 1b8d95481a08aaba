"""HTTP routes of web push, included by :mod:`oo_app.api`: the key browsers subscribe with, and the person's
subscriptions. Thin adapters over :mod:`oo_app.push.keys` and :mod:`oo_app.push.subscriptions`.

Every route acts on the signed-in person only (401 otherwise); writes carry the CSRF guard (403). Subscribing needs
the ``push`` consent (403 naming it); bad keys or a refused endpoint are 422; push without a VAPID key is 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from oo_app.deps import CsrfDep, SessionDep, UserDep
from oo_app.push.endpoints import MAX_ENDPOINT_LENGTH
from oo_app.push.keys import load_vapid
from oo_app.push.subscriptions import SubscriptionView, list_subscriptions, subscribe, unsubscribe

router = APIRouter(tags=["push"])


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (403, 422, 503)}


class PublicKeyOut(BaseModel):
    public_key: str = Field(description="VAPID public key: base64url uncompressed P-256 point (applicationServerKey)")


class SubscriptionKeysIn(BaseModel):
    p256dh: str = Field(max_length=128, description="base64url uncompressed P-256 point (65 bytes)")
    auth: str = Field(max_length=64, description="base64url authentication secret (16 bytes)")


class SubscriptionIn(BaseModel):
    """The browser's ``PushSubscription.toJSON()``, as it is."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(max_length=MAX_ENDPOINT_LENGTH)
    expirationTime: float | None = Field(default=None, description="milliseconds since 1970, or null")
    keys: SubscriptionKeysIn


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(max_length=MAX_ENDPOINT_LENGTH)


class SubscriptionOut(BaseModel):
    id: int
    origin: str = Field(description="the push service's origin; the full endpoint is never shown")
    created_at: datetime
    expires_at: datetime | None
    last_success_at: datetime | None
    failures: int

    @classmethod
    def of(cls, view: SubscriptionView) -> SubscriptionOut:
        return cls(**view.__dict__)


class SubscriptionsOut(BaseModel):
    subscriptions: list[SubscriptionOut]


@router.get("/api/push/key", response_model=PublicKeyOut, responses=ERRORS)
def get_key(user: UserDep) -> PublicKeyOut:
    """The VAPID public key to pass as ``applicationServerKey`` to ``pushManager.subscribe``."""
    del user  # signed-in persons only
    return PublicKeyOut(public_key=load_vapid().public_key)


@router.post(
    "/api/push/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    responses=ERRORS,
    dependencies=[CsrfDep],
)
def post_subscription(body: SubscriptionIn, session: SessionDep, user: UserDep) -> SubscriptionOut:
    """Subscribe this browser (idempotent per endpoint; an endpoint subscribed again becomes this person's)."""
    view = subscribe(session, user, body.endpoint, body.keys.p256dh, body.keys.auth, body.expirationTime)
    return SubscriptionOut.of(view)


@router.delete(
    "/api/push/subscriptions",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    dependencies=[CsrfDep],
)
def delete_subscription(body: EndpointIn, session: SessionDep, user: UserDep) -> Response:
    """Unsubscribe this browser: 204 whether or not it was subscribed; another person's subscription is untouched."""
    unsubscribe(session, user, body.endpoint)
    return Response(status_code=204)


@router.get("/api/push/subscriptions", response_model=SubscriptionsOut, responses=ERRORS)
def get_subscriptions(session: SessionDep, user: UserDep) -> SubscriptionsOut:
    """The person's subscribed browsers: push service origin, since when, last success, failures since."""
    return SubscriptionsOut(subscriptions=[SubscriptionOut.of(view) for view in list_subscriptions(session, user)])
