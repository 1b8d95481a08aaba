"""What the calendar section of ``/settings`` says, without a browser: a connection's host and last sync in words, what
to do when a calendar stopped letting oO in, a refused connection said as one, the Google link offered only
where the server has a Google client, and what oO reads of a calendar said truthfully. The browser test
(tests/test_calendar_browser.py) covers the page itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from agents.busy import CALENDAR_CONSENT
from oo_app.calendar.connections import CalendarConnection
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS
from oo_app.components.calendar_section import WHAT_OO_READS
from oo_app.profile.consents import consent_text
from oo_app.state.calendar import _google_offered, _not_connected, _row
from oo_app.state.words import sentence

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def connection(kind: str, status: str, **fields: object) -> CalendarConnection:
    values: dict[str, object] = {"label": "", "last_synced_at": None, "last_error": None, **fields}
    return CalendarConnection(kind=kind, title=kind, status=status, **values)  # type: ignore[arg-type]


def test_a_calendar_not_connected_shows_nothing_of_a_connection() -> None:
    row = _row(connection(ICS, "disconnected"), NOW)
    assert (row.kind, row.connected, row.label, row.synced, row.problem) == ("ics", False, "", "", "")


def test_a_connected_calendar_shows_its_host_and_last_sync_in_words() -> None:
    row = _row(
        connection(CALDAV, "connected", label="caldav.fastmail.com", last_synced_at=NOW - timedelta(minutes=5)), NOW
    )
    assert (row.kind, row.connected, row.reauth) == ("caldav", True, False)
    assert row.label == "caldav.fastmail.com"
    assert row.synced == "last synced 5 minutes ago"
    assert row.problem == ""


def test_a_failed_sync_is_said_with_its_reason_and_that_oo_tries_again() -> None:
    row = _row(connection(ICS, "connected", label="x.example", last_error="the calendar's server is unavailable"), NOW)
    assert row.problem == (
        "The last sync did not go through (the calendar's server is unavailable); oO tries again by itself."
    )


def test_a_calendar_that_no_longer_lets_oo_in_says_what_to_do_for_its_kind() -> None:
    said = {
        kind: _row(connection(kind, "reauth_needed", label="h", last_error="refused"), NOW).problem
        for kind in (GOOGLE, CALDAV, ICS)
    }
    assert said[GOOGLE] == "oO can no longer read this calendar: connect it again."
    assert "new app password" in said[CALDAV]
    assert "copy its address again" in said[ICS]
    assert all(_row(connection(kind, "reauth_needed", label="h"), NOW).reauth for kind in said)


def test_a_refused_connection_says_nothing_was_saved_without_asking_to_connect_again() -> None:
    assert _not_connected("the CalDAV server refuses the user name or password: connect the calendar again") == (
        "Not connected, nothing was saved: the CalDAV server refuses the user name or password."
    )
    assert _not_connected("the address stopped working: copy it again from your calendar") == (
        "Not connected, nothing was saved: the address stopped working: copy it again from your calendar."
    )


def test_a_domain_message_becomes_a_sentence() -> None:
    assert sentence("the address is missing") == "The address is missing."
    assert sentence("Done.") == "Done."
    assert sentence("  ") == ""


def test_the_google_link_is_offered_only_with_a_google_client(configure: Callable[..., None]) -> None:
    configure(OO_GOOGLE_CALENDAR_CLIENT_ID="", OO_GOOGLE_CALENDAR_CLIENT_SECRET="")
    assert _google_offered() is False
    configure(OO_GOOGLE_CALENDAR_CLIENT_ID="oo-calendar.apps.example", OO_GOOGLE_CALENDAR_CLIENT_SECRET="s3cret")
    assert _google_offered() is True


def test_what_oo_reads_is_said_truthfully_events_pass_through_and_no_title_is_kept() -> None:
    # An ICS or CalDAV answer holds whole events, titles included, parsed in memory: "never reads" would be untrue.
    said = [WHAT_OO_READS, consent_text(CALENDAR_CONSENT).text]
    assert all("never reads" not in text and "never keeps or reads" not in text for text in said), said
    assert "takes only when each starts and ends" in WHAT_OO_READS
    assert "never keeps, logs or passes on a meeting's title, description, guests or place" in WHAT_OO_READS
    assert "takes only when each meeting starts and ends" in said[1]
    assert consent_text(CALENDAR_CONSENT).version == "v2", "a new wording is a new version to agree to"
