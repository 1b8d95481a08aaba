"""Answering from the notification, in headless Chromium against the real app (prod build): a tip is pushed through
the push service on loopback, its message is handed to the page's real service worker as a push (DevTools'
``ServiceWorker.deliverPushMessage``, a trusted push event), the worker shows the notification with its buttons, and
a tap on "done" (a ``notificationclick`` dispatched inside the worker: no browser clicks notifications headless)
records the reaction once, with no page opened by it.

``clients.openWindow`` is watched inside the worker (a synthetic click has no user activation to open a window with,
so it would fail silently either way): a plain click asks for the page, a button never does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Worker
from sqlmodel import Session, col, select

from oo_app.db import make_engine
from oo_app.demo import seed_fresh_person
from oo_app.models import Event, PushSubscription, Tip, User
from oo_app.push.answers import ANSWER_LIFETIME
from oo_app.push.keys import generate_private_key, load_vapid, raw_private_key
from oo_app.push.sender import WebPushSender
from oo_app.push.tips import payload
from oo_app.recommender import recommend
from oo_app.settings import Settings
from tests.browser_fixtures import AppServer, live_tip
from tests.fakes.push_service import Browser, FakePushService, decrypt_aes128gcm

pytestmark = pytest.mark.browser
SECRET_KEY = secrets.token_urlsafe(32)  # the server's and this process's: the tokens it verifies are signed here
SHOTS = Path("/tmp/shots-push")
NEWCOMER = "newcomer@example.com"
VIEWPORT = {"width": 420, "height": 800}


@pytest.fixture(scope="module")
def app_database(app_database: str) -> str:
    """The seeded database and a brand-new person in it: no history, no consents, the first run still ahead."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        seed_fresh_person(session, NEWCOMER)
        session.commit()
    engine.dispose()
    return app_database


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    return {"OO_SECRET_KEY": SECRET_KEY}


@pytest.fixture
def database(app_server: AppServer, configure: Callable[..., None]) -> Iterator[Session]:
    """This process on the served database and the server's secret key (so it signs what the server verifies)."""
    configure(OO_DATABASE_URL=app_server.database_url, OO_SECRET_KEY=SECRET_KEY)
    engine = make_engine(app_server.database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


# --- the way a push reaches the worker -------------------------------------------------------------------------------


def _controlled(page: Page) -> Worker:
    """The service worker controlling ``page`` (installed and active)."""
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    if not page.evaluate("() => !!navigator.serviceWorker.controller"):
        page.reload()
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    [worker] = page.context.service_workers
    return worker


def _pushed_message(push_service: FakePushService, tip: Tip, now: datetime) -> str:
    """``tip``'s push message as the browser receives it: sent by oO's sender to the push service on loopback
    (VAPID, aes128gcm), then decrypted with the subscription's own keys, as the browser's push service client does."""
    keys = load_vapid(
        Settings(vapid_private_key=raw_private_key(generate_private_key()), vapid_subject="mailto:o@x.org")
    )
    browser = push_service.subscribe(keys.public_key)
    body = browser.to_json()
    subscription = PushSubscription(
        user_id=tip.user_id, endpoint=body["endpoint"], p256dh=body["keys"]["p256dh"], auth=body["keys"]["auth"]
    )
    sender = WebPushSender(keys, timeout_s=10, allow_private=True)
    try:
        result = sender.send(subscription, payload(tip, now), ttl=60)
    finally:
        sender.close()
    assert result.ok, result.error
    return _decrypted(browser, push_service.delivered[-1].body)


def _decrypted(browser: Browser, body: bytes) -> str:
    return decrypt_aes128gcm(body, browser.private_key, browser.auth_secret).decode()


def _deliver(context: BrowserContext, page: Page, base: str, message: str) -> None:
    """Hand ``message`` to the service worker of ``base`` as a push (a trusted ``push`` event)."""
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not any(r["scopeURL"].startswith(base) and not r["isDeleted"] for r in registrations):
        assert time.monotonic() < deadline, f"no service worker registration of {base}: {registrations}"
        page.wait_for_timeout(50)
    [registration] = [r for r in registrations if r["scopeURL"].startswith(base) and not r["isDeleted"]]
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration["registrationId"], "data": message},
    )
    cdp.detach()


NOTIFICATIONS = """async () => (await self.registration.getNotifications({tag: "oo-tip"})).map((n) => ({
    title: n.title, body: n.body, tipId: n.data.tipId, answerable: typeof n.data.answer === "string",
    actions: n.actions.map((a) => ({action: a.action, title: a.title})),
}))"""

# Records what the worker asks to open instead of opening it (see the module).
WATCH_WINDOWS = """() => {
    self.opened = [];
    self.clients.openWindow = async (url) => { self.opened.push(url); return null; };
}"""

TAP = """async ({action, times}) => {
    const [notification] = await self.registration.getNotifications({tag: "oo-tip"});
    for (let i = 0; i < times; i++) {
        const init = action ? {notification, action} : {notification};
        self.dispatchEvent(new NotificationEvent("notificationclick", init));
    }
    return notification.data.tipId;
}"""


def _notification(worker: Worker, page: Page) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while not (shown := worker.evaluate(NOTIFICATIONS)):
        assert time.monotonic() < deadline, "the pushed tip was never shown as a notification"
        page.wait_for_timeout(50)
    [notification] = shown
    return notification


def _answer_of(database: Session, tip_id: int, within_s: float = 10) -> tuple[str | None, list[str]]:
    """The tip's reaction once it has one (or after ``within_s``), and the reaction events logged for it."""
    deadline = time.monotonic() + within_s
    while True:
        database.expire_all()
        tip = database.get(Tip, tip_id)
        if tip.reaction is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    events = database.exec(select(Event).where(Event.user_id == tip.user_id, col(Event.type).like("tip_%"))).all()
    answered = [event.type for event in events if event.payload.get("tip_id") == tip_id and event.type != "tip_shown"]
    return tip.reaction, answered


def _unanswered_tip(database: Session) -> Tip:
    """A fresh tip of the newcomer, written now (what a delivery round pushes when no tip is current)."""
    user = database.exec(select(User).where(User.email == NEWCOMER)).one()
    tip = recommend(database, user, datetime.now(UTC))
    database.commit()
    return tip


@pytest.fixture
def context(signed_in_context: Callable[..., BrowserContext], app_server: AppServer) -> BrowserContext:
    context = signed_in_context(NEWCOMER, viewport=VIEWPORT)
    context.grant_permissions(["notifications"], origin=app_server.base)
    return context


# --- the tests -------------------------------------------------------------------------------------------------------


def test_done_in_the_notification_records_the_tip_once_and_opens_no_page(
    context: BrowserContext, app_server: AppServer, database: Session, push_service: FakePushService
) -> None:
    page = context.new_page()
    page.goto(app_server.base + "/")
    worker = _controlled(page)
    page.goto("about:blank")  # the person left oO: no page of it is open
    tip = _unanswered_tip(database)
    worker.evaluate(WATCH_WINDOWS)

    _deliver(context, page, app_server.base, _pushed_message(push_service, tip, datetime.now(UTC)))
    notification = _notification(worker, page)
    worker.evaluate(TAP, {"action": "done", "times": 2})  # a double tap
    reaction, answered = _answer_of(database, tip.id)
    page.wait_for_timeout(1000)  # time for the second tap's answer to land, were it to write anything
    _, answered = _answer_of(database, tip.id, within_s=0)

    assert notification == {
        "title": "oO",
        "body": tip.text,
        "tipId": tip.id,
        "answerable": True,
        "actions": [{"action": "done", "title": "Done"}, {"action": "later", "title": "Later"}],
    }
    assert (reaction, answered) == ("done", ["tip_done"]), "recorded once, through the page's reaction"
    assert worker.evaluate("() => self.opened") == [], "a button never opens the page"
    assert worker.evaluate("async () => (await self.registration.getNotifications()).length") == 0, "closed"
    assert [p.url for p in context.pages] == ["about:blank"]


def test_the_open_page_moves_on_when_the_notification_answers_its_tip(
    context: BrowserContext, app_server: AppServer, database: Session, push_service: FakePushService
) -> None:
    SHOTS.mkdir(exist_ok=True)
    page = context.new_page()
    page.goto(app_server.base + "/")
    worker = _controlled(page)
    page.wait_for_selector("#first-run")  # a brand-new person: the first run, then their first tip
    page.check("#consent-activity")
    page.click("#first-run-continue")
    before = live_tip(page)
    shown_id = int(page.get_attribute("#tip-text", "data-tip-id"))
    page.screenshot(path=str(SHOTS / "page-before-the-answer.png"))
    worker.evaluate(WATCH_WINDOWS)

    _deliver(
        context, page, app_server.base, _pushed_message(push_service, database.get(Tip, shown_id), datetime.now(UTC))
    )
    _notification(worker, page)
    worker.evaluate(TAP, {"action": "later", "times": 1})
    page.wait_for_function(f"() => Number(document.querySelector('#tip-text')?.dataset.tipId) !== {shown_id}")
    page.screenshot(path=str(SHOTS / "page-after-later-in-the-notification.png"))

    assert _answer_of(database, shown_id) == ("snoozed", ["tip_snoozed"])
    assert live_tip(page) != before, "the page shows the next tip"
    assert worker.evaluate("() => self.opened") == []
    assert page.url.rstrip("/") == app_server.base, "the page stays where it was: nothing navigated it"


def test_a_plain_click_opens_the_page_and_so_does_a_button_whose_token_has_expired(
    context: BrowserContext, app_server: AppServer, database: Session, push_service: FakePushService
) -> None:
    page = context.new_page()
    page.goto(app_server.base + "/")
    worker = _controlled(page)
    page.goto("about:blank")
    worker.evaluate(WATCH_WINDOWS)
    plain = _unanswered_tip(database)

    _deliver(context, page, app_server.base, _pushed_message(push_service, plain, datetime.now(UTC)))
    _notification(worker, page)
    worker.evaluate(TAP, {"action": None, "times": 1})
    deadline = time.monotonic() + 10
    while worker.evaluate("() => self.opened.length") < 1:
        assert time.monotonic() < deadline, "a plain click asked for no page"
        page.wait_for_timeout(50)
    assert worker.evaluate("() => self.opened") == [app_server.base + "/"]
    assert _answer_of(database, plain.id, within_s=0) == (None, []), "a plain click answers nothing"

    expired = _unanswered_tip(database)
    sent = datetime.now(UTC) - ANSWER_LIFETIME - timedelta(minutes=1)
    _deliver(context, page, app_server.base, _pushed_message(push_service, expired, sent))
    _notification(worker, page)
    worker.evaluate(TAP, {"action": "done", "times": 1})
    deadline = time.monotonic() + 10
    while worker.evaluate("() => self.opened.length") < 2:
        assert time.monotonic() < deadline, "an expired answer did not fall back to the page"
        page.wait_for_timeout(50)

    assert worker.evaluate("() => self.opened") == [app_server.base + "/"] * 2, "answer it on the page instead"
    assert _answer_of(database, expired.id, within_s=0) == (None, [])
    assert [p.url for p in context.pages] == ["about:blank"], "the worker itself opened nothing"
