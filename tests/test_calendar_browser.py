"""The calendar on ``/settings`` in the real app (prod build) and headless Chromium, against a real Radicale and a
loopback ICS server: a brand-new person grants "Your calendar" in place, a wrong app password is refused in words and
stores nothing, the right one connects (host and last sync shown, never the password or the address), "sync now"
reads again and "disconnect" forgets; an ICS address connects too, on a phone's width. Screenshots go to tmp_path;
axe-core audits the section.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import oidc_provider_mock
import pytest
from playwright.sync_api import BrowserContext, Page
from sqlmodel import Session, select

from oo_app.calendar.sources import CALDAV, ICS
from oo_app.db import make_engine
from oo_app.models import CalendarDayRecord, Consent, Integration, OAuthAccount
from tests.auth_helpers import Provider, oidc_provider
from tests.browser_fixtures import AppServer, signed_in_by_provider_env
from tests.fakes.todoist import FakeTodoist
from tests.ics_server import IcsServer, ics_server
from tests.radicale_server import RadicaleServer, radicale
from tests.test_accessibility import _violations

pytestmark = pytest.mark.browser
__all__ = ["ics_server", "radicale"]  # fixtures, used by name

SECRET_PATH = "/private-5c1d9e7a3b/basic.ics"  # an ICS address's secret part: never shown back
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}


def _person(sub: str, name: str) -> oidc_provider_mock.User:
    return oidc_provider_mock.User(
        sub=sub, claims={"email": f"{name.lower()}@example.com", "email_verified": True, "name": name}
    )


CAL, IVY, DANA = _person("cal-subject", "Cal"), _person("ivy-subject", "Ivy"), _person("dana-subject", "Dana")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _meeting(uid: str, start: datetime, minutes: int = 60) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oO tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{_stamp(start)}\r\nDTSTART:{_stamp(start)}\r\n"
        f"DTEND:{_stamp(start + timedelta(minutes=minutes))}\r\nSUMMARY:Salary talk with Mallory\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider([CAL, IVY, DANA]) as provider:
        yield provider


@pytest.fixture(scope="module")
def todoist() -> Iterator[FakeTodoist]:
    with FakeTodoist() as fake:
        yield fake


@pytest.fixture(scope="module")
def app_server_env(provider: Provider, todoist: FakeTodoist) -> dict[str, str]:
    """Brand-new people through ``provider``; calendars on loopback allowed (private addresses, tests only); a Google
    client configured, so the Google card is offered (tests/test_google_calendar.py follows its link)."""
    return {
        **signed_in_by_provider_env(provider, todoist, "oo-calendar"),
        "OO_PUSH_ALLOW_PRIVATE_ENDPOINTS": "true",
        "OO_GOOGLE_CALENDAR_CLIENT_ID": "oo-calendar.apps.example",
        "OO_GOOGLE_CALENDAR_CLIENT_SECRET": "not-a-real-secret",
    }


@pytest.fixture(scope="module")
def seeded(radicale: RadicaleServer) -> RadicaleServer:
    """Ada's work calendar on Radicale, with one meeting three hours from now."""
    radicale.put_event(
        "ada", "work", _meeting("soon@oo.test", datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3))
    )
    return radicale


def _sign_in(page: Page, base: str, provider: Provider, person: oidc_provider_mock.User) -> None:
    page.goto(base + "/")
    page.click("#sign-in")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize?*")
    page.click(f"button[name=sub][value={person.sub}]")
    page.wait_for_url(base + "/")


def _settings(new_context: Callable[..., BrowserContext], app_server: AppServer, provider: Provider, person, viewport):
    # bypass_csp: the accessibility audit injects axe-core as an inline script (as tests/test_accessibility.py does).
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    _sign_in(page, app_server.base, provider, person)
    page.goto(app_server.base + "/settings")
    page.wait_for_selector("#calendar-caldav")
    return page


def _rows(database_url: str, person: oidc_provider_mock.User) -> tuple[dict[str, bool], list[Integration], int]:
    """The person's consents, calendar integrations and calendar days."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        user_id = session.exec(select(OAuthAccount).where(OAuthAccount.subject == person.sub)).one().user_id
        consents = {row.key: row.granted for row in session.exec(select(Consent).where(Consent.user_id == user_id))}
        calendars = list(
            session.exec(
                select(Integration).where(Integration.user_id == user_id, Integration.provider.in_([CALDAV, ICS]))
            )
        )
        days = len(session.exec(select(CalendarDayRecord).where(CalendarDayRecord.user_id == user_id)).all())
    engine.dispose()
    return consents, calendars, days


def _says(page: Page, selector: str, text: str) -> str:
    page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.innerText || '').includes(text)",
        arg=[selector, text],
    )
    return page.inner_text(selector)


def _connect_caldav(page: Page, url: str, username: str, password: str) -> None:
    page.fill("#calendar-caldav-url", url)
    page.fill("#calendar-caldav-username", username)
    page.fill("#calendar-caldav-password", password)
    page.click("#calendar-connect-caldav")


def test_a_new_person_connects_caldav_syncs_and_disconnects(
    new_context: Callable[..., BrowserContext],
    app_server: AppServer,
    provider: Provider,
    seeded: RadicaleServer,
    tmp_path: Path,
) -> None:
    page = _settings(new_context, app_server, provider, CAL, DESKTOP)
    principal, password = seeded.principal_url("ada"), seeded.users["ada"]
    assert (
        "takes only when each starts and ends, and never keeps, logs or passes on a meeting's title"
        in page.inner_text("#calendar-section")
    )
    assert "Grant “Your calendar” above" in page.inner_text("#calendar-google"), "no Google link before the consent"

    # Without "Your calendar", the button grants it first (and says so); a wrong app password is then refused in
    # words and stores nothing; the fields keep what was typed for another try.
    assert page.inner_text("#calendar-connect-caldav") == "grant “Your calendar” and connect"
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-before-consent.png"))
    _connect_caldav(page, principal, "ada", "not the app password")
    error = _says(page, "#calendar-caldav-feedback", "refuses")
    assert error == "Not connected, nothing was saved: the CalDAV server refuses the user name or password.", error
    assert "Traceback" not in page.content()
    consents, calendars, _ = _rows(app_server.database_url, CAL)
    assert consents.get("calendar") is True, "the button granted the consent it named"
    assert calendars == [], "a refused password stores nothing"
    _says(page, "#consent-calendar", "· granted")  # the consents section above shows it too
    assert page.inner_text("#calendar-connect-caldav") == "connect"
    assert page.input_value("#calendar-caldav-url") == principal, "what was typed stays for another try"
    google = page.get_attribute("#calendar-connect-google", "href") or ""
    assert google.endswith("/integrations/google-calendar/connect"), google
    page.screenshot(path=str(tmp_path / "calendar-wrong-password.png"), full_page=True)
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-wrong-password.png"))

    _connect_caldav(page, principal, "ada", password)
    assert "Connected: oO read 1 busy time" in _says(page, "#calendar-caldav-feedback", "Connected")
    assert page.inner_text("#calendar-label-caldav") == "127.0.0.1"
    assert page.inner_text("#calendar-synced-caldav") == "last synced just now"
    html = page.content()
    assert password not in html, "the password never comes back to the page"
    assert principal not in html, "nor the address"
    _, (stored,), days = _rows(app_server.database_url, CAL)
    assert (stored.status, stored.label) == ("connected", "127.0.0.1")
    assert days >= 1, "the days read are stored"
    page.screenshot(path=str(tmp_path / "calendar-caldav-connected.png"), full_page=True)
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-caldav-connected.png"))
    assert _violations(page) == [], "the connected calendar passes the audit"

    page.click("#calendar-sync-caldav")
    assert "Synced: 1 busy time in your next two days" in _says(page, "#calendar-caldav-feedback", "Synced")

    page.click("#calendar-disconnect-caldav")
    assert "oO forgot the app password" in _says(page, "#calendar-caldav-feedback", "Disconnected")
    page.wait_for_selector("#calendar-caldav-url")
    assert page.query_selector("#calendar-label-caldav") is None
    _, (forgotten,), days = _rows(app_server.database_url, CAL)
    assert (forgotten.status, forgotten.access_token_enc) == ("disconnected", None)
    assert days == 0, "no calendar left: the days ahead are deleted"


def test_an_ics_address_connects_on_a_phone(
    new_context: Callable[..., BrowserContext],
    app_server: AppServer,
    provider: Provider,
    ics_server: IcsServer,
    tmp_path: Path,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    ics_server.routes[SECRET_PATH] = (200, {}, _meeting("later@oo.test", start, 90))
    ics_server.routes["/not-a-calendar"] = (200, {"Content-Type": "text/html"}, "<html>hello</html>")
    page = _settings(new_context, app_server, provider, IVY, PHONE)
    page.click("#calendar-grant")
    _says(page, "#calendar-feedback", "is granted")
    assert _rows(app_server.database_url, IVY)[0].get("calendar") is True
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-granted-phone.png"))

    page.fill("#calendar-ics-address", ics_server.url("/not-a-calendar"))
    page.click("#calendar-connect-ics")
    assert _says(page, "#calendar-ics-feedback", "iCalendar").startswith(
        "Not connected, nothing was saved: the address"
    )
    assert _rows(app_server.database_url, IVY)[1] == []

    page.fill("#calendar-ics-address", ics_server.url(SECRET_PATH))
    page.click("#calendar-connect-ics")
    assert "1 busy time" in _says(page, "#calendar-ics-feedback", "Connected")
    assert page.inner_text("#calendar-label-ics") == "127.0.0.1"
    assert SECRET_PATH not in page.content(), "the secret address never comes back to the page"
    page.locator("#calendar-section").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "calendar-ics-phone.png"), full_page=True)
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-ics-phone.png"))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the section fits a phone's width"
    assert _violations(page) == [], "the section passes the audit on a phone"
    _, (stored,), _ = _rows(app_server.database_url, IVY)
    assert (stored.provider, stored.status) == (ICS, "connected")

    # The address stops working (the person reset it): the row says what to do, and the form takes the new one.
    body = ics_server.routes.pop(SECRET_PATH)
    page.click("#calendar-sync-ics")
    assert "copy it again" in _says(page, "#calendar-ics-feedback", "stopped working")
    assert page.inner_text("#calendar-problem-ics").startswith("oO can no longer read this calendar: copy its address")
    assert page.query_selector("#calendar-sync-ics") is None, "no sync to offer until it is connected again"
    page.locator("#calendar-section").screenshot(path=str(tmp_path / "section-ics-reauth-phone.png"))
    assert _rows(app_server.database_url, IVY)[1][0].status == "reauth_needed"
    ics_server.routes["/new-secret/basic.ics"] = body
    page.fill("#calendar-ics-address", ics_server.url("/new-secret/basic.ics"))
    page.click("#calendar-connect-ics")
    _says(page, "#calendar-ics-feedback", "Connected")
    page.wait_for_selector("#calendar-sync-ics")
    assert page.query_selector("#calendar-problem-ics") is None


def _daytime_zone(now: datetime) -> tuple[str, ZoneInfo]:
    """A fixed-offset zone in which ``now`` reads about 11:00: the tip then speaks in working hours, whenever the
    suite runs (the cold-start quiet hours would hold a calendar tip back at night)."""
    offset = (11 - now.hour + 12) % 24 - 12  # within -12..+11 hours
    name = f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"  # POSIX sign: Etc/GMT-3 is three hours ahead of UTC
    return name, ZoneInfo(name)


def test_a_new_person_connects_radicale_and_the_tip_names_their_free_time(
    new_context: Callable[..., BrowserContext],
    app_server: AppServer,
    provider: Provider,
    radicale: RadicaleServer,
    tmp_path: Path,
) -> None:
    """Issue 16's promise end to end: a brand-new person grants "Your calendar" in the first run, connects their
    CalDAV calendar on /settings, and the tip page then names the free time before their next meeting."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    zone_name, local = _daytime_zone(now)
    meeting = now.replace(minute=0) + timedelta(hours=2)  # a round hour: the tip names it as HH:00
    radicale.put_event("bob", "work", _meeting("standup@oo.test", meeting, 30))
    page = new_context(viewport=DESKTOP, timezone_id=zone_name).new_page()
    _sign_in(page, app_server.base, provider, DANA)
    page.wait_for_selector("#consent-calendar")
    page.check("#consent-activity")
    page.check("#consent-calendar")
    page.click("#first-run-continue")
    page.wait_for_selector("#tip-text")
    before = page.inner_text("#tip-text").strip()
    page.screenshot(path=str(tmp_path / "journey-first-tip.png"))

    page.goto(app_server.base + "/settings")
    page.wait_for_selector("#calendar-caldav")
    _connect_caldav(page, radicale.principal_url("bob"), "bob", radicale.users["bob"])
    _says(page, "#calendar-caldav-feedback", "Connected")

    page.goto(app_server.base + "/")
    page.wait_for_selector("#tip-text")
    at = meeting.astimezone(local).strftime("%H:%M")
    page.wait_for_function(
        "(at) => (document.querySelector('#tip-text')?.innerText || '').includes(at)", arg=at, timeout=30_000
    )
    tip = page.inner_text("#tip-text").strip()
    page.screenshot(path=str(tmp_path / "journey-calendar-tip.png"))
    page.click("#why")
    why = page.wait_for_selector("#tip-why").inner_text()
    body = page.inner_text("body")

    assert tip != before, "connecting the calendar brought a fresher tip"
    assert "free" in tip.lower() or "before your" in tip.lower(), f"the tip speaks of the free time: {tip!r}"
    assert "Salary talk" not in body, "a meeting's title never reaches the page"
    assert "Mallory" not in body, "nor its guests"
    assert "calendar" in why, f"'why this tip?' gives the calendar's facts: {why[:400]!r}"
