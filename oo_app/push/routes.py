"""HTTP routes of web push, included by :mod:`oo_app.api`: the key browsers subscribe with, the person's
subscriptions, and the answer a notification's button gives. Thin adapters over :mod:`oo_app.push.keys`,
:mod:`oo_app.push.subscriptions` and :mod:`oo_app.push.answers`.

Every route but the answer acts on the signed-in person only (401 otherwise); their writes carry the CSRF guard
(403). Subscribing needs the ``push`` consent (403 naming it); bad keys or a refused endpoint are 422; push without a
VAPID key is 503. The answer (``POST /api/push/react``) is authenticated by the token the push carried, not by a
session: see :func:`post_answer`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from oo_app.body_limits import bounded_route
from oo_app.deps import CsrfDep, SessionDep, UserDep
from oo_app.push.answers import ACTIONS, MAX_TOKEN_LENGTH, answer_from_notification
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


class AnswerIn(BaseModel):
    """What the service worker posts when a notification's button is tapped."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH, description="the push message's ``answer``")
    action: str = Field(max_length=32, description=f"the button tapped: {' or '.join(ACTIONS)}")


class AnswerOut(BaseModel):
    tip_id: int
    reaction: str = Field(description="the tip's reaction: done, or snoozed for later")
    recorded: bool = Field(description="false when the same answer already stood (a second tap): nothing written")


MAX_ANSWER_BYTES = 1024  # a token and an action: a few hundred bytes
ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (403, 404, 409, 410, 413, 422)}


def post_answer(body: AnswerIn, session: SessionDep) -> AnswerOut:
    """Answer the tip of a notification with the button tapped: ``done`` or ``later`` (snoozed), recorded as on the
    page, the next tip written for the page. 200 also for a second tap of the same button (``recorded`` false,
    nothing written); 409 when the tip was answered otherwise (kept); 403 for a token oO did not sign for this, 410
    for an expired one, 404 when the tip is gone; 413 for a body over ``MAX_ANSWER_BYTES``.

    No session and so no CSRF cookie: the service worker answers with no page open, and what authenticates it is the
    token in the (end-to-end encrypted) push message, which a cross-site page never sees and cannot forge. A forged
    request riding on the person's cookies gains nothing here, as cookies are never read; the token alone is the
    credential, bound to one person and one tip, for a few hours. Rate: a token answers its one tip once, and the tip
    it writes next takes a token of the person's tip limit like the page's (past it, the answer stands all the same).
    """
    answered = answer_from_notification(session, body.token, body.action)
    return AnswerOut(tip_id=answered.tip.id, reaction=answered.reaction.value, recorded=answered.recorded)


router.add_api_route(
    "/api/push/react",
    post_answer,
    methods=["POST"],
    response_model=AnswerOut,
    responses=ANSWER_ERRORS,
    route_class_override=bounded_route(MAX_ANSWER_BYTES),
)
