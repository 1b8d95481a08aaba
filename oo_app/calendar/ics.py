"""iCalendar (RFC 5545) read as busy intervals, and the calendar behind a secret ICS address.

:func:`busy_from_ics` is pure: recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded on each
event's own time zone (``X-WR-TIMEZONE`` honoured) by recurring-ical-events; what an event is called, who attends and
where never leave it. :class:`IcsSource` fetches the address under :mod:`oo_app.calendar.outbound`'s SSRF rules; the
address is the person's secret and appears in no message and no log line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
from icalendar import Component

from agents.busy import BusyInterval
from oo_app.calendar.outbound import CalendarHttp, Limits, normalize_address, rate_limited, unavailable
from oo_app.calendar.sources import ICS, InvalidCalendar
from oo_app.clock import as_utc
from oo_app.integrations.errors import ReauthNeeded

ADDRESS_GONE = "the address stopped working: copy it again from your calendar"
NOT_ICALENDAR = "the address does not answer an iCalendar (.ics) calendar: copy the calendar's ICS or webcal address"
ICS_SERVER = "the calendar's server"


def _moment(value: date | datetime, floating: tzinfo) -> datetime | None:
    """An aware UTC moment, or None for a date (an all-day event is not busy); a floating time is on ``floating``."""
    if not isinstance(value, datetime):
        return None
    return as_utc(value if value.tzinfo else value.replace(tzinfo=floating))


def busy_of_event(event: Component, floating: tzinfo) -> BusyInterval | None:
    """The busy interval of one (expanded) VEVENT, or None when it does not make the person busy: cancelled,
    transparent ("free"), all-day, or without a duration."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    dtstart = event.get("DTSTART")
    start = _moment(dtstart.dt, floating) if dtstart is not None else None
    if start is None:
        return None
    if event.get("DTEND") is not None:
        end = _moment(event["DTEND"].dt, floating)
    elif event.get("DURATION") is not None and isinstance(event["DURATION"].dt, timedelta):
        end = start + event["DURATION"].dt
    else:
        end = None  # RFC 5545: a DTSTART date-time alone takes up no time
    if end is None or end <= start:
        return None
    return BusyInterval(start, end)


def parse_calendars(data: bytes | str) -> list[icalendar.Calendar]:
    """The VCALENDAR objects of an iCalendar text; :class:`InvalidCalendar` when it is not one."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        raise InvalidCalendar(NOT_ICALENDAR)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError):  # icalendar's parser has no error type of its own
        raise InvalidCalendar(NOT_ICALENDAR) from None
    found = [calendar for calendar in calendars if calendar.name == "VCALENDAR"]
    if not found:
        raise InvalidCalendar(NOT_ICALENDAR)
    return found


def busy_from_ics(
    data: bytes | str, start: datetime, end: datetime, *, floating: tzinfo | None = None
) -> list[BusyInterval]:
    """The busy intervals of an iCalendar text overlapping ``[start, end)`` (aware UTC, unclipped, unmerged), under
    the contract of :class:`~oo_app.calendar.sources.CalendarSource`. Times without a zone ("floating") are read on
    ``floating`` (UTC when not given) unless the calendar names one with ``X-WR-TIMEZONE``. A series that
    recurring-ical-events cannot expand is skipped; text that is not iCalendar raises :class:`InvalidCalendar`."""
    start, end = as_utc(start), as_utc(end)
    zone = floating or UTC
    busy: list[BusyInterval] = []
    for calendar in parse_calendars(data):
        try:
            # of() also turns X-WR-TIMEZONE (Google's exports) into proper time zones first.
            occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            raise InvalidCalendar(
                "the calendar has an event oO cannot read: its dates or recurrence are malformed"
            ) from None
        for event in occurrences:
            interval = busy_of_event(event, zone)
            if interval is not None and interval.start < end and interval.end > start:
                busy.append(interval)
    return busy


class IcsSource:
    """A calendar published at a secret ICS (or webcal) address, read whole at each :meth:`busy`.

    ``timeout_s``, ``max_bytes`` and ``allow_private`` default to the settings (``calendar_timeout_s``,
    ``calendar_max_bytes``, ``push_private_endpoints_allowed``)."""

    kind = ICS

    def __init__(
        self,
        address: str,
        *,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
        allow_private: bool | None = None,
    ) -> None:
        self._address = normalize_address(address, webcal=True)
        self._limits = Limits.of(timeout_s, max_bytes, allow_private)

    def __repr__(self) -> str:
        return "IcsSource(<secret address>)"

    def fetch(self) -> bytes:
        """The calendar's iCalendar text. 401/403/404/410 raise :class:`ReauthNeeded` (the address stopped working),
        429 :class:`RateLimited`, 5xx and silences :class:`ProviderUnavailable`; a refused address
        :class:`~oo_app.calendar.outbound.AddressRefused`."""
        with CalendarHttp(self._limits) as http:
            answer = http.request("GET", self._address, {"Accept": "text/calendar, */*;q=0.5"})
        if answer.status in {401, 403, 404, 410}:
            raise ReauthNeeded(ADDRESS_GONE)
        if answer.status == 429:
            raise rate_limited(answer, ICS_SERVER)
        if not 200 <= answer.status < 300:
            raise unavailable(answer, ICS_SERVER)
        return answer.body

    def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """The busy intervals overlapping ``[start, end)``: the whole calendar fetched, then :func:`busy_from_ics`."""
        return busy_from_ics(self.fetch(), start, end)
