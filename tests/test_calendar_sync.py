"""The calendar's sync: connecting (validated by a first read, stored encrypted), the busy times in memory, the daily
derivatives, the schedule's rounds, consent revocation, disconnection, export and account deletion, and the routes.

Calendars here are planted in-test sources implementing :class:`oo_app.calendar.sources.CalendarSource`, swapped in
through :func:`oo_app.calendar.access.use_source`; the real ICS source is read once on a loopback HTTP server when its
module is present. No test sleeps on a timing: a late read is waited for by an event.
"""

from __future__ import annotations

import json
import threading
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents import runner
from agents.busy import BusyInterval
from agents.registry import registry
from oo_app.api import api
from oo_app.auth.csrf import CSRF_HEADER
from oo_app.calendar import access, busy_cache, connections, jobs, sync
from oo_app.calendar.access import CalendarConsentMissing
from oo_app.calendar.cli import calendar as calendar_cli
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS, InvalidCalendar
from oo_app.demo import seed_demo
from oo_app.integrations import revocation
from oo_app.integrations.errors import ProviderUnavailable, RateLimited, ReauthNeeded
from oo_app.integrations.revocation import Revocation
from oo_app.integrations.vault import forget_tokens, get_vault
from oo_app.models import CalendarDayRecord, Consent, Integration, User
from oo_app.profile.consents import grant_consent, revoke_consent
from oo_app.profile.deletion import delete_account
from oo_app.profile.export import export_person
from tests.auth_helpers import sign_in
from tests.conftest import NOW
from tests.fakes.server import serve_in_background
from tests.ics_server import IcsServer, ics_server
from tests.radicale_server import RadicaleServer, radicale
from tests.test_todoist import dump

__all__ = ["ics_server", "radicale"]  # fixtures, used by name

KEY = Fernet.generate_key().decode()
SECRET_ADDRESS = "https://calendar.example.org/private/wombat-8812-secret/basic.ics"
CALDAV_URL = "https://dav.example.net/dav/calendars/ada/"
PASSWORD = "quokka-4471-app-password"
TODAY, TOMORROW = date(2026, 11, 20), date(2026, 11, 21)  # NOW is 13:00 on the 20th in Berlin, the demo's zone


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC moment in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class PlantedCalendar:
    """A calendar with planted busy intervals; it can be made to fail or to wait (a :class:`CalendarSource`)."""

    def __init__(self, kind: str, intervals: list[BusyInterval]) -> None:
        self.kind = kind
        self.intervals = intervals
        self.error: Exception | None = None
        self.gate: threading.Event | None = None
        self.asked: list[tuple[datetime, datetime]] = []

    def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        self.asked.append((start, end))
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.error is not None:
            raise self.error
        return [interval for interval in self.intervals if interval.end > start and interval.start < end]


class Planted:
    """The calendars "out there", by address (ICS) or URL (CalDAV); a wrong password is refused like a server would."""

    def __init__(self) -> None:
        self.calendars: dict[str, PlantedCalendar] = {}

    def plant(self, kind: str, where: str, intervals: list[BusyInterval]) -> PlantedCalendar:
        self.calendars[where] = PlantedCalendar(kind, intervals)
        return self.calendars[where]

    def factory(self, session: Session, integration: Integration, settings: object) -> PlantedCalendar:
        credentials = access.credentials_of(integration)
        where = credentials.get("address") or credentials["url"]
        if where not in self.calendars or credentials.get("password", PASSWORD) != PASSWORD:
            refused = PlantedCalendar(integration.provider, [])
            refused.error = ReauthNeeded("the address stopped working: copy it again from your calendar")
            return refused
        return self.calendars[where]


@pytest.fixture
def planted(configure: Callable[..., None]) -> Iterator[Planted]:
    configure(OO_ENV="test", OO_APP_URL="https://testserver", OO_TOKEN_KEYS=json.dumps([KEY]))
    calendars = Planted()
    with access.use_source(ICS, calendars.factory), access.use_source(CALDAV, calendars.factory):
        yield calendars


@pytest.fixture
def person(session: Session, demo_user: User) -> Iterator[User]:
    """The demo person (Berlin), granting ``calendar``, with nothing of theirs in memory before or after."""
    grant_consent(session, demo_user, "calendar", NOW)
    session.commit()
    busy_cache.forget(demo_user.id)
    yield demo_user
    busy_cache.forget(demo_user.id)


def meetings() -> list[BusyInterval]:
    # Today (Berlin) 14:00-15:00 and 14:30-16:00 (one merged busy stretch, two meetings); tomorrow 08:00-09:00.
    return [
        BusyInterval(at(20, 13), at(20, 14)),
        BusyInterval(at(20, 13, 30), at(20, 15)),
        BusyInterval(at(21, 7), at(21, 8)),
    ]


def day_rows(session: Session, user: User) -> dict[date, CalendarDayRecord]:
    session.expire_all()
    rows = session.exec(select(CalendarDayRecord).where(CalendarDayRecord.user_id == user.id)).all()
    return {row.day: row for row in rows}


def row_of(session: Session, user: User, kind: str) -> Integration | None:
    session.expire_all()
    return access.integration_of(session, user, kind)


# --- connecting -----------------------------------------------------------------------------------------------------


def test_connecting_an_address_reads_it_once_then_keeps_it_encrypted_with_only_its_host_shown(
    planted: Planted, session: Session, person: User, engine: Engine
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())

    report = connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)

    assert len(calendar.asked) == 1, "one read validates and fills the first sync"
    assert calendar.asked[0] == (at(19, 23), NOW + timedelta(hours=48)), "from the start of the local day, 48 h ahead"
    assert (report.intervals, report.days) == (3, (TODAY, TOMORROW))
    row = row_of(session, person, ICS)
    assert (row.status, row.label, row.last_error) == ("connected", "calendar.example.org", None)
    assert row.next_attempt_at == NOW + timedelta(seconds=900), "the next sync an interval later"
    assert "wombat-8812" not in dump(engine), "the secret address is stored encrypted only"
    assert access.credentials_of(row) == {"address": SECRET_ADDRESS}


def test_each_local_day_read_in_full_keeps_its_busy_minutes_and_meetings_never_more(
    planted: Planted, session: Session, person: User
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)

    days = day_rows(session, person)

    assert sorted(days) == [TODAY, TOMORROW], "the 22nd is read only in part: no row for it"
    assert (days[TODAY].busy_minutes, days[TODAY].meetings) == (120, 2), "overlaps count once in minutes"
    assert (days[TODAY].first_busy_at, days[TODAY].last_busy_at) == (at(20, 13), at(20, 15))
    assert (days[TOMORROW].busy_minutes, days[TOMORROW].meetings) == (60, 1)


def test_a_refused_address_stores_nothing(planted: Planted, session: Session, person: User, engine: Engine) -> None:
    with pytest.raises(ReauthNeeded, match="copy it again"):
        connections.connect_ics(session, person, "https://calendar.example.org/wrong-9931.ics", now=NOW)

    assert row_of(session, person, ICS) is None
    assert day_rows(session, person) == {}
    assert "wrong-9931" not in dump(engine)


def test_a_caldav_account_is_validated_with_its_password_and_kept_as_one_encrypted_secret(
    planted: Planted, session: Session, person: User, engine: Engine
) -> None:
    planted.plant(CALDAV, CALDAV_URL, meetings())
    with pytest.raises(ReauthNeeded):
        connections.connect_caldav(session, person, CALDAV_URL, "ada", "not-the-password", now=NOW)
    assert row_of(session, person, CALDAV) is None

    connections.connect_caldav(session, person, CALDAV_URL, "ada", PASSWORD, now=NOW)

    row = row_of(session, person, CALDAV)
    assert (row.status, row.label) == ("connected", "dav.example.net")
    assert PASSWORD not in dump(engine)
    assert access.credentials_of(row) == {"url": CALDAV_URL, "username": "ada", "password": PASSWORD}


def test_nothing_is_read_without_the_calendar_consent(planted: Planted, session: Session, demo_user: User) -> None:
    revoke_consent(session, demo_user, "calendar", NOW)  # the demo person grants every consent
    session.commit()
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())

    with pytest.raises(CalendarConsentMissing, match="Your calendar"):
        connections.connect_ics(session, demo_user, SECRET_ADDRESS, now=NOW)

    assert calendar.asked == []
    assert busy_cache.busy_of(demo_user.id, session, now=NOW) == []


def test_a_source_reads_with_the_settings_limits_and_a_label_is_a_host_only(configure: Callable[..., None]) -> None:
    configure(OO_CALENDAR_TIMEOUT_S="4", OO_CALENDAR_MAX_BYTES="20000", OO_TOKEN_KEYS=json.dumps([KEY]))
    from oo_app.calendar.ics import IcsSource
    from oo_app.settings import get_settings

    address = "https://calendar.example.org/secret.ics"
    integration = Integration(user_id=1, provider=ICS, access_token_enc=get_vault().encrypt(address))
    source = access.source_for(None, integration, get_settings())  # type: ignore[arg-type] - ICS needs no session
    assert isinstance(source, IcsSource)
    assert (source._limits.timeout_s, source._limits.max_bytes) == (4.0, 20_000)
    assert access.label_of(ICS, {"address": "webcal://p01-caldav.icloud.com/published/2/secret"}) == (
        "p01-caldav.icloud.com"
    )
    assert access.label_of(CALDAV, {"url": "not a url"}) == "CalDAV calendar"
    assert (access.kind_of("ics"), access.kind_of(GOOGLE)) == (ICS, GOOGLE)


# --- busy times in memory -------------------------------------------------------------------------------------------


def test_busy_times_come_from_memory_until_the_cache_expires(
    planted: Planted, session: Session, person: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)

    first = busy_cache.busy_of(person.id, session, now=NOW)
    assert first == meetings(), "busy intervals overlapping the next 48 hours, unclipped"
    assert len(calendar.asked) == 1, "the connection's read is in memory"

    clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() + 601)  # past calendar_cache_ttl_s
    monkeypatch.setattr(busy_cache, "time", clock)
    assert busy_cache.busy_of(person.id, session, now=NOW) == first
    assert len(calendar.asked) == 2, "read again once the cache expired"


def test_busy_times_never_raise_and_fall_back_to_what_is_held(
    planted: Planted, session: Session, person: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    calendar.error = ProviderUnavailable("the calendar did not answer")
    monkeypatch.setattr(busy_cache, "time", types.SimpleNamespace(monotonic=lambda: 10.0**9))

    assert busy_cache.busy_of(person.id, session, now=NOW) == meetings(), "the stale intervals, not an error"
    busy_cache.forget(person.id)
    assert busy_cache.busy_of(person.id, session, now=NOW) == [], "nothing held, nothing read: empty"


def test_a_read_past_the_budget_answers_at_once_and_is_kept_when_it_ends(
    planted: Planted, session: Session, person: User
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    busy_cache.forget(person.id)
    calendar.gate = threading.Event()

    assert busy_cache.busy_of(person.id, session, now=NOW, budget_s=0.01) == [], "the budget ran out"
    calendar.gate.set()
    ended = threading.Event()
    for _ in range(500):
        if busy_cache.is_cached(person.id) or ended.wait(0.01):
            break
    assert busy_cache.cached(person.id) == {ICS: tuple(meetings())}, "the late read is kept"


def test_a_read_that_ends_after_a_forget_is_not_kept(planted: Planted, session: Session, person: User) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    began = time.monotonic()
    busy_cache.forget(person.id)

    assert busy_cache.put(person.id, ICS, meetings(), read_since=began) is False
    assert not busy_cache.is_cached(person.id)


def test_the_runner_reads_busy_times_through_the_wired_cache(planted: Planted, session: Session, person: User) -> None:
    assert runner._busy_provider is busy_cache.busy_of, "bootstrap wires the cache"
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    planted.plant(ICS, SECRET_ADDRESS, [BusyInterval(soon, soon + timedelta(minutes=30))])
    connections.connect_ics(session, person, SECRET_ADDRESS)

    assert runner.busy_of(session, person.id) == (BusyInterval(soon, soon + timedelta(minutes=30)),)


# --- syncing --------------------------------------------------------------------------------------------------------


def test_the_days_sum_up_every_connected_calendar(planted: Planted, session: Session, person: User) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    planted.plant(CALDAV, CALDAV_URL, [BusyInterval(at(20, 16), at(20, 17)), BusyInterval(at(20, 13), at(20, 14))])
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    connections.connect_caldav(session, person, CALDAV_URL, "ada", PASSWORD, now=NOW)
    busy_cache.forget(person.id)  # another process: the other calendar is read again for the days

    report = sync.sync(session, person, ICS, now=NOW + timedelta(minutes=20))

    today = day_rows(session, person)[TODAY]
    assert (today.busy_minutes, today.meetings) == (180, 3), "the same meeting in two calendars counts once"
    assert report.changed
    assert busy_cache.busy_of(person.id, session, now=NOW) == sorted(
        {*meetings(), BusyInterval(at(20, 16), at(20, 17))}
    )


def test_a_failed_sync_backs_off_and_a_refused_one_waits_for_the_person(
    planted: Planted, session: Session, person: User
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    later = NOW + timedelta(minutes=15)

    calendar.error = RateLimited("the calendar asked oO to slow down", retry_after_s=120)
    with pytest.raises(RateLimited):
        sync.sync(session, person, ICS, now=later)
    row = row_of(session, person, ICS)
    assert (row.status, row.consecutive_failures, row.next_attempt_at) == (
        "connected",
        1,
        later + timedelta(seconds=120),
    )
    assert row.last_error == "the calendar asked oO to slow down"

    calendar.error = InvalidCalendar("what the address answered is not a calendar")
    with pytest.raises(InvalidCalendar):
        sync.sync(session, person, ICS, now=later)
    assert row_of(session, person, ICS).consecutive_failures == 2

    calendar.error = ReauthNeeded("the address stopped working: copy it again from your calendar")
    with pytest.raises(ReauthNeeded):
        sync.sync(session, person, ICS, now=later)
    row = row_of(session, person, ICS)
    assert (row.status, row.next_attempt_at) == ("reauth_needed", None)
    assert jobs.due(later + timedelta(days=1)) == [], "no round tries a refused calendar"
    assert sorted(day_rows(session, person)) == [TODAY, TOMORROW], "a failure leaves the stored days as they were"


def test_a_round_syncs_only_due_calendars_of_persons_who_grant_calendar(
    planted: Planted, session: Session, person: User
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    due_at = row_of(session, person, ICS).next_attempt_at

    assert jobs.sync_due(now=due_at - timedelta(seconds=1)) == 0
    assert jobs.sync_due(now=due_at) == 1
    assert len(calendar.asked) == 2
    assert row_of(session, person, ICS).next_attempt_at == due_at + timedelta(seconds=900)

    revoke_consent(session, person, "calendar", NOW)
    session.commit()
    assert jobs.due(due_at + timedelta(days=1)) == [], "without the consent, no round reads the calendar"


def many_due_persons(session: Session, planted: Planted, count: int) -> list[PlantedCalendar]:
    """``count`` persons granting ``calendar``, each with a free ICS calendar of their own due at NOW (stored as a
    connection stores it, without its first read); their calendars, in the order of the persons."""
    vault, calendars = get_vault(), []
    for index in range(count):
        user = User(email=f"round-{index}@example.com", display_name="Round", tz="Europe/Berlin")
        session.add(user)
        session.flush()
        session.add(Consent(user_id=user.id, key="calendar", granted=True, text_version="v1", at=NOW))
        address = f"https://calendar.example.org/private/round-{index}/basic.ics"
        session.add(
            Integration(
                user_id=user.id,
                provider=ICS,
                status="connected",
                access_token_enc=vault.encrypt(access.encode_credentials(ICS, {"address": address})),
                next_attempt_at=NOW,
            )
        )
        calendars.append(planted.plant(ICS, address, []))
    session.commit()
    return calendars


def test_a_round_takes_every_due_calendar_up_to_its_bound(
    planted: Planted, session: Session, configure: Callable[..., None]
) -> None:
    calendars = many_due_persons(session, planted, 120)  # more than the 50 a round used to take
    configure(OO_CALENDAR_ROUND_MAX="100")

    assert jobs.sync_due(now=NOW) == 100, "the bound holds"
    assert len(jobs.due(NOW)) == 20, "the rest stays due, first in line for the next round"
    assert jobs.sync_due(now=NOW) == 20
    assert [len(calendar.asked) for calendar in calendars] == [1] * 120, "each calendar read once"
    # The workers' periodic job runs the same round on the clock, when all 120 are due again: as many as the bound.
    assert jobs.sync_round(int(NOW.timestamp())) == 100


def test_every_due_person_is_read_once_within_each_interval(
    planted: Planted, session: Session, configure: Callable[..., None]
) -> None:
    configure(OO_CALENDAR_SYNC_INTERVAL_S="180")  # 3 rounds; the old 50 a round read 150 persons an interval
    calendars = many_due_persons(session, planted, 200)

    for minute in range(7):  # the rounds of minutes 0 to 6: reads due at 0, 3 and 6
        jobs.sync_due(now=NOW + timedelta(minutes=minute))

    reads = [len(calendar.asked) for calendar in calendars]
    assert reads == [3] * 200, f"every person read at minutes 0, 3 and 6, no more: {sorted(set(reads))}"
    assert jobs.due(NOW + timedelta(minutes=8, seconds=59)) == [], "none read again before its interval ends"


def test_a_round_starts_no_sync_past_its_budget(planted: Planted, session: Session) -> None:
    calendars = many_due_persons(session, planted, 3)

    assert jobs.sync_due(now=NOW, budget_s=-1.0) == 0
    assert [calendar.asked for calendar in calendars] == [[], [], []]
    assert len(jobs.due(NOW)) == 3, "none claimed: the next round takes them"


def test_rounds_and_days_work_alike_on_sqlite_and_postgresql(planted: Planted, any_database: Session) -> None:
    user = seed_demo(any_database, "calendar@example.com", now=NOW, days=3)
    grant_consent(any_database, user, "calendar", NOW)
    any_database.commit()
    busy_cache.forget(user.id)
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(any_database, user, SECRET_ADDRESS, now=NOW)
    calendar.intervals = [BusyInterval(at(21, 9), at(21, 10))]

    assert jobs.sync_due(now=NOW + timedelta(minutes=15)) == 1
    assert jobs.sync_due(now=NOW + timedelta(minutes=16)) == 0, "claimed and rescheduled"

    days = day_rows(any_database, user)
    assert (days[TODAY].busy_minutes, days[TOMORROW].busy_minutes) == (0, 60), "the second read replaced the first"
    busy_cache.forget(user.id)


def test_a_persons_sync_in_the_background_reads_each_due_calendar_and_never_raises(
    planted: Planted, session: Session, person: User
) -> None:
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)  # due again 15 minutes after NOW
    calendar.error = ProviderUnavailable("the calendar did not answer")

    jobs.sync_person(person.id)

    assert len(calendar.asked) == 2
    assert row_of(session, person, ICS).consecutive_failures == 1, "kept on the integration, not raised"


def test_new_busy_times_compute_the_calendar_agents_afresh_once(
    planted: Planted, session: Session, person: User
) -> None:
    readers = sorted(agent.manifest.id for agent in registry().values() if agent.manifest.calendar)
    if not readers:
        pytest.skip("no agent reads the calendar in this branch (the calendar agent comes with its own branch)")
    calendar = planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    calendar.intervals = [*meetings(), BusyInterval(at(20, 18), at(20, 19))]

    changed = sync.sync(session, person, ICS, now=NOW + timedelta(minutes=15))
    same = sync.sync(session, person, ICS, now=NOW + timedelta(minutes=30))

    assert changed.recomputed
    assert set(changed.recomputed) <= set(readers)
    assert (same.changed, same.recomputed) == (False, ())


# --- consent, disconnection, export, deletion -----------------------------------------------------------------------


def test_revoking_calendar_deletes_its_days_and_forgets_its_busy_times(
    planted: Planted, session: Session, person: User
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    assert busy_cache.is_cached(person.id)
    assert day_rows(session, person)

    change = revoke_consent(session, person, "calendar", NOW)
    session.commit()

    assert day_rows(session, person) == {}
    assert not busy_cache.is_cached(person.id)
    assert "calendar is deleted (2 day(s))" in change.note
    assert busy_cache.busy_of(person.id, session, now=NOW) == []


def test_disconnecting_forgets_the_address_and_the_days_ahead(
    planted: Planted, session: Session, person: User, engine: Engine
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    session.add(CalendarDayRecord(user_id=person.id, day=date(2026, 11, 2), busy_minutes=90, meetings=2))
    session.commit()

    result = connections.disconnect(session, person, "ics", now=NOW)

    assert result.as_dict()["revocation"] == "nothing_to_revoke"
    row = row_of(session, person, ICS)
    assert (row.status, row.access_token_enc, row.next_attempt_at) == ("disconnected", None, None)
    assert sorted(day_rows(session, person)) == [date(2026, 11, 2)], "the past stays: the person's usual load"
    assert not busy_cache.is_cached(person.id)
    assert busy_cache.busy_of(person.id, session, now=NOW) == []


def test_disconnecting_google_revokes_at_google_and_forgets_even_when_google_fails(
    planted: Planted, session: Session, person: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disconnection goes through the revoker wired for the kind (the real one against the stand-in:
    tests/test_google_calendar.py); here Google fails to answer."""
    revoked: list[int] = []

    def revoke_google(session: Session, integration: Integration) -> Revocation:
        revoked.append(integration.id)
        forget_tokens(integration)
        return Revocation(GOOGLE, "failed", "Google did not answer the revocation")

    monkeypatch.setitem(revocation._revokers, GOOGLE, revoke_google)
    session.add(Integration(user_id=person.id, provider=GOOGLE, access_token_enc="gAAAA-encrypted", label="Google"))
    session.commit()

    result = connections.disconnect(session, person, "google", now=NOW).as_dict()

    assert (result["revocation"], result["error"]) == ("failed", "Google did not answer the revocation")
    assert revoked, "Google was asked"
    assert row_of(session, person, GOOGLE).access_token_enc is None


def test_the_export_holds_the_days_and_never_the_address(planted: Planted, session: Session, person: User) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)

    document = export_person(session, person, NOW)

    days = document["tables"]["calendar_days"]
    assert [(day["day"], day["busy_minutes"], day["meetings"]) for day in days] == [
        ("2026-11-20", 120, 2),
        ("2026-11-21", 60, 1),
    ]
    assert "wombat-8812" not in json.dumps(document)
    calendar_row = next(row for row in document["tables"]["integrations"] if row["provider"] == ICS)
    assert calendar_row["label"] == "calendar.example.org"


def test_deleting_the_account_removes_the_days_and_disconnects_the_calendars(
    planted: Planted, session: Session, person: User, engine: Engine
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)
    person_id = person.id

    report = delete_account(session, person, "delete my account")
    session.commit()

    assert report.removed["calendar_days"] == 2
    assert "calendar-ics" in report.tokens
    assert "did not confirm" not in report.tokens
    assert not busy_cache.is_cached(person_id)
    with engine.connect() as connection:
        left = connection.execute(sa.select(sa.func.count()).select_from(CalendarDayRecord.__table__)).scalar_one()
    assert left == 0


def test_the_cli_syncs_a_persons_calendars_and_fails_in_one_line_without_the_consent(
    planted: Planted, session: Session, person: User
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    connections.connect_ics(session, person, SECRET_ADDRESS, now=NOW)

    result = CliRunner().invoke(calendar_cli, ["sync", "--email", person.email])

    assert result.exit_code == 0, result.output
    assert [report["provider"] for report in json.loads(result.stdout)["calendars"]] == [ICS]
    revoke_consent(session, person, "calendar", NOW)
    session.commit()
    refused = CliRunner().invoke(calendar_cli, ["sync", "--email", person.email])
    assert refused.exit_code == 1
    assert "Your calendar" in refused.output


# --- routes ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def client(planted: Planted, person: User, session: Session) -> Iterator[TestClient]:
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, session, person)
        yield client


def test_the_routes_connect_sync_show_and_disconnect_without_ever_answering_a_secret(
    client: TestClient, planted: Planted, session: Session, person: User
) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    planted.plant(CALDAV, CALDAV_URL, meetings())
    base = "/api/integrations/calendar"

    assert client.post(f"{base}/ics", json={"address": SECRET_ADDRESS}).status_code == 200
    assert (
        client.post(f"{base}/caldav", json={"url": CALDAV_URL, "username": "ada", "password": "nope"}).status_code
        == 409
    )
    assert client.post(f"{base}/ics/sync").json()["provider"] == ICS
    status = client.get(base)
    calendars = {row["provider"]: row for row in status.json()["calendars"]}

    assert status.json()["granted"] is True
    assert (calendars[ICS]["status"], calendars[ICS]["label"]) == ("connected", "calendar.example.org")
    assert (calendars[CALDAV]["status"], calendars[GOOGLE]["status"]) == ("disconnected", "disconnected")
    assert "wombat-8812" not in status.text
    assert PASSWORD not in status.text
    assert client.post(f"{base}/ics/disconnect").json()["status"] == "disconnected"
    assert client.post(f"{base}/outlook/sync").status_code == 422
    assert client.post(f"{base}/caldav/sync").status_code == 409, "not connected"


def test_calendar_writes_need_the_csrf_proof(client: TestClient, planted: Planted) -> None:
    planted.plant(ICS, SECRET_ADDRESS, meetings())
    del client.headers[CSRF_HEADER]

    assert client.post("/api/integrations/calendar/ics", json={"address": SECRET_ADDRESS}).status_code == 403
    assert client.post("/api/integrations/calendar/ics/disconnect").status_code == 403


def test_the_benchmark_plants_a_calendar_icalendar_reads_and_refuses_zero_persons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import icalendar

    from benchmarks import calendar as benchmark

    defaults = benchmark.parse_args([])
    assert (defaults.persons, defaults.round_persons, defaults.threads, defaults.cache_persons) == (50, 500, 8, 10_000)
    for zero in ("--persons", "--round-persons", "--threads"):
        with pytest.raises(SystemExit):
            benchmark.parse_args([zero, "0"])
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "a round of many due calendars, and the memory of what each process holds for many persons." in said, (
        "--help says the whole first sentence"
    )
    planted = icalendar.Calendar.from_ical(benchmark.calendar_text(10, NOW, seed=1))
    events = planted.walk("VEVENT")
    assert len(events) == 10
    assert sum("RRULE" in event for event in events) == 2, "every fifth recurs"


# --- the real ICS source on loopback, once its module is in -----------------------------------------------------


ICS_BODY = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//oO tests//EN\r
BEGIN:VEVENT\r
UID:standup-1@oo.test\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261120T130000Z\r
DTEND:20261120T140000Z\r
SUMMARY:Quarterly wombat review\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_an_address_on_a_loopback_server_connects_through_the_real_source(
    configure: Callable[..., None], session: Session, person: User
) -> None:
    pytest.importorskip("oo_app.calendar.ics", reason="the ICS source comes with its own branch")
    configure(OO_ENV="test", OO_TOKEN_KEYS=json.dumps([KEY]))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ICS_BODY.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_background(server, "ics")
    try:
        address = f"http://127.0.0.1:{server.server_address[1]}/private/secret-5521.ics"
        report = connections.connect_ics(session, person, address, now=NOW)
    finally:
        server.shutdown()
        server.server_close()

    assert report.intervals == 1
    assert day_rows(session, person)[TODAY].busy_minutes == 60
    assert busy_cache.busy_of(person.id, session, now=NOW) == [BusyInterval(at(20, 13), at(20, 14))]


# --- what the database holds after real reads ------------------------------------------------------------------

MEETING_DETAILS = ("Salary talk with Mallory", "severance-terms-5521", "Room Wombat-7781", "mallory-4412@example.org")


def detailed_meeting(uid: str, start: str, end: str) -> str:
    """One calendar object: a meeting with a title, a description, a place, an organiser and a guest."""
    title, description, place, guest = MEETING_DETAILS
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oO tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{title}\r\n"
        f"DESCRIPTION:{description}\r\nLOCATION:{place}\r\nORGANIZER:mailto:{guest}\r\n"
        f"ATTENDEE;CN=Mallory:mailto:{guest}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_after_real_ics_and_caldav_syncs_the_database_holds_no_title_description_place_or_guest(
    configure: Callable[..., None],
    session: Session,
    person: User,
    engine: Engine,
    ics_server: IcsServer,
    radicale: RadicaleServer,
) -> None:
    configure(OO_ENV="test", OO_TOKEN_KEYS=json.dumps([KEY]))
    ics_server.routes["/private/dump-secret.ics"] = (
        200,
        {},
        detailed_meeting("a", "20261120T130000Z", "20261120T140000Z"),
    )
    radicale.put_event("ada", "dump", detailed_meeting("b", "20261121T090000Z", "20261121T100000Z"))
    connections.connect_ics(session, person, ics_server.url("/private/dump-secret.ics"), now=NOW)
    connections.connect_caldav(
        session, person, radicale.calendar_url("ada", "dump"), "ada", radicale.users["ada"], now=NOW
    )
    assert jobs.sync_due(now=NOW + timedelta(minutes=15)) == 2, "both read again by a round"
    assert sorted(busy_cache.cached(person.id)) == [CALDAV, ICS]
    assert day_rows(session, person)[TOMORROW].meetings == 1

    text = dump(engine)

    assert "calendar_days: " in text, "the dump holds what the syncs stored"
    assert [detail for detail in MEETING_DETAILS if detail.lower() in text.lower()] == []
    assert "Mallory" not in text
