"""Google Calendar through the real routes and the real source against a faithful stand-in on loopback
(``tests/fakes/google_calendar.py``).

Connect (OAuth 2 code flow with state, offline access, the events permission checked), tokens encrypted at rest,
busy intervals from events.list (recurrences, DST, free and all-day events, cancelled instances, paging) asking for
no title, the incremental sync and its in-memory state (sync token, 410 Gone, restart), refresh, the errors Google
answers, revocation on disconnect, and a database dump with no token and no title.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agents.busy import BusyInterval
from oo_app import db
from oo_app.api import api
from oo_app.calendar import google_api
from oo_app.calendar.google import SCOPE, google_provider, google_source, revoke_google
from oo_app.calendar.google_api import GoogleCalendarSource
from oo_app.calendar.google_routes import state_cookie
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS, CalendarSource
from oo_app.demo import seed_demo
from oo_app.integrations.errors import (
    IntegrationNotConfigured,
    ProviderUnavailable,
    RateLimited,
    ReauthNeeded,
)
from oo_app.integrations.revocation import revoke_all
from oo_app.integrations.vault import TokenVault, get_vault
from oo_app.models import Integration, User
from oo_app.profile.consents import grant_consent, revoke_consent
from tests.auth_helpers import sign_in
from tests.conftest import NOW
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.test_todoist import dump

KEY = Fernet.generate_key().decode()
BERLIN = ZoneInfo("Europe/Berlin")
CONNECT = "/integrations/google-calendar/connect"
EVENTS = "/calendar/v3/calendars/primary/events"
SECRETS = ("Salary talk okapi-3317", "the quokka merger memo", "Room 4.12 tapir wing", "boss-lemur@example.com")


def hour(now: datetime, hours: float) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


@pytest.fixture
def fake() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake


@pytest.fixture
def google_settings(configure: Callable[..., None], fake: FakeGoogleCalendar) -> None:
    configure(
        OO_ENV="test",
        OO_APP_URL="https://testserver",
        OO_TOKEN_KEYS=json.dumps([KEY]),
        OO_GOOGLE_CALENDAR_CLIENT_ID=fake.client_id,
        OO_GOOGLE_CALENDAR_CLIENT_SECRET=fake.client_secret,
        OO_GOOGLE_OAUTH_URL=fake.authorize_url,
        OO_GOOGLE_TOKEN_URL=fake.token_url,
        OO_GOOGLE_REVOKE_URL=fake.revoke_url,
        OO_GOOGLE_CALENDAR_API_URL=fake.api_url,
    )


@pytest.fixture
def client(google_settings: None, demo_user: User, session: Session) -> Iterator[TestClient]:
    # Without "Your calendar" a connection stores the tokens and nothing reads them: these tests read by hand. The
    # first read right after connecting, with the consent, is a test of its own.
    revoke_consent(session, demo_user, "calendar", NOW)
    session.commit()
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        yield client


@pytest.fixture(autouse=True)
def no_mirrors() -> Iterator[None]:
    """Each test starts as a fresh process: no calendar state in memory."""
    google_api._mirrors.clear()
    yield
    google_api._mirrors.clear()


def connect(client: TestClient) -> httpx.Response:
    """The person's round trip: oO -> Google (a real request to the stand-in) -> oO's callback."""
    start = client.get(CONNECT, follow_redirects=False)
    assert start.status_code == 303, start.text
    at_google = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_google.status_code == 302, at_google.text
    back = urlsplit(at_google.headers["location"])
    assert back.netloc == "testserver"
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def google_row(session: Session, user_id: int) -> Integration | None:
    session.expire_all()
    query = select(Integration).where(Integration.user_id == user_id, Integration.provider == GOOGLE)
    return session.exec(query).first()


@pytest.fixture
def connected(client: TestClient, session: Session, demo_user: User) -> Integration:
    assert connect(client).status_code == 303
    row = google_row(session, demo_user.id)
    assert row is not None
    return row


def read(session: Session, row: Integration, start: datetime, end: datetime) -> list[BusyInterval]:
    """One read as the sync does it: the source of the stored connection, then a commit of the sync token."""
    busy = google_source(session, row).busy(start, end)
    session.commit()
    return busy


def last_query(fake: FakeGoogleCalendar) -> dict[str, str]:
    return fake.requests_to(EVENTS)[-1].query


# --- connect ------------------------------------------------------------------------------------------------------


def test_connect_sends_the_person_to_google_for_the_read_only_events_scope_with_offline_access(
    client: TestClient, fake: FakeGoogleCalendar
) -> None:
    response = client.get(CONNECT, follow_redirects=False)

    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == fake.authorize_url
    assert query["scope"] == [SCOPE] == ["https://www.googleapis.com/auth/calendar.events.readonly"]
    assert (query["client_id"], query["redirect_uri"]) == ([fake.client_id], [fake.redirect_uri])
    assert (query["response_type"], query["access_type"], query["prompt"]) == (["code"], ["offline"], ["consent"])
    assert len(query["state"][0]) >= 32
    assert query["state"][0] not in response.cookies[state_cookie()], "the cookie is signed, not the state"


def test_connecting_stores_both_tokens_encrypted_and_makes_the_first_read_due(
    client: TestClient, fake: FakeGoogleCalendar, session: Session, demo_user: User
) -> None:
    response = connect(client)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/settings?integration=google-calendar&status=connected"
    row = google_row(session, demo_user.id)
    grant = fake.grants[-1]
    access = next(iter(fake.access_tokens))
    vault = TokenVault([KEY])
    assert (row.status, row.scopes, row.label) == ("connected", SCOPE, "primary calendar")
    assert access not in row.access_token_enc
    assert vault.decrypt(row.access_token_enc) == access
    assert vault.decrypt(row.refresh_token_enc) == grant.refresh_token
    assert row.expires_at > datetime.now(UTC) + timedelta(minutes=55)
    assert row.next_attempt_at is not None
    assert row.sync_token_enc is None
    exchange = fake.requests_to("/token")[-1]
    assert (exchange.body["client_id"], exchange.body["grant_type"]) == (fake.client_id, "authorization_code")


def test_connecting_with_the_calendar_consent_reads_the_calendar_at_once(
    client: TestClient, fake: FakeGoogleCalendar, session: Session, demo_user: User
) -> None:
    grant_consent(session, demo_user, "calendar", NOW)
    session.commit()

    assert connect(client).status_code == 303

    row = google_row(session, demo_user.id)
    assert row.last_synced_at is not None, "the first read ran in the background after the callback"
    assert fake.requests_to("/calendar/v3/calendars/primary/events"), "Google's events were asked for"


@pytest.mark.parametrize("tamper", ["forged state", "no state cookie"])
def test_a_callback_that_does_not_match_the_started_connection_stores_nothing(
    client: TestClient, fake: FakeGoogleCalendar, session: Session, demo_user: User, tamper: str
) -> None:
    start = client.get(CONNECT, follow_redirects=False)
    back = urlsplit(httpx.get(start.headers["location"], follow_redirects=False).headers["location"])
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    if tamper == "forged state":
        query["state"] = "attacker-chosen-state"
    else:
        client.cookies.delete(state_cookie(), path="/integrations/google-calendar")

    response = client.get(back.path, params=query, follow_redirects=False)

    assert response.status_code == 400
    assert "start again from the settings page" in response.text
    assert google_row(session, demo_user.id) is None
    assert fake.requests_to("/token") == [], "the code was never traded"


def test_a_denied_authorization_stores_nothing(client: TestClient, fake, session: Session, demo_user: User) -> None:
    fake.approve = False
    response = connect(client)
    assert response.status_code == 400
    assert "did not grant access (access_denied)" in response.text
    assert google_row(session, demo_user.id) is None


def test_an_unticked_calendar_permission_stores_nothing_and_ends_the_grant(
    client: TestClient, fake: FakeGoogleCalendar, session: Session, demo_user: User
) -> None:
    fake.granted_scopes = ["openid"]  # on Google's screen the person left the calendar box unticked

    response = connect(client)

    assert response.status_code == 400
    assert "leave that box ticked" in response.text
    assert google_row(session, demo_user.id) is None
    assert fake.grants[-1].revoked, "the tokens oO will not keep are revoked at Google"


def test_connect_without_a_google_client_says_what_to_set(
    configure: Callable[..., None], demo_user: User, session: Session
) -> None:
    configure(OO_ENV="test", OO_APP_URL="https://testserver", OO_TOKEN_KEYS=json.dumps([KEY]))
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        response = client.get(CONNECT, follow_redirects=False)
    assert response.status_code == 503
    assert "OO_GOOGLE_CALENDAR_CLIENT_ID" in response.text
    with pytest.raises(IntegrationNotConfigured):
        google_provider()


def test_the_stand_in_refuses_a_foreign_redirect_uri_and_an_unknown_client(fake: FakeGoogleCalendar) -> None:
    common = {"client_id": fake.client_id, "scope": SCOPE, "state": "s" * 32, "response_type": "code"}
    foreign = httpx.get(fake.authorize_url, params={**common, "redirect_uri": "https://evil.example/cb"})
    unknown = httpx.get(fake.authorize_url, params={**common, "client_id": "x", "redirect_uri": fake.redirect_uri})
    assert (foreign.status_code, unknown.status_code) == (400, 401)
    assert "location" not in foreign.headers
    assert "location" not in unknown.headers


# --- busy intervals -----------------------------------------------------------------------------------------------


def test_busy_intervals_come_from_the_primary_calendar_and_no_title_leaves_google(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    private = {"description": SECRETS[1], "location": SECRETS[2], "attendees": (SECRETS[3],)}
    meeting = fake.add_event(SECRETS[0], hour(now, 2), hour(now, 3), **private)
    tentative = fake.add_event("Maybe", hour(now, 5), hour(now, 5.5), status="tentative")
    fake.add_event("Focus (free)", hour(now, 4), hour(now, 5), transparent=True)
    tomorrow = (now + timedelta(days=1)).astimezone(BERLIN).date()
    fake.add_event("Holiday", tomorrow, tomorrow + timedelta(days=1))
    fake.add_event("Far away", hour(now, 24 * 10), hour(now, 24 * 10 + 1))

    busy = read(session, connected, now, now + timedelta(hours=48))

    assert busy == [BusyInterval(hour(now, 2), hour(now, 3)), BusyInterval(hour(now, 5), hour(now, 5.5))]
    assert tentative["status"] == "tentative", "tentative is busy; free, all-day and later events are not"
    query = last_query(fake)
    assert query["singleEvents"] == "true"
    until = now + timedelta(hours=48) + google_api.WINDOW_SLACK  # read past the asked end: later reads stay incremental
    assert (query["timeMin"], query["timeMax"]) == (google_api.api_time(now), google_api.api_time(until))
    assert query["fields"] == "items(id,status,start,end,transparency),nextPageToken,nextSyncToken"
    answered = "\n".join(fake.answers)
    assert [secret for secret in (*SECRETS, "Holiday", "Maybe", fake.email) if secret in answered] == []
    assert meeting["id"] in answered


def test_a_weekly_series_follows_its_zone_across_dst_with_cancelled_and_moved_instances(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    year = datetime.now(UTC).year + 1
    first = datetime(year, 3, 1, 9, tzinfo=BERLIN)
    while first.weekday() != 0:  # a Monday at 09:00 in Berlin, every week for eight weeks
        first += timedelta(days=1)
    series = fake.add_event("Standup", first, first + timedelta(minutes=30), recurrence=["RRULE:FREQ=WEEKLY;COUNT=8"])
    mondays = [first + timedelta(weeks=week) for week in range(8)]
    fake.cancel_instance(series, mondays[1])
    fake.move_instance(series, mondays[2], mondays[2] + timedelta(hours=5), mondays[2] + timedelta(hours=6))

    busy = read(session, connected, mondays[0] - timedelta(days=1), mondays[-1] + timedelta(days=1))

    starts = [interval.start for interval in busy]
    assert len(busy) == 7, "eight Mondays, one cancelled"
    assert mondays[1] not in starts
    assert (mondays[2] + timedelta(hours=5)).astimezone(UTC) in starts
    local = {interval.start.astimezone(BERLIN).strftime("%H:%M") for interval in busy}
    assert local == {"09:00", "14:00"}, "09:00 Berlin in winter and in summer time (UTC 08:00, then 07:00)"
    assert {interval.start.astimezone(UTC).hour for interval in busy} >= {7, 8}
    assert all(interval.minutes in (30, 60) for interval in busy)


def test_every_page_is_read(fake: FakeGoogleCalendar, connected: Integration, session: Session) -> None:
    now = datetime.now(UTC)
    for minute in range(0, 600):
        fake.add_event(f"Slot {minute}", now + timedelta(minutes=minute * 4), now + timedelta(minutes=minute * 4 + 2))

    busy = read(session, connected, now, now + timedelta(hours=48))

    assert len(busy) == 600
    pages = fake.requests_to(EVENTS)
    assert len(pages) == 3, "250 a page"
    assert [("pageToken" in page.query) for page in pages] == [False, True, True]
    assert all(page.query["singleEvents"] == "true" for page in pages)


def test_the_source_is_a_calendar_source(connected: Integration, session: Session) -> None:
    source: CalendarSource = google_source(session, connected)
    assert isinstance(source, GoogleCalendarSource)
    assert source.kind == GOOGLE == "google-calendar"


# --- incremental sync ---------------------------------------------------------------------------------------------


def test_a_second_read_asks_only_for_changes_with_the_stored_sync_token(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    keep = fake.add_event("Keep", hour(now, 2), hour(now, 3))
    gone = fake.add_event("Gone", hour(now, 4), hour(now, 5))
    moved = fake.add_event("Moved away", hour(now, 6), hour(now, 7))
    freed = fake.add_event("Made free", hour(now, 8), hour(now, 9))
    series = fake.add_event("Daily", hour(now, 10), hour(now, 10.5), recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    window = (now, now + timedelta(hours=48))
    assert len(read(session, connected, *window)) == 4 + 2
    first_token = fake.requests_to(EVENTS)[-1]
    vault = TokenVault([KEY])
    stored = vault.decrypt(google_row(session, connected.user_id).sync_token_enc)

    fake.delete(gone)
    fake.update(moved, hour(now, 24 * 9), hour(now, 24 * 9 + 1))
    fake.update(freed, transparency="transparent")
    fake.cancel_instance(series, hour(now, 34))
    added = fake.add_event("New", hour(now, 12), hour(now, 13))
    busy = read(session, connected, *window)

    query = last_query(fake)
    assert query["syncToken"] == stored, "the token of the last read, as stored"
    assert not {"timeMin", "timeMax", "orderBy", "q", "updatedMin", "iCalUID"} & set(query)
    assert query["singleEvents"] == "true"
    assert "summary" not in query["fields"]
    kept, daily, new = (hour(now, 2), hour(now, 3)), (hour(now, 10), hour(now, 10.5)), (hour(now, 12), hour(now, 13))
    assert busy == [BusyInterval(*kept), BusyInterval(*daily), BusyInterval(*new)]
    answer = json.loads(fake.answers[-1])
    changed = {item["id"] for item in answer["items"]}
    assert keep["id"] not in changed, "only what changed came back"
    assert added["id"] in changed
    assert {"cancelled"} <= {item.get("status") for item in answer["items"]}
    assert first_token.query.get("syncToken") is None
    assert vault.decrypt(google_row(session, connected.user_id).sync_token_enc) == answer["nextSyncToken"]


def test_a_series_moved_to_another_hour_moves_every_instance_in_an_incremental_read(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    series = fake.add_event("Daily", hour(now, 3), hour(now, 4), recurrence=["RRULE:FREQ=DAILY;COUNT=5"])
    window = (now, now + timedelta(hours=48))
    assert [interval.start for interval in read(session, connected, *window)] == [hour(now, 3), hour(now, 27)]

    fake.update(series, hour(now, 5), hour(now, 6))
    busy = read(session, connected, *window)

    assert "syncToken" in last_query(fake)
    assert [interval.start for interval in busy] == [hour(now, 5), hour(now, 29)], "the old instances are cancelled"


def test_a_reconnection_reads_the_calendar_afresh(
    client: TestClient, fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    read(session, connected, now, now + timedelta(hours=48))

    assert connect(client).status_code == 303
    again = google_row(session, connected.user_id)
    assert again.id == connected.id
    assert again.sync_token_enc is None
    read(session, again, now, now + timedelta(hours=48))

    assert "syncToken" not in last_query(fake), "the state held for the old connection is not used"
    bearer = f"Bearer {TokenVault([KEY]).decrypt(again.access_token_enc)}"
    assert fake.requests_to(EVENTS)[-1].headers["Authorization"] == bearer, "with the new connection's token"


def test_an_expired_sync_token_is_dropped_and_the_window_read_again(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    fake.add_event("One", hour(now, 2), hour(now, 3))
    window = (now, now + timedelta(hours=48))
    read(session, connected, *window)
    fake.expire_sync_tokens()
    fake.add_event("Two", hour(now, 5), hour(now, 6))

    busy = read(session, connected, *window)

    gone, full = fake.requests_to(EVENTS)[-2:]
    assert "syncToken" in gone.query
    assert "timeMin" in full.query
    assert "syncToken" not in full.query
    assert len(busy) == 2
    token = TokenVault([KEY]).decrypt(google_row(session, connected.user_id).sync_token_enc)
    assert token == json.loads(fake.answers[-1])["nextSyncToken"]


def test_a_process_without_the_calendar_in_memory_reads_it_all_again(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    fake.add_event("One", hour(now, 2), hour(now, 3))
    window = (now, now + timedelta(hours=48))
    read(session, connected, *window)
    google_api._mirrors.clear()  # a restart: the token is stored, the events it stands for are not

    assert len(read(session, connected, *window)) == 1
    assert "syncToken" not in last_query(fake)
    assert "timeMin" in last_query(fake)


def test_a_token_stored_by_another_process_or_a_window_past_the_state_means_a_full_read(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    fake.add_event("One", hour(now, 2), hour(now, 3))
    read(session, connected, now, now + timedelta(hours=48))
    connected.sync_token_enc = TokenVault([KEY]).encrypt("a-token-another-worker-stored")
    session.add(connected)
    session.commit()
    read(session, connected, now, now + timedelta(hours=48))
    assert "syncToken" not in last_query(fake)

    read(session, connected, now, now + timedelta(hours=49))
    assert "syncToken" in last_query(fake), "within the window read with its slack: incremental"
    read(session, connected, now, now + timedelta(hours=48) + google_api.WINDOW_SLACK + timedelta(hours=1))
    assert "syncToken" not in last_query(fake), "past it: the window slides with a full read"


def test_the_stand_in_refuses_a_sync_token_beside_a_time_window_and_a_bad_bearer(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    now = datetime.now(UTC)
    read(session, connected, now, now + timedelta(hours=48))
    token = json.loads(fake.answers[-1])["nextSyncToken"]
    bearer = {"Authorization": f"Bearer {next(iter(fake.access_tokens))}"}
    events = fake.api_url + "/calendars/primary/events"
    both = httpx.get(events, headers=bearer, params={"syncToken": token, "timeMin": google_api.api_time(now)})
    assert both.status_code == 400
    assert httpx.get(events, headers=bearer, params={"syncToken": token}).status_code == 200
    assert httpx.get(events, headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"orderBy": "startTime"},  # needs singleEvents=true
        {"fields": "items(id,secretField)"},
        {"pageToken": "never-issued"},
        {"maxResults": "0"},
        {"timeMin": "2026-12-05T10:00:00"},  # no offset
        {"timeMin": "2026-12-05T10:00:00Z", "timeMax": "2026-12-05T09:00:00Z"},
    ],
)
def test_the_stand_in_refuses_what_google_refuses(fake: FakeGoogleCalendar, connected: Integration, params) -> None:
    bearer = {"Authorization": f"Bearer {next(iter(fake.access_tokens))}"}
    answer = httpx.get(fake.api_url + "/calendars/primary/events", headers=bearer, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == 400


# --- tokens and errors --------------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_and_the_refresh_token_kept(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    old = TokenVault([KEY]).decrypt(connected.access_token_enc)
    connected.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.add(connected)
    session.commit()

    read(session, connected, datetime.now(UTC), datetime.now(UTC) + timedelta(hours=48))

    refresh = fake.requests_to("/token")[-1]
    assert (refresh.body["grant_type"], refresh.body["refresh_token"]) == (
        "refresh_token",
        fake.grants[-1].refresh_token,
    )
    row = google_row(session, connected.user_id)
    vault = TokenVault([KEY])
    assert vault.decrypt(row.access_token_enc) != old
    assert fake.is_valid(vault.decrypt(row.access_token_enc))
    assert vault.decrypt(row.refresh_token_enc) == fake.grants[-1].refresh_token, "Google sends no new refresh token"
    assert row.expires_at > datetime.now(UTC)


def test_a_401_before_the_expiry_is_met_with_one_refresh(fake: FakeGoogleCalendar, connected, session) -> None:
    fake.expire_access_tokens()  # Google ends the token early; oO still believes it valid for an hour
    now = datetime.now(UTC)
    fake.add_event("One", hour(now, 2), hour(now, 3))

    assert len(read(session, connected, now, now + timedelta(hours=48))) == 1
    assert [seen.body["grant_type"] for seen in fake.requests_to("/token")] == ["authorization_code", "refresh_token"]


def test_a_revoked_grant_means_reconnect(fake: FakeGoogleCalendar, connected: Integration, session: Session) -> None:
    fake.revoke_all_tokens()
    with pytest.raises(ReauthNeeded, match="reconnect"):
        read(session, connected, datetime.now(UTC), datetime.now(UTC) + timedelta(hours=48))


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (403, "insufficientPermissions", ReauthNeeded),
        (403, "rateLimitExceeded", RateLimited),
        (429, None, RateLimited),
        (503, None, ProviderUnavailable),
    ],
)
def test_googles_refusals_become_domain_errors(
    fake: FakeGoogleCalendar, connected: Integration, session: Session, status: int, reason, error
) -> None:
    fake.fail_next(status, reason=reason, retry_after=30 if status == 429 else None)
    with pytest.raises(error) as raised:
        read(session, connected, datetime.now(UTC), datetime.now(UTC) + timedelta(hours=48))
    if status == 429:
        assert raised.value.retry_after_s == 30
    assert connected.sync_token_enc is None, "a failed read stores no token"


# --- revocation ---------------------------------------------------------------------------------------------------


def test_revoking_ends_the_grant_at_google_and_forgets_everything_here(
    fake: FakeGoogleCalendar, connected: Integration, session: Session
) -> None:
    read(session, connected, datetime.now(UTC), datetime.now(UTC) + timedelta(hours=48))
    access = next(iter(fake.access_tokens))
    assert connected.id in google_api._mirrors

    result = revoke_google(session, connected)
    session.commit()

    assert result.as_dict() == {"provider": GOOGLE, "status": "disconnected", "revocation": "revoked", "error": None}
    revocation = fake.requests_to("/revoke")[-1]
    assert revocation.body == {"token": fake.grants[-1].refresh_token}
    assert "Authorization" not in revocation.headers, "Google's endpoint takes the token alone"
    assert fake.grants[-1].revoked
    assert not fake.is_valid(access)
    row = google_row(session, connected.user_id)
    assert row.status == "disconnected"
    assert (row.access_token_enc, row.refresh_token_enc, row.sync_token_enc) == (None, None, None)
    assert connected.id not in google_api._mirrors


def test_deleting_the_account_revokes_google_and_forgets_calendar_credentials(
    fake: FakeGoogleCalendar, connected: Integration, session: Session, demo_user: User
) -> None:
    """Account deletion walks every integration (revoke_all): Google's grant ends at Google, an ICS address and a
    CalDAV password are only forgotten (no provider can revoke them)."""
    vault = get_vault()
    for kind in (ICS, CALDAV):
        row = Integration(user_id=demo_user.id, provider=kind, label="calendar.example")
        row.access_token_enc = vault.encrypt("https://calendar.example/secret.ics")
        session.add(row)
    session.flush()

    outcomes = {result.provider: result.revocation for result in revoke_all(session, demo_user)}
    session.commit()

    assert outcomes == {GOOGLE: "revoked", ICS: "nothing_to_revoke", CALDAV: "nothing_to_revoke"}
    assert fake.grants[-1].revoked
    rows = session.exec(select(Integration).where(Integration.user_id == demo_user.id)).all()
    assert all(row.access_token_enc is None and row.status == "disconnected" for row in rows)


@pytest.mark.parametrize(("prepare", "outcome"), [("outage", "failed"), ("revoked already", "nothing_to_revoke")])
def test_revocation_forgets_the_tokens_whatever_google_answers(
    fake: FakeGoogleCalendar, connected: Integration, session: Session, prepare: str, outcome: str
) -> None:
    if prepare == "outage":
        fake.revocation_status = 503
    else:
        fake.revoke_all_tokens()

    result = revoke_google(session, connected)

    assert result.revocation == outcome
    assert (result.error is not None) == (outcome == "failed")
    assert connected.access_token_enc is None
    assert connected.status == "disconnected"


# --- the dump -----------------------------------------------------------------------------------------------------


def test_a_database_dump_shows_no_token_and_no_event(
    google_settings: None, any_database: Session, fake: FakeGoogleCalendar
) -> None:
    person = seed_demo(any_database, "demo@example.com", now=NOW)
    any_database.commit()
    now = datetime.now(UTC)
    fake.add_event(SECRETS[0], hour(now, 2), hour(now, 3), description=SECRETS[1], location=SECRETS[2])
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, any_database, person)
        assert connect(client).status_code == 303
    row = google_row(any_database, person.id)
    row.expires_at = now - timedelta(minutes=1)  # so that a refreshed token is stored too
    any_database.add(row)
    any_database.commit()
    assert len(read(any_database, row, now, now + timedelta(hours=48))) == 1

    text = dump(db.get_engine())

    tokens = [*fake.access_tokens, *(grant.refresh_token for grant in fake.grants)]
    tokens.append(json.loads(fake.answers[-1])["nextSyncToken"])
    assert len(tokens) == 4, "two access tokens, a refresh token and a sync token"
    assert [token for token in tokens if token in text] == []
    assert [secret for secret in SECRETS if secret in text] == []
    assert row.access_token_enc in text, "the dump holds it, encrypted"
    assert row.sync_token_enc in text
