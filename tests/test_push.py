"""Web push end to end: VAPID keys, consent-gated subscriptions through the API, delivery rounds to a push service on
loopback whose messages the browser's own keys decrypt (RFC 8291), and what a push service's answers do; the slot
claim across racing rounds, snoozes, the privacy of subscriptions, the CLI and the workers' periodic round."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlmodel import Session, select

from agents.runner import run_due
from oo_app.demo import grant_consents
from oo_app.models import Consent, PushDelivery, PushSubscription, Tip, User
from oo_app.profile.consents import grant_consent
from oo_app.push import jobs as push_jobs
from oo_app.push.answers import AnswerClaim, answer_from_notification, read_answer_token
from oo_app.push.delivery import claim_slot, deliver_due
from oo_app.push.errors import PushNotConfigured
from oo_app.push.keys import generate_private_key, load_vapid, public_key_of, raw_private_key
from oo_app.push.subscriptions import MAX_SUBSCRIPTIONS, PUSH_CONSENT, subscribe
from oo_app.recommender import mark_shown, react, recommend
from oo_app.recommender.timing import delivery_moments, snooze_until, timing_params
from oo_app.settings import Settings
from tests.conftest import NOW
from tests.fakes.push_service import Browser, FakePushService, unb64url
from tests.test_profile_helpers import make_person, signed_in

SUBJECT = "mailto:ops@example.com"
DAY = (NOW + timedelta(days=1)).date()  # the day after the demo person's agents ran
OO = str(Path(sys.executable).with_name("oo"))


@pytest.fixture
def vapid_key(configure: Callable[..., None], tmp_path: Path) -> str:
    """A VAPID key and subject of this test's own (never the developer's data/vapid.key); the key, raw base64url."""
    key = raw_private_key(generate_private_key())
    configure(OO_VAPID_PRIVATE_KEY=key, OO_VAPID_SUBJECT=SUBJECT, OO_VAPID_KEY_FILE=str(tmp_path / "unused-vapid.key"))
    return key


@pytest.fixture
def public_key(vapid_key: str) -> str:
    return load_vapid().public_key


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


@pytest.fixture
def person(session: Session, demo_user: User, vapid_key: str) -> User:
    """The demo person with the ``push`` consent and their agents run at NOW."""
    grant_consent(session, demo_user, PUSH_CONSENT, NOW)
    run_due(session, NOW, [demo_user.id])
    session.commit()
    return demo_user


@pytest.fixture
def client(person: User) -> Iterator[TestClient]:
    with signed_in(person) as client:
        yield client


@pytest.fixture
def push_browser(client: TestClient, push_service: FakePushService, public_key: str) -> Browser:
    """The demo person's browser, subscribed through the API with the key GET /api/push/key gave it."""
    key = client.get("/api/push/key").json()["public_key"]
    push_browser = push_service.subscribe(key)
    response = client.post("/api/push/subscriptions", json=push_browser.to_json())
    assert response.status_code == 201, response.text
    return push_browser


def _slots(session: Session, user: User, day: date = DAY) -> list[datetime]:
    return delivery_moments(timing_params(session, user), day)


def _deliveries(session: Session, user: User) -> list[PushDelivery]:
    session.commit()
    return list(session.exec(select(PushDelivery).where(PushDelivery.user_id == user.id).order_by(PushDelivery.slot)))


def _subscriptions(session: Session) -> list[PushSubscription]:
    session.commit()
    return list(session.exec(select(PushSubscription).order_by(PushSubscription.id)))


# --- VAPID keys -------------------------------------------------------------------------------------------------------


def test_the_public_key_is_the_applicationserverkey_of_the_configured_key(client: TestClient, vapid_key: str) -> None:
    response = client.get("/api/push/key")

    assert response.status_code == 200
    point = unb64url(response.json()["public_key"])
    assert (len(point), point[0]) == (65, 0x04), "an uncompressed P-256 point"
    assert response.json() == {"public_key": public_key_of(load_vapid().private_key)}
    assert vapid_key not in response.text


def test_development_generates_one_vapid_key_into_a_private_file(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    path = tmp_path / "data" / "vapid.key"
    configure(OO_ENV="development", OO_VAPID_PRIVATE_KEY="", OO_VAPID_KEY_FILE=str(path))

    first, second = load_vapid(), load_vapid()

    assert first.public_key == second.public_key, "generated once, then read back"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.subject == "mailto:oo@localhost"


def test_outside_development_push_without_vapid_settings_is_a_clear_error(
    configure: Callable[..., None], engine: Any, demo_user: User, tmp_path: Path
) -> None:
    configure(OO_ENV="production", OO_SECRET_KEY="s" * 40, OO_VAPID_KEY_FILE=str(tmp_path / "never.key"))
    with pytest.raises(PushNotConfigured, match="OO_VAPID_PRIVATE_KEY"):
        load_vapid()
    with signed_in(demo_user) as client:
        response = client.get("/api/push/key")
    assert response.status_code == 503
    assert "oo push generate-vapid" in response.json()["error"]
    assert not (tmp_path / "never.key").exists(), "no key is generated outside development"

    configure(OO_VAPID_PRIVATE_KEY=raw_private_key(generate_private_key()))
    with pytest.raises(PushNotConfigured, match="OO_VAPID_SUBJECT"):
        load_vapid()


def test_a_malformed_vapid_key_is_refused_without_showing_it(configure: Callable[..., None]) -> None:
    configure(OO_VAPID_PRIVATE_KEY="not-a-key-SECRETISH", OO_VAPID_SUBJECT=SUBJECT)
    with pytest.raises(PushNotConfigured, match="not a P-256 private key") as error:
        load_vapid()
    assert "SECRETISH" not in str(error.value)


@pytest.mark.parametrize("subject", ["ops@example.com", "mailto:nobody", "http://example.com", "https://"])
def test_the_vapid_subject_is_a_mailto_or_https_contact(subject: str) -> None:
    with pytest.raises(ValidationError, match="OO_VAPID_SUBJECT"):
        Settings(vapid_subject=subject)
    assert Settings(vapid_subject="https://oo.example.com/contact").vapid_subject == "https://oo.example.com/contact"


def test_private_push_endpoints_are_allowed_by_default_only_outside_production() -> None:
    secret = SecretStr("s" * 40)
    assert Settings(env="development").push_private_endpoints_allowed
    assert Settings(env="test").push_private_endpoints_allowed
    assert not Settings(env="production", secret_key=secret).push_private_endpoints_allowed
    assert Settings(
        env="production", secret_key=secret, push_allow_private_endpoints=True
    ).push_private_endpoints_allowed
    assert not Settings(env="development", push_allow_private_endpoints=False).push_private_endpoints_allowed


# --- subscriptions ----------------------------------------------------------------------------------------------------


def test_subscribing_needs_the_push_consent(
    session: Session, demo_user: User, vapid_key: str, push_service: FakePushService
) -> None:
    with signed_in(demo_user) as client:
        response = client.post("/api/push/subscriptions", json=push_service.subscribe("k").to_json())

    assert response.status_code == 403
    assert "consent 'push'" in response.json()["error"]
    assert _subscriptions(session) == []


def test_subscribing_is_idempotent_per_endpoint_and_shows_origins_only(
    session: Session, client: TestClient, push_browser: Browser, push_service: FakePushService
) -> None:
    again = client.post("/api/push/subscriptions", json=push_browser.to_json(expiration_time=4102444800000))
    listed = client.get("/api/push/subscriptions")

    assert again.status_code == 201
    [row] = _subscriptions(session)
    assert (row.endpoint, row.expires_at) == (push_browser.endpoint, datetime(2100, 1, 1, tzinfo=UTC))
    assert listed.status_code == 200
    [shown] = listed.json()["subscriptions"]
    assert shown["origin"] == push_service.base_url
    assert push_browser.id not in listed.text, "the full endpoint is a capability: never shown"
    assert push_browser.to_json()["keys"]["auth"] not in listed.text


def test_a_person_keeps_at_most_ten_browsers_and_a_new_one_retires_the_oldest(
    session: Session, person: User, push_service: FakePushService
) -> None:
    browsers = [push_service.subscribe("k") for _ in range(MAX_SUBSCRIPTIONS + 2)]
    for minute, browser in enumerate(browsers):
        subscribe(session, person, **_subscription_args(browser) | {"now": NOW + timedelta(minutes=minute)})
    subscribe(session, person, **_subscription_args(browsers[0]) | {"now": NOW + timedelta(hours=1)})
    session.commit()

    kept = {row.endpoint for row in _subscriptions(session)}
    assert len(kept) == MAX_SUBSCRIPTIONS
    assert kept == {push_browser.endpoint for push_browser in [browsers[0], *browsers[3:]]}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"p256dh": "BAAA", "auth": None}, "uncompressed P-256 public key (65 bytes"),
        ({"p256dh": "BP" + "A" * 85, "auth": None}, "not a point on the P-256 curve"),
        ({"p256dh": "not base64url!", "auth": None}, "keys.p256dh must be base64url"),
        ({"p256dh": None, "auth": "AAAAAAAAAAAAAAAAAAAA"}, "keys.auth must be a 16-byte secret, not 15 bytes"),
        ({"p256dh": None, "auth": "$$$"}, "keys.auth must be base64url"),
    ],
)
def test_bad_keys_are_a_422_that_says_what_is_wrong(
    session: Session, client: TestClient, push_service: FakePushService, keys: dict[str, Any], message: str
) -> None:
    body = push_service.subscribe("k").to_json()
    body["keys"] |= {name: value for name, value in keys.items() if value is not None}

    response = client.post("/api/push/subscriptions", json=body)

    assert response.status_code == 422
    assert message in response.json()["error"]
    assert _subscriptions(session) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://93.184.216.34/push/1",
        "https://127.0.0.1/push/1",
        "https://localhost:8443/push/1",
        "https://10.1.2.3/push/1",
        "https://192.168.0.10/push/1",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/push/1",
        "https://[::1]/push/1",
        "https://[::ffff:127.0.0.1]/push/1",
        "https://[fe80::1]/push/1",
        "https://0.0.0.0/push/1",
        "https://user:secret@93.184.216.34/push/1",
        "ftp://93.184.216.34/push/1",
        "/push/1",
        "https://push.invalid/push/1",
    ],
)
def test_endpoints_that_reach_inside_are_refused(
    session: Session, client: TestClient, configure: Callable[..., None], push_service: FakePushService, endpoint: str
) -> None:
    configure(OO_PUSH_ALLOW_PRIVATE_ENDPOINTS="false")
    body = push_service.subscribe("k").to_json() | {"endpoint": endpoint}

    response = client.post("/api/push/subscriptions", json=body)

    assert response.status_code == 422, response.text
    assert "endpoint" in response.json()["error"]
    assert _subscriptions(session) == []


def test_a_public_https_endpoint_is_accepted_and_plain_http_only_reaches_a_local_push_service(
    session: Session, client: TestClient, configure: Callable[..., None], push_service: FakePushService
) -> None:
    configure(OO_PUSH_ALLOW_PRIVATE_ENDPOINTS="false")
    body = push_service.subscribe("k").to_json()
    public = client.post("/api/push/subscriptions", json=body | {"endpoint": "https://93.184.216.34/push/abc"})
    local = client.post("/api/push/subscriptions", json=body)
    configure(OO_PUSH_ALLOW_PRIVATE_ENDPOINTS="true")
    local_allowed = client.post("/api/push/subscriptions", json=body)
    http_public = client.post("/api/push/subscriptions", json=body | {"endpoint": "http://93.184.216.34/push/abc"})

    assert (public.status_code, local.status_code, local_allowed.status_code) == (201, 422, 201)
    assert http_public.status_code == 422
    assert "https" in http_public.json()["error"]
    assert [row.endpoint for row in _subscriptions(session)] == ["https://93.184.216.34/push/abc", body["endpoint"]]


def test_an_endpoint_subscribed_by_another_person_moves_to_them_and_nobody_unsubscribes_someone_else(
    session: Session, person: User, client: TestClient, push_browser: Browser
) -> None:
    other = make_person(session, "other@example.com")
    grant_consent(session, other, PUSH_CONSENT, NOW)
    session.commit()
    with signed_in(other) as theirs:
        refused = theirs.request("DELETE", "/api/push/subscriptions", json={"endpoint": push_browser.endpoint})
        assert [row.user_id for row in _subscriptions(session)] == [person.id], "another person's is untouched"
        moved = theirs.post("/api/push/subscriptions", json=push_browser.to_json())
        assert client.get("/api/push/subscriptions").json() == {"subscriptions": []}
        gone = theirs.request("DELETE", "/api/push/subscriptions", json={"endpoint": push_browser.endpoint})

    assert refused.status_code == 204
    assert moved.status_code == 201
    assert gone.status_code == 204
    assert _subscriptions(session) == []


def test_revoking_the_push_consent_deletes_every_subscription_in_the_same_change(
    session: Session, person: User, client: TestClient, push_browser: Browser, push_service: FakePushService
) -> None:
    second = push_service.subscribe(client.get("/api/push/key").json()["public_key"])
    assert client.post("/api/push/subscriptions", json=second.to_json()).status_code == 201
    other = make_person(session, "other@example.com")
    grant_consent(session, other, PUSH_CONSENT, NOW)
    subscribe(session, other, **_subscription_args(push_service.subscribe("k")))
    session.commit()

    response = client.patch("/api/profile/consents", json={PUSH_CONSENT: False})

    assert response.status_code == 200
    assert "2 subscription(s) deleted" in response.json()["note"]
    push = next(consent for consent in response.json()["consents"] if consent["key"] == PUSH_CONSENT)
    assert (push["granted"], push["agents"]) == (False, [])
    assert "never sends one in your quiet hours" in push["text"]
    assert [row.user_id for row in _subscriptions(session)] == [other.id]
    again = client.post("/api/push/subscriptions", json=push_browser.to_json())
    assert again.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/push/key", None),
        ("GET", "/api/push/subscriptions", None),
        (
            "POST",
            "/api/push/subscriptions",
            {"endpoint": "https://93.184.216.34/p", "keys": {"p256dh": "", "auth": ""}},
        ),
        ("DELETE", "/api/push/subscriptions", {"endpoint": "https://93.184.216.34/p"}),
    ],
)
def test_push_routes_need_a_session_and_writes_need_the_csrf_token(
    demo_user: User, vapid_key: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    from oo_app.api import api

    with TestClient(api, raise_server_exceptions=False) as anonymous:
        assert anonymous.request(method, path, json=body).status_code == 401
    if method != "GET":
        with signed_in(demo_user) as client:
            del client.headers["X-CSRF-Token"]
            assert client.request(method, path, json=body).status_code == 403


def _subscription_args(browser: Browser) -> dict[str, Any]:
    body = browser.to_json()
    return {"endpoint": body["endpoint"], "p256dh": body["keys"]["p256dh"], "auth": body["keys"]["auth"], "now": NOW}


# --- delivery ---------------------------------------------------------------------------------------------------------


def test_a_push_at_a_delivery_moment_decrypts_to_the_tip_in_the_database(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    slot = _slots(session, person)[0]

    report = deliver_due(session, slot + timedelta(minutes=5))

    [request] = push_service.requests
    assert request.status == 201, request.reason
    message = push_browser.decrypt(request.body)
    [delivery] = _deliveries(session, person)
    tip = session.get(Tip, delivery.tip_id)
    answer = message.pop("answer")
    assert message == {
        "title": "oO",
        "body": tip.text,
        "tip_id": tip.id,
        "kind": tip.kind,
        "url": "/",
        "actions": [{"action": "done", "title": "Done"}, {"action": "later", "title": "Later"}],
    }
    assert read_answer_token(answer, slot + timedelta(minutes=5)) == AnswerClaim(user_id=person.id, tip_id=tip.id)
    assert (delivery.slot, delivery.status, delivery.sent_to) == (slot, "sent", 1)
    assert [pushed.tip_id for pushed in report.sent] == [tip.id]
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["urgency"] == "normal"
    assert 0 < int(request.headers["ttl"]) <= 1800
    assert request.claims["aud"] == push_service.base_url
    assert request.claims["sub"] == SUBJECT
    assert tip.shown_at is None, "pushed is not seen: the page marks it shown"
    [subscription] = _subscriptions(session)
    assert (subscription.last_success_at, subscription.failures) == (slot + timedelta(minutes=5), 0)


def test_a_slot_is_pushed_once_and_a_missed_slot_is_skipped(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    first, second, _ = _slots(session, person)

    pushed = deliver_due(session, first)
    again = deliver_due(session, first + timedelta(minutes=10))
    late = deliver_due(session, second + timedelta(minutes=25))
    night = deliver_due(session, datetime(2026, 11, 21, 23, 30, tzinfo=UTC))  # 00:30 in Berlin

    assert len(pushed.sent) == 1
    assert again.waited == {"slot_taken": 1}
    assert late.waited == {"not_due": 1}, "never sent late"
    assert night.waited == {"not_due": 1}
    assert len(push_service.requests) == 1


def test_no_push_while_the_page_shows_a_tip(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    slot = _slots(session, person)[0]
    mark_shown(session, recommend(session, person, slot - timedelta(minutes=20)), slot - timedelta(minutes=10))
    session.commit()

    report = deliver_due(session, slot + timedelta(minutes=5))

    assert report.waited == {"recently_viewed": 1}
    assert push_service.requests == []


def test_the_current_unanswered_tip_is_pushed_once_then_a_fresh_one(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    first, second, _ = _slots(session, person)
    current = recommend(session, person, first - timedelta(minutes=10))
    session.commit()

    deliver_due(session, first)
    deliver_due(session, second)

    pushed = [push_browser.decrypt(request.body)["tip_id"] for request in push_service.delivered]
    assert pushed[0] == current.id
    assert len(pushed) == 2
    assert pushed[1] != current.id


def test_a_snoozed_tip_holds_pushes_until_the_next_morning_and_then_comes_back(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    first, second, third = _slots(session, person)
    deliver_due(session, first)
    [delivery] = _deliveries(session, person)
    snoozed = react(session, person, delivery.tip_id, "snoozed", first + timedelta(minutes=5))
    session.commit()
    morning = _slots(session, person, DAY + timedelta(days=1))

    assert snoozed.snoozed_until == morning[0] == snooze_until(timing_params(session, person), snoozed.reacted_at)
    held = [deliver_due(session, slot).waited for slot in (second, third)]
    back = deliver_due(session, morning[0])
    after = deliver_due(session, morning[1])

    assert held == [{"snoozed": 1}, {"snoozed": 1}]
    [returned] = back.sent
    copy = session.get(Tip, returned.tip_id)
    assert (returned.snoozed_tip_id, copy.text, copy.kind) == (snoozed.id, snoozed.text, snoozed.kind)
    assert copy.id != snoozed.id
    assert copy.reaction is None
    assert after.sent[0].snoozed_tip_id is None, "it comes back once"
    messages = [push_browser.decrypt(request.body) for request in push_service.delivered]
    assert [message["tip_id"] for message in messages] == [snoozed.id, copy.id, after.sent[0].tip_id]


def test_the_notification_answers_its_tip_later_and_a_push_brings_it_back_the_next_morning(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    first, second, _ = _slots(session, person)
    deliver_due(session, first)
    message = push_browser.decrypt(push_service.delivered[0].body)

    answered = answer_from_notification(session, message["answer"], "later", first + timedelta(minutes=3))
    session.commit()

    assert (answered.tip.id, answered.tip.reaction, answered.recorded) == (message["tip_id"], "snoozed", True)
    assert deliver_due(session, second).waited == {"snoozed": 1}, "answered later: no push until the next morning"
    morning = _slots(session, person, DAY + timedelta(days=1))[0]
    assert deliver_due(session, morning).sent[0].snoozed_tip_id == message["tip_id"]


def test_snoozing_through_the_api_sets_the_next_morning(session: Session, person: User, client: TestClient) -> None:
    tip = client.post("/api/recommend").json()["tip"]

    response = client.post(f"/api/tips/{tip['id']}/reaction", json={"reaction": "snoozed"})

    assert response.status_code == 200
    stored = session.get(Tip, tip["id"])
    session.refresh(stored)
    assert stored.snoozed_until == snooze_until(timing_params(session, person), stored.reacted_at)
    assert stored.snoozed_until > stored.reacted_at


@pytest.mark.parametrize(("status", "kept"), [(404, False), (410, False), (429, True), (500, True)])
def test_what_a_push_service_answers_decides_the_subscription_and_the_slot_stays_claimed(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService, status: int, kept: bool
) -> None:
    slot = _slots(session, person)[0]
    push_service.answer["*"] = status

    report = deliver_due(session, slot)
    retry = deliver_due(session, slot + timedelta(minutes=10))

    [pushed] = report.pushed
    assert pushed.status == ("failed" if kept else "gone")
    assert retry.pushed == [], "no resend within the slot"
    assert retry.waited == ({"slot_taken": 1} if kept else {}), "a forgotten subscription leaves nobody to push"
    assert len(push_service.requests) == 1
    subscriptions = _subscriptions(session)
    assert bool(subscriptions) is kept
    if kept:
        assert subscriptions[0].failures == 1
        assert f"answered {status}" in _deliveries(session, person)[0].error


def test_an_expired_subscription_is_forgotten_without_a_request(
    session: Session, person: User, push_service: FakePushService, public_key: str
) -> None:
    slot = _slots(session, person)[0]
    expiring = _subscription_args(push_service.subscribe(public_key))
    subscribe(session, person, **expiring, expiration_ms=(slot - timedelta(hours=1)).timestamp() * 1000)
    session.commit()

    report = deliver_due(session, slot)

    assert [pushed.status for pushed in report.pushed] == ["gone"]
    assert push_service.requests == []
    assert _subscriptions(session) == []


def test_the_daily_cap_and_the_minimum_gap_hold(
    session: Session, person: User, push_browser: Browser, configure: Callable[..., None]
) -> None:
    first, second, third = _slots(session, person)
    configure(OO_PUSH_MIN_GAP_MINUTES="90")
    rounds = [deliver_due(session, slot) for slot in (first, second, third)]
    assert [len(report.sent) for report in rounds] == [1, 0, 1]
    assert rounds[1].waited == {"min_gap": 1}

    configure(OO_PUSH_DAILY_CAP="1")
    tomorrow = _slots(session, person, DAY + timedelta(days=1))
    capped = [deliver_due(session, slot) for slot in tomorrow]
    assert [len(report.sent) for report in capped] == [1, 0, 0]
    assert capped[2].waited == {"daily_cap": 1}


def test_a_subscription_without_the_consent_gets_no_push(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    consent = session.exec(select(Consent).where(Consent.user_id == person.id, Consent.key == PUSH_CONSENT)).one()
    consent.granted = False  # as if revoked by a path that forgot the subscriptions
    session.commit()

    report = deliver_due(session, _slots(session, person)[0])

    assert report.persons == 0
    assert push_service.requests == []


def test_a_person_no_agent_ran_for_yet_is_pushed_at_the_cold_start_hours(
    session: Session, vapid_key: str, push_service: FakePushService, public_key: str
) -> None:
    """Nothing inferred nor stored yet: a round still counts them and pushes at the defaults, 10:00 on their clock."""
    user = make_person(session, "new@example.com", tz="Europe/Berlin")
    grant_consent(session, user, PUSH_CONSENT, NOW)
    subscribe(session, user, **_subscription_args(push_service.subscribe(public_key)))
    session.commit()
    assert timing_params(session, user)["preferred_hour"] == 10, "the cold-start default: no agent ran"
    ten = datetime(2026, 11, 21, 9, tzinfo=UTC)  # 10:00 in Berlin

    report = deliver_due(session, ten + timedelta(minutes=5))

    assert report.persons == 1
    assert [(pushed.user_id, pushed.slot, pushed.status) for pushed in report.pushed] == [(user.id, ten, "sent")]


def _racing_person(session: Session, push_service: FakePushService) -> tuple[User, datetime]:
    user = make_person(session, "racer@example.com")
    grant_consents(session, user, (PUSH_CONSENT,))
    subscribe(session, user, **_subscription_args(push_service.subscribe(load_vapid().public_key)))
    run_due(session, NOW, [user.id])
    session.commit()
    return user, _slots(session, user)[0]


def test_a_claimed_slot_cannot_be_claimed_by_a_second_session(
    any_database: Session, vapid_key: str, push_service: FakePushService
) -> None:
    user, slot = _racing_person(any_database, push_service)
    engine = any_database.get_bind()
    outcome: list[Any] = []
    with Session(engine) as first:
        assert claim_slot(first, user.id, slot, slot) is not None
        second_claim = threading.Thread(
            target=lambda: outcome.append(claim_slot(Session(engine), user.id, slot, slot)), daemon=True
        )
        second_claim.start()  # on PostgreSQL it waits on the first claim's uncommitted row
        second_claim.join(timeout=0.5)
        first.commit()
    second_claim.join(timeout=30)

    assert outcome == [None], "the second claim loses, whether it waited on the first or came after it"


def test_two_rounds_racing_for_one_slot_send_it_once(
    any_database: Session, vapid_key: str, push_service: FakePushService
) -> None:
    user, slot = _racing_person(any_database, push_service)
    engine = any_database.get_bind()
    start = threading.Barrier(2)
    reports: list[Any] = []

    def round_() -> None:
        start.wait()
        reports.append(deliver_due(engine, slot + timedelta(minutes=1)))

    workers = [threading.Thread(target=round_) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(reports) == 2
    assert sorted(len(report.sent) for report in reports) == [0, 1]
    assert len(push_service.requests) == 1
    assert len(_deliveries(any_database, user)) == 1


# --- privacy ----------------------------------------------------------------------------------------------------------


def test_the_export_lists_subscriptions_without_their_keys_and_the_deliveries(
    session: Session, person: User, client: TestClient, push_browser: Browser
) -> None:
    deliver_due(session, _slots(session, person)[0])

    document = client.get("/api/me/export").json()

    [subscription] = document["tables"]["push_subscriptions"]
    assert subscription["endpoint"] == push_browser.endpoint
    assert {"p256dh", "auth"}.isdisjoint(subscription)
    assert subscription["keys"].endswith("keys are never exported")
    keys = push_browser.to_json()["keys"]
    assert keys["p256dh"] not in json.dumps(document)
    assert keys["auth"] not in json.dumps(document)
    [delivery] = document["tables"]["push_deliveries"]
    assert (delivery["status"], delivery["sent_to"]) == ("sent", 1)


def test_deleting_the_account_deletes_subscriptions_and_deliveries(
    session: Session, person: User, client: TestClient, push_browser: Browser
) -> None:
    deliver_due(session, _slots(session, person)[0])

    response = client.request("DELETE", "/api/me", json={"confirm": person.email})

    assert response.status_code == 200, response.text
    assert (response.json()["removed"]["push_subscriptions"], response.json()["removed"]["push_deliveries"]) == (1, 1)
    assert _subscriptions(session) == []
    assert session.exec(select(PushDelivery)).all() == []


# --- the CLI and the engines ------------------------------------------------------------------------------------------


def _oo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "OO_SCHEDULER_ENABLED": "false", **env}
    return subprocess.run([OO, "push", *args], capture_output=True, text=True, env=full, timeout=120, check=False)


def test_generate_vapid_prints_env_lines_push_accepts(tmp_path: Path) -> None:
    result = _oo("generate-vapid", "--subject", "mailto:me@example.com")

    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if not line.startswith("#"))
    settings = Settings(vapid_private_key=lines["OO_VAPID_PRIVATE_KEY"], vapid_subject=lines["OO_VAPID_SUBJECT"])
    keys = load_vapid(settings)
    assert f"applicationServerKey, served at GET /api/push/key): {keys.public_key}" in result.stdout
    assert keys.subject == "mailto:me@example.com"


def test_oo_push_deliver_runs_a_round_and_status_reports_it(
    session: Session, person: User, push_browser: Browser, push_service: FakePushService
) -> None:
    """In-process (the configured test database and keys); the subprocess test above proves the group is installed."""
    from oo_app.cli import main

    slot = _slots(session, person)[0]
    runner = CliRunner()

    delivered = runner.invoke(main, ["push", "deliver", "--at", slot.isoformat()])
    status = runner.invoke(main, ["push", "status"])
    bad = runner.invoke(main, ["push", "deliver", "--at", "yesterday"])

    assert delivered.exit_code == 0, delivered.output
    report = json.loads(delivered.stdout)
    assert [(pushed["user_id"], pushed["status"]) for pushed in report["pushed"]] == [(person.id, "sent")]
    assert len(push_service.delivered) == 1
    assert status.exit_code == 0, status.output
    state = json.loads(status.stdout)
    assert (state["configured"], state["subscriptions"], state["persons_reached"]) == (True, 1, 1)
    assert state["public_key"] == load_vapid().public_key
    assert bad.exit_code == 2
    assert "not an ISO 8601 moment" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)


def clock_at(moment: datetime) -> type[datetime]:
    """``datetime`` whose ``now()`` is ``moment``: put in place of a module's ``datetime``, it pins that module's
    clock (the periodic round reads the real one)."""

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    return Pinned


def test_the_workers_run_a_push_round_every_minute(
    session: Session,
    person: User,
    push_browser: Browser,
    push_service: FakePushService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oo_app.tasks.engine import _build_app

    app = _build_app("postgresql://nobody@127.0.0.1:9/none", 3)  # built, never opened
    periodic = [task for task in app.periodic_registry.periodic_tasks.values() if task.task.name == push_jobs.PUSH_TASK]
    assert [(task.cron, task.task.func) for task in periodic] == [("* * * * *", push_jobs.deliver_round)]

    # The job decides by the clock: pinned an hour before the person's first delivery moment, then at it.
    slot = _slots(session, person)[0]
    monkeypatch.setattr(push_jobs, "datetime", clock_at(slot - timedelta(hours=1)))
    early = push_jobs.deliver_round(int((slot - timedelta(hours=1)).timestamp()))
    monkeypatch.setattr(push_jobs, "datetime", clock_at(slot))
    sent = push_jobs.deliver_round(int(slot.timestamp()))

    assert (early, sent) == (0, 1), "nothing before the delivery moment, its push at it"
    assert [(delivery.slot, delivery.status) for delivery in _deliveries(session, person)] == [(slot, "sent")]
    assert len(push_service.delivered) == 1


def test_the_inprocess_push_rounds_stay_off_when_the_scheduler_is(configure: Callable[..., None]) -> None:
    configure(OO_SCHEDULER_ENABLED="false")
    asyncio.run(asyncio.wait_for(push_jobs.push_scheduler(), timeout=5))
