"""The calendar sources keep their contract: iCalendar read as busy intervals (recurrences, exceptions, time zones,
DST, what is not busy), ICS addresses fetched from a real loopback HTTP server with every answer mapped to a domain
error, the SSRF rules, and CalDAV against a real Radicale. No title, address or password leaks into a log or an error.
"""

from __future__ import annotations

import logging
import socket
import ssl
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpcore
import pytest

from agents.busy import BusyInterval
from oo_app.calendar.caldav_source import CalDavSource
from oo_app.calendar.ics import ADDRESS_GONE, IcsSource, busy_from_ics, near_events_only
from oo_app.calendar.outbound import (
    AddressRefused,
    CalendarHttp,
    Limits,
    _PinnedBackend,
    approve,
    normalize_address,
    retry_after,
)
from oo_app.calendar.sources import CALDAV, ICS, CalendarSource, InvalidCalendar
from oo_app.integrations.errors import ProviderUnavailable, RateLimited, ReauthNeeded
from tests.ics_server import IcsServer, ics_server, self_signed, serving
from tests.radicale_server import RadicaleServer, radicale

__all__ = ["ics_server", "radicale"]  # fixtures, used by name

UTC_DAY = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
TITLE = "Salary talk with Mallory"  # what must never leave a source
SECRET_PATH = "/private-8f3a2c1e9d7b/basic.ics"  # an ICS address's secret part

BERLIN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def vevent(uid: str, *lines: str) -> str:
    body = "".join(f"{line}\n" for line in lines)
    return f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261001T000000Z\nSUMMARY:{TITLE}\n{body}END:VEVENT\n"


def vcalendar(*components: str, header: str = "") -> str:
    return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//oO tests//EN\n" + header + "".join(components) + "END:VCALENDAR\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def spans(intervals: list[BusyInterval]) -> list[tuple[datetime, datetime]]:
    return sorted((interval.start, interval.end) for interval in intervals)


# --- iCalendar as busy intervals (pure) -------------------------------------------------------------------------


def test_an_event_on_its_own_time_zone_is_busy_in_utc() -> None:
    ics = vcalendar(
        BERLIN_VTIMEZONE,
        vevent("a", "DTSTART;TZID=Europe/Berlin:20261120T100000", "DTEND;TZID=Europe/Berlin:20261120T113000"),
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 20, 9), utc(2026, 11, 20, 10, 30))]


def test_a_vtimezone_of_the_calendars_own_defines_the_offset() -> None:
    office = "BEGIN:VTIMEZONE\nTZID:Office Time\nBEGIN:STANDARD\nTZOFFSETFROM:+0300\nTZOFFSETTO:+0300\n"
    office += "DTSTART:19700101T000000\nEND:STANDARD\nEND:VTIMEZONE\n"
    ics = vcalendar(
        office, vevent("a", "DTSTART;TZID=Office Time:20261120T120000", "DTEND;TZID=Office Time:20261120T130000")
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 20, 9), utc(2026, 11, 20, 10))]


def test_a_weekly_series_skips_its_exdate_and_moves_its_overridden_instance() -> None:
    ics = vcalendar(
        BERLIN_VTIMEZONE,
        vevent(
            "weekly",
            "DTSTART;TZID=Europe/Berlin:20261102T090000",
            "DTEND;TZID=Europe/Berlin:20261102T100000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE;TZID=Europe/Berlin:20261109T090000",
        ),
        vevent(
            "weekly",
            "RECURRENCE-ID;TZID=Europe/Berlin:20261116T090000",
            "DTSTART;TZID=Europe/Berlin:20261116T140000",
            "DTEND;TZID=Europe/Berlin:20261116T150000",
        ),
    )
    found = spans(busy_from_ics(ics, utc(2026, 11, 1), utc(2026, 12, 1)))
    assert found == [
        (utc(2026, 11, 2, 8), utc(2026, 11, 2, 9)),
        (utc(2026, 11, 16, 13), utc(2026, 11, 16, 14)),
        (utc(2026, 11, 23, 8), utc(2026, 11, 23, 9)),
    ], "the EXDATE (9 Nov) is gone and the 16 Nov instance moved to 14:00"


def test_rdate_adds_an_instance() -> None:
    ics = vcalendar(
        vevent("r", "DTSTART:20261120T080000Z", "DTEND:20261120T083000Z", "RDATE:20261120T150000Z"),
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [
        (utc(2026, 11, 20, 8), utc(2026, 11, 20, 8, 30)),
        (utc(2026, 11, 20, 15), utc(2026, 11, 20, 15, 30)),
    ]


def test_cancelled_events_and_cancelled_instances_are_not_busy() -> None:
    ics = vcalendar(
        vevent("gone", "DTSTART:20261120T080000Z", "DTEND:20261120T090000Z", "STATUS:CANCELLED"),
        vevent("daily", "DTSTART:20261119T120000Z", "DTEND:20261119T130000Z", "RRULE:FREQ=DAILY;COUNT=3"),
        vevent(
            "daily",
            "RECURRENCE-ID:20261120T120000Z",
            "DTSTART:20261120T120000Z",
            "DTEND:20261120T130000Z",
            "STATUS:CANCELLED",
        ),
    )
    found = spans(busy_from_ics(ics, utc(2026, 11, 19), utc(2026, 11, 22)))
    assert found == [(utc(2026, 11, 19, 12), utc(2026, 11, 19, 13)), (utc(2026, 11, 21, 12), utc(2026, 11, 21, 13))]


def test_free_and_all_day_and_instant_events_are_not_busy() -> None:
    ics = vcalendar(
        vevent("free", "DTSTART:20261120T080000Z", "DTEND:20261120T090000Z", "TRANSP:TRANSPARENT"),
        vevent("holiday", "DTSTART;VALUE=DATE:20261120", "DTEND;VALUE=DATE:20261121"),
        vevent("reminder", "DTSTART:20261120T100000Z"),
        vevent("busy", "DTSTART:20261120T110000Z", "DURATION:PT45M", "TRANSP:OPAQUE"),
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 20, 11), utc(2026, 11, 20, 11, 45))]


def test_a_daily_meeting_keeps_its_local_hour_across_both_dst_changes() -> None:
    ics = vcalendar(
        BERLIN_VTIMEZONE,
        vevent(
            "standup",
            "DTSTART;TZID=Europe/Berlin:20260327T090000",
            "DTEND;TZID=Europe/Berlin:20260327T091500",
            "RRULE:FREQ=DAILY",
        ),
    )
    spring = spans(busy_from_ics(ics, utc(2026, 3, 28), utc(2026, 3, 30)))
    autumn = spans(busy_from_ics(ics, utc(2026, 10, 24), utc(2026, 10, 26)))
    assert [start for start, _ in spring] == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)], "CET, then CEST"
    assert [start for start, _ in autumn] == [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8)], "CEST, then CET"


def test_x_wr_timezone_makes_a_utc_series_follow_the_calendars_zone() -> None:
    header = "X-WR-TIMEZONE:Europe/Berlin\n"
    ics = vcalendar(
        vevent("g", "DTSTART:20261020T070000Z", "DTEND:20261020T080000Z", "RRULE:FREQ=WEEKLY;COUNT=2"),
        vevent("floating", "DTSTART:20261020T120000", "DTEND:20261020T130000"),
        header=header,
    )
    found = spans(busy_from_ics(ics, utc(2026, 10, 1), utc(2026, 11, 1)))
    assert found == [
        (utc(2026, 10, 20, 7), utc(2026, 10, 20, 8)),
        (utc(2026, 10, 20, 10), utc(2026, 10, 20, 11)),
        (utc(2026, 10, 27, 8), utc(2026, 10, 27, 9)),
    ], "09:00 Berlin both weeks; the floating 12:00 is Berlin time"


def test_floating_times_are_read_on_the_zone_given() -> None:
    ics = vcalendar(vevent("f", "DTSTART:20261120T120000", "DTEND:20261120T130000"))
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 20, 12), utc(2026, 11, 20, 13))]
    plus_two = timezone(timedelta(hours=2))
    assert spans(busy_from_ics(ics, *UTC_DAY, floating=plus_two)) == [(utc(2026, 11, 20, 10), utc(2026, 11, 20, 11))]


def test_intervals_overlapping_the_window_are_kept_whole_and_others_left_out() -> None:
    ics = vcalendar(
        vevent("night", "DTSTART:20261119T230000Z", "DTEND:20261120T010000Z"),
        vevent("before", "DTSTART:20261119T200000Z", "DTEND:20261119T210000Z"),
        vevent("after", "DTSTART:20261121T000000Z", "DTEND:20261121T010000Z"),
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 19, 23), utc(2026, 11, 20, 1))]


@pytest.mark.parametrize(
    "text", ["", "<html><body>Sign in</body></html>", "BEGIN:VCARD\nFN:Ada\nEND:VCARD\n", "BEGIN:VCALENDAR\n\x00"]
)
def test_what_is_not_icalendar_is_an_invalid_calendar(text: str) -> None:
    with pytest.raises(InvalidCalendar):
        busy_from_ics(text, *UTC_DAY)


@pytest.mark.parametrize(
    "broken",
    [
        ("RRULE:FREQ=SOMETIMES", "DTSTART:20261120T080000Z"),
        ("DTEND:20261120T090000Z",),  # no DTSTART at all
        ("DTSTART:20261120T080000Z", "DTSTART:20261120T083000Z", "RRULE:FREQ=DAILY"),
    ],
)
def test_a_series_that_cannot_be_expanded_is_skipped_not_fatal(broken: tuple[str, ...]) -> None:
    ics = vcalendar(
        vevent("bad", *broken),
        vevent("good", "DTSTART:20261120T100000Z", "DTEND:20261120T110000Z"),
    )
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [(utc(2026, 11, 20, 10), utc(2026, 11, 20, 11))]


def test_only_events_near_the_window_are_parsed_and_none_that_could_be_busy_is_lost() -> None:
    past = [vevent(f"old{n}", f"DTSTART:2024{1 + n % 12:02d}10T100000Z", "DURATION:PT1H") for n in range(120)]
    ics = vcalendar(
        BERLIN_VTIMEZONE,
        *past,
        vevent("future", "DTSTART:20270101T100000Z", "DTEND:20270101T110000Z"),
        vevent("kiri", "DTSTART;TZID=Pacific/Kiritimati:20261121T020000", "DURATION:PT1H"),  # 12:00 UTC on the 20th
        vevent("pago", "DTSTART;TZID=Pacific/Pago_Pago:20261119T230000", "DURATION:PT1H"),  # 10:00 UTC on the 20th
        vevent("week-long", "DTSTART:20261115T000000Z", "DURATION:P7D"),
        vevent("folded", "DTSTART;TZID=Europe/Ber\n lin:20261120T150000", "DTEND;TZID=Europe/Berlin:20261120T153000"),
        vevent("series", "DTSTART:20200101T060000Z", "DURATION:PT15M", "RRULE:FREQ=DAILY"),
        vevent("series", "RECURRENCE-ID:20200301T060000Z", "DTSTART:20261120T200000Z", "DURATION:PT15M"),
    )
    kept = near_events_only(ics, *UTC_DAY)
    assert kept.count("BEGIN:VEVENT") == 6, "the 120 past events and the one next year are left out"
    assert spans(busy_from_ics(ics, *UTC_DAY)) == [
        (utc(2026, 11, 15), utc(2026, 11, 22)),
        (utc(2026, 11, 20, 6), utc(2026, 11, 20, 6, 15)),
        (utc(2026, 11, 20, 10), utc(2026, 11, 20, 11)),
        (utc(2026, 11, 20, 12), utc(2026, 11, 20, 13)),
        (utc(2026, 11, 20, 14), utc(2026, 11, 20, 14, 30)),
        (utc(2026, 11, 20, 20), utc(2026, 11, 20, 20, 15)),
    ]


# --- the SSRF rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "https://127.0.0.1/cal.ics",
        "https://10.1.2.3/cal.ics",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/cal.ics",
        "https://[::ffff:127.0.0.1]/cal.ics",
        "https://localhost/cal.ics",
        "http://93.184.216.34/cal.ics",
        "ftp://93.184.216.34/cal.ics",
        "https://ada:pw@93.184.216.34/cal.ics",
        "https://93.184.216.34:99999/cal.ics",
        "file:///etc/passwd",
        "https://93.184.216.34/" + "a" * 2100,
    ],
)
def test_addresses_inside_or_not_https_are_refused(address: str) -> None:
    with pytest.raises(AddressRefused):
        approve(address, allow_private=False)


def test_a_public_https_address_is_approved_with_its_addresses() -> None:
    approved = approve("https://93.184.216.34/cal.ics", allow_private=False)
    assert approved.addresses == ("93.184.216.34",)
    assert approved.port == 443


def test_webcal_is_read_over_https_and_only_for_ics() -> None:
    assert normalize_address(" webcal://example.org/a.ics ", webcal=True) == "https://example.org/a.ics"
    assert normalize_address("webcal://example.org/a.ics") == "webcal://example.org/a.ics"
    with pytest.raises(AddressRefused):
        approve(normalize_address("webcal://example.org/a.ics"), allow_private=False)


def test_what_a_person_sees_of_an_address_is_its_host() -> None:
    assert IcsSource("webcal://calendar.example.org/private-8f3a2c1e9d7b/basic.ics").label == "calendar.example.org"
    assert IcsSource("https://ada:pw@cal.example.org:8443/x.ics?token=8f3a").label == "cal.example.org:8443"
    assert CalDavSource("https://dav.example.org/", "ada", ADA_PASSWORD).label == "dav.example.org"
    assert IcsSource("not an address").label == ""


def test_a_source_refuses_a_private_host_when_private_addresses_are_not_allowed(ics_server: IcsServer) -> None:
    ics_server.routes[SECRET_PATH] = (200, {}, vcalendar())
    with pytest.raises(AddressRefused) as refused:
        IcsSource(ics_server.url(SECRET_PATH), allow_private=False).busy(*UTC_DAY)
    assert SECRET_PATH not in str(refused.value)


def test_a_connection_goes_only_to_a_pinned_address() -> None:
    backend = _PinnedBackend()
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("127.0.0.1", 9)


# --- ICS addresses on a loopback HTTP server --------------------------------------------------------------------


def source(address: str, **limits: object) -> IcsSource:
    return IcsSource(address, **{"allow_private": True, "timeout_s": 5.0, **limits})  # type: ignore[arg-type]


def test_an_ics_address_is_read_as_busy_intervals(ics_server: IcsServer) -> None:
    ics_server.routes[SECRET_PATH] = (
        200,
        {},
        vcalendar(vevent("a", "DTSTART:20261120T100000Z", "DTEND:20261120T110000Z")),
    )
    calendar: CalendarSource = source(ics_server.url(SECRET_PATH))
    assert calendar.kind == ICS
    assert spans(calendar.busy(*UTC_DAY)) == [(utc(2026, 11, 20, 10), utc(2026, 11, 20, 11))]
    assert ics_server.seen[0][0] == "GET"
    assert "Authorization" not in ics_server.seen[0][2]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_an_address_that_stopped_working_asks_to_copy_it_again(ics_server: IcsServer, status: int) -> None:
    ics_server.routes[SECRET_PATH] = (status, {}, "no")
    with pytest.raises(ReauthNeeded) as refused:
        source(ics_server.url(SECRET_PATH)).busy(*UTC_DAY)
    assert str(refused.value) == ADDRESS_GONE


def test_a_429_is_rate_limited_with_the_wait_asked(ics_server: IcsServer) -> None:
    ics_server.routes[SECRET_PATH] = (429, {"Retry-After": "120"}, "slow down")
    with pytest.raises(RateLimited) as limited:
        source(ics_server.url(SECRET_PATH)).busy(*UTC_DAY)
    assert limited.value.retry_after_s == 120


@pytest.mark.parametrize("status", [500, 502, 503, 418])
def test_a_server_failure_is_unavailable_for_now(ics_server: IcsServer, status: int) -> None:
    ics_server.routes[SECRET_PATH] = (status, {}, "oops")
    with pytest.raises(ProviderUnavailable) as failed:
        source(ics_server.url(SECRET_PATH)).busy(*UTC_DAY)
    assert not isinstance(failed.value, RateLimited)


def test_a_page_that_is_not_a_calendar_is_invalid(ics_server: IcsServer) -> None:
    ics_server.routes[SECRET_PATH] = (200, {"Content-Type": "text/html"}, "<html>Sign in to see it</html>")
    with pytest.raises(InvalidCalendar):
        source(ics_server.url(SECRET_PATH)).busy(*UTC_DAY)


def test_an_answer_over_the_size_cap_is_refused(ics_server: IcsServer) -> None:
    big = vcalendar(*(vevent(f"e{n}", "DTSTART:20261120T100000Z", "DURATION:PT1H") for n in range(400)))
    ics_server.routes[SECRET_PATH] = (200, {}, big)
    with pytest.raises(InvalidCalendar):
        source(ics_server.url(SECRET_PATH), max_bytes=10_000).busy(*UTC_DAY)
    assert len(source(ics_server.url(SECRET_PATH), max_bytes=len(big)).busy(*UTC_DAY)) == 400


def test_a_silent_server_is_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(ProviderUnavailable):
            source(f"http://127.0.0.1:{port}{SECRET_PATH}", timeout_s=0.3).busy(*UTC_DAY)


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderUnavailable):
        source(f"http://127.0.0.1:{port}{SECRET_PATH}").busy(*UTC_DAY)


def test_a_redirect_is_followed_to_an_approved_host_only(ics_server: IcsServer) -> None:
    ics_server.routes["/moved"] = (301, {"Location": SECRET_PATH}, "")
    ics_server.routes[SECRET_PATH] = (200, {}, vcalendar(vevent("a", "DTSTART:20261120T100000Z", "DURATION:PT1H")))
    assert len(source(ics_server.url("/moved")).busy(*UTC_DAY)) == 1
    for target in ("ftp://127.0.0.1/cal.ics", "file:///etc/passwd", "http://ada:pw@127.0.0.1/cal.ics"):
        ics_server.routes["/away"] = (302, {"Location": target}, "")
        with pytest.raises(AddressRefused):
            source(ics_server.url("/away")).busy(*UTC_DAY)


def test_a_redirect_loop_gives_up(ics_server: IcsServer) -> None:
    ics_server.routes["/loop"] = (302, {"Location": "/loop"}, "")
    with pytest.raises(ProviderUnavailable):
        source(ics_server.url("/loop")).busy(*UTC_DAY)


def test_credentials_never_follow_a_redirect_to_another_origin(ics_server: IcsServer) -> None:
    with serving() as other:
        other.routes["/cal"] = (200, {}, vcalendar())
        ics_server.routes["/cal"] = (307, {"Location": other.url("/cal")}, "")
        with CalendarHttp(Limits(5.0, 100_000, True)) as http:
            answer = http.request("GET", ics_server.url("/cal"), {"Authorization": "Basic c2VjcmV0"})
    assert answer.status == 200
    assert ics_server.seen[0][2].get("Authorization") == "Basic c2VjcmV0"
    assert "Authorization" not in other.seen[0][2], "the password went to another host"


def test_an_answer_slower_than_the_timeout_is_unavailable(ics_server: IcsServer) -> None:
    ics_server.routes[SECRET_PATH] = (200, {}, [b"BEGIN:VCALENDAR\n"] + [b" "] * 20)  # a byte at a time
    with pytest.raises(ProviderUnavailable):
        source(ics_server.url(SECRET_PATH), timeout_s=0.5).busy(*UTC_DAY)


def test_https_connects_to_the_approved_address_and_checks_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, certificate = self_signed("calendar.test", tmp_path)
    resolved: list[str] = []

    def approved_once(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]  # what DNS answered at approval; the connection must not ask again

    monkeypatch.setattr("oo_app.calendar.outbound.resolve", approved_once)
    with serving(tls, host="calendar.test") as server:
        server.routes[SECRET_PATH] = (200, {}, vcalendar(vevent("a", "DTSTART:20261120T100000Z", "DURATION:PT1H")))
        with pytest.raises(ProviderUnavailable):  # not trusted: the certificate is checked
            source(server.url(SECRET_PATH)).busy(*UTC_DAY)
        trusting = ssl.create_default_context(cafile=str(certificate))
        monkeypatch.setattr("oo_app.calendar.outbound.tls_context", lambda: trusting)
        assert len(source(server.url(SECRET_PATH)).busy(*UTC_DAY)) == 1, "calendar.test never resolves by DNS"
    assert set(resolved) == {"calendar.test"}


@pytest.mark.parametrize(
    ("value", "seconds"), [("120", 120.0), ("-5", 0.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)]
)
def test_retry_after_is_read_as_seconds_or_a_date(value: str, seconds: float | None) -> None:
    assert retry_after({"Retry-After": value}) == seconds


def test_no_title_and_no_address_reach_a_log_or_an_error(
    ics_server: IcsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ics_server.routes[SECRET_PATH] = (200, {}, vcalendar(vevent("a", "DTSTART:20261120T100000Z", "DURATION:PT1H")))
    calendar = source(ics_server.url(SECRET_PATH))
    assert calendar.busy(*UTC_DAY), "the first read finds the event"
    messages = [repr(calendar)]
    for status in (404, 429, 500):
        ics_server.routes[SECRET_PATH] = (status, {}, TITLE)
        with pytest.raises(ProviderUnavailable if status != 404 else ReauthNeeded) as failed:
            source(ics_server.url(SECRET_PATH)).busy(*UTC_DAY)
        messages.append(str(failed.value))
    logged = [record.getMessage() for record in caplog.records]
    for text in messages + logged:
        assert "8f3a2c1e9d7b" not in text, text
        assert "Mallory" not in text, text


# --- CalDAV against a real Radicale -----------------------------------------------------------------------------

ADA_PASSWORD = "correct horse"
CALDAV_NS = "urn:ietf:params:xml:ns:caldav"
CALDAV_WINDOW = (utc(2026, 11, 20), utc(2026, 11, 23))
WORK_AND_HOME = [
    (utc(2026, 11, 20, 9), utc(2026, 11, 20, 10)),
    (utc(2026, 11, 20, 17), utc(2026, 11, 20, 18)),
    (utc(2026, 11, 22, 13), utc(2026, 11, 22, 14)),
]


@pytest.fixture(scope="module")
def seeded(radicale: RadicaleServer) -> RadicaleServer:
    """Ada: a work calendar (a daily series with an EXDATE and a moved instance), a home calendar, a task list; Bob:
    a calendar of his own."""
    work = vcalendar(
        BERLIN_VTIMEZONE,
        vevent(
            "daily",
            "DTSTART;TZID=Europe/Berlin:20261120T100000",
            "DTEND;TZID=Europe/Berlin:20261120T110000",
            "RRULE:FREQ=DAILY;COUNT=3",
            "EXDATE;TZID=Europe/Berlin:20261121T100000",
        ),
        vevent(
            "daily",
            "RECURRENCE-ID;TZID=Europe/Berlin:20261122T100000",
            "DTSTART;TZID=Europe/Berlin:20261122T140000",
            "DTEND;TZID=Europe/Berlin:20261122T150000",
        ),
    )
    radicale.put_event("ada", "work", work)
    radicale.put_event("ada", "home", vcalendar(vevent("gym", "DTSTART:20261120T170000Z", "DTEND:20261120T180000Z")))
    radicale.put_event("ada", "holidays", vcalendar(vevent("off", "DTSTART;VALUE=DATE:20261121", "DURATION:P1D")))
    radicale.calendar("ada", "tasks", ("VTODO",))
    radicale.put_event("bob", "private", vcalendar(vevent("b", "DTSTART:20261120T080000Z", "DURATION:PT1H")))
    return radicale


def caldav(url: str, username: str = "ada", password: str = ADA_PASSWORD, **limits: object) -> CalDavSource:
    return CalDavSource(url, username, password, **{"allow_private": True, "timeout_s": 10.0, **limits})  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["server", "principal"])
def test_caldav_reads_every_event_calendar_of_the_person(seeded: RadicaleServer, where: str) -> None:
    url = seeded.url if where == "server" else seeded.principal_url("ada")
    calendar: CalendarSource = caldav(url)
    assert calendar.kind == CALDAV
    assert spans(calendar.busy(*CALDAV_WINDOW)) == WORK_AND_HOME, "work (expanded) and home, never Bob's"


def test_caldav_reads_only_the_calendar_it_was_given(seeded: RadicaleServer) -> None:
    assert spans(caldav(seeded.calendar_url("ada", "home")).busy(*CALDAV_WINDOW)) == [WORK_AND_HOME[1]]
    assert caldav(seeded.calendar_url("ada", "tasks")).busy(*CALDAV_WINDOW) == [], "a task list holds no events"


def test_caldav_asks_only_for_the_window(seeded: RadicaleServer) -> None:
    assert caldav(seeded.url).busy(utc(2026, 12, 1), utc(2026, 12, 3)) == []


def test_a_wrong_password_asks_to_connect_again(seeded: RadicaleServer) -> None:
    with pytest.raises(ReauthNeeded) as refused:
        caldav(seeded.url, password="Mallory's guess").busy(*CALDAV_WINDOW)
    assert "Mallory" not in str(refused.value)


@pytest.mark.parametrize("path", ["bob/private/", "ada/no-such-calendar/"])
def test_a_calendar_out_of_reach_asks_to_connect_again(seeded: RadicaleServer, path: str) -> None:
    with pytest.raises(ReauthNeeded):
        caldav(seeded.url + path).busy(*CALDAV_WINDOW)


def test_caldav_on_a_private_host_is_refused_when_private_addresses_are_not_allowed(seeded: RadicaleServer) -> None:
    with pytest.raises(AddressRefused):
        caldav(seeded.url, allow_private=False).busy(*CALDAV_WINDOW)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, "<html>Welcome</html>", InvalidCalendar),
        (207, "not xml <", InvalidCalendar),
        (207, '<?xml version="1.0"?><html xmlns="DAV:"/>', InvalidCalendar),
        (405, "", InvalidCalendar),
        (503, "", ProviderUnavailable),
        (429, "", RateLimited),
    ],
)
def test_what_is_not_a_caldav_server_is_an_error_of_its_kind(
    ics_server: IcsServer, status: int, body: str, error: type[Exception]
) -> None:
    ics_server.routes["/dav/"] = (status, {"Content-Type": "text/html"}, body)
    with pytest.raises(error):
        caldav(ics_server.url("/dav/")).busy(*CALDAV_WINDOW)
    assert ics_server.seen[0][0] == "PROPFIND"


def multistatus(*responses: str) -> str:
    return (
        f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="{CALDAV_NS}">{"".join(responses)}</d:multistatus>'
    )


def test_a_server_root_that_is_no_caldav_resource_is_asked_at_its_well_known_address(ics_server: IcsServer) -> None:
    calendar = (
        "<d:response><d:href>/dav/cal/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/>"
        "</d:resourcetype><c:supported-calendar-component-set>"
        '<c:comp name="VEVENT"/></c:supported-calendar-component-set>'
        "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
    event = vcalendar(vevent("a", "DTSTART:20261120T100000Z", "DURATION:PT1H")).replace("<", "&lt;")
    report = f"<d:response><d:href>/dav/cal/a.ics</d:href><d:propstat><d:prop><c:calendar-data>{event}"
    report += "</c:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    ics_server.routes["/"] = (405, {}, "")
    ics_server.routes["/.well-known/caldav"] = (301, {"Location": "/dav/cal/"}, "")
    ics_server.routes["PROPFIND /dav/cal/"] = (207, {"Content-Type": "application/xml"}, multistatus(calendar))
    ics_server.routes["REPORT /dav/cal/"] = (207, {"Content-Type": "application/xml"}, multistatus(report))
    found = caldav(ics_server.url("/")).busy(*UTC_DAY)
    assert spans(found) == [(utc(2026, 11, 20, 10), utc(2026, 11, 20, 11))]
    assert [(method, path) for method, path, _ in ics_server.seen] == [
        ("PROPFIND", "/"),
        ("PROPFIND", "/.well-known/caldav"),
        ("PROPFIND", "/dav/cal/"),
        ("REPORT", "/dav/cal/"),
    ]


@pytest.fixture(scope="module")
def series(radicale: RadicaleServer) -> str:
    """Ada's calendar ``series`` (outside the windows above): a daily stand-up with one instance cancelled by an
    override, and daily meetings across both of 2026's DST changes in Berlin; its URL."""
    standup = vcalendar(
        BERLIN_VTIMEZONE,
        vevent(
            "standup",
            "DTSTART;TZID=Europe/Berlin:20261012T091500",
            "DTEND;TZID=Europe/Berlin:20261012T093000",
            "RRULE:FREQ=DAILY;COUNT=5",
        ),
        vevent(
            "standup",
            "RECURRENCE-ID;TZID=Europe/Berlin:20261014T091500",
            "DTSTART;TZID=Europe/Berlin:20261014T091500",
            "DTEND;TZID=Europe/Berlin:20261014T093000",
            "STATUS:CANCELLED",
        ),
    )
    radicale.put_event("ada", "series", standup)
    for uid, first in (("spring", "20260327"), ("autumn", "20261023")):
        radicale.put_event(
            "ada",
            "series",
            vcalendar(
                BERLIN_VTIMEZONE,
                vevent(
                    uid,
                    f"DTSTART;TZID=Europe/Berlin:{first}T100000",
                    f"DTEND;TZID=Europe/Berlin:{first}T110000",
                    "RRULE:FREQ=DAILY;COUNT=4",
                ),
            ),
        )
    return radicale.calendar_url("ada", "series")


def test_an_instance_cancelled_by_its_override_is_not_busy_through_caldav(series: str) -> None:
    found = spans(caldav(series).busy(utc(2026, 10, 12), utc(2026, 10, 17)))
    assert [start for start, _ in found] == [
        utc(2026, 10, 12, 7, 15),
        utc(2026, 10, 13, 7, 15),
        utc(2026, 10, 15, 7, 15),
        utc(2026, 10, 16, 7, 15),
    ], "the 14 October stand-up (STATUS:CANCELLED on its RECURRENCE-ID) is gone, the others stay"


@pytest.mark.parametrize(
    ("since", "until", "hours"),
    [
        (utc(2026, 3, 27), utc(2026, 3, 31), [9, 9, 8, 8]),  # CET, then CEST from 29 March
        (utc(2026, 10, 23), utc(2026, 10, 27), [8, 8, 9, 9]),  # CEST, then CET from 25 October
    ],
)
def test_a_series_across_a_dst_change_keeps_its_local_hour_through_caldav(
    series: str, since: datetime, until: datetime, hours: list[int]
) -> None:
    found = spans(caldav(series).busy(since, until))
    assert [(start.hour, end - start) for start, end in found] == [(hour, timedelta(hours=1)) for hour in hours], (
        "10:00 to 11:00 in Berlin every day, whatever the offset"
    )


def test_the_password_stays_out_of_sight(seeded: RadicaleServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    calendar = caldav(seeded.url)
    assert calendar.busy(*CALDAV_WINDOW)
    assert ADA_PASSWORD not in repr(calendar)
    assert all(ADA_PASSWORD not in record.getMessage() for record in caplog.records)
    assert all(TITLE not in record.getMessage() for record in caplog.records)
