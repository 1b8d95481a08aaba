"""iCalendar (RFC 5545) read as busy intervals, and the calendar behind a secret ICS address.

:func:`busy_from_ics` is pure: recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded on each
event's own time zone (``X-WR-TIMEZONE`` honoured) by recurring-ical-events; what an event is called, who attends and
where never leave it. :class:`IcsSource` fetches the address under :mod:`oo_app.calendar.outbound`'s SSRF rules; the
address is the person's secret and appears in no message and no log line.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
from icalendar import Component, vDuration

from agents.busy import BusyInterval
from oo_app.calendar.outbound import CalendarHttp, Limits, host_label, normalize_address, rate_limited, unavailable
from oo_app.calendar.sources import ICS, InvalidCalendar
from oo_app.clock import as_utc
from oo_app.integrations.errors import ReauthNeeded

ADDRESS_GONE = "the address stopped working: copy it again from your calendar"
NOT_ICALENDAR = "the address does not answer an iCalendar (.ics) calendar: copy the calendar's ICS or webcal address"
ICS_SERVER = "the calendar's server"


_FOLD = re.compile(r"\r?\n[ \t]")  # RFC 5545 3.1: a line break followed by a space or tab continues the line
_RECURRING = frozenset({"RRULE", "RDATE", "EXRULE", "RECURRENCE-ID"})
_SLACK = timedelta(days=2)  # wider than any UTC offset (-12 h .. +14 h): a local date never misleads the filter
# What icalendar and recurring-ical-events raise on malformed input (neither has one error type for it).
_MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError)


def _moment(prop: object, floating: tzinfo) -> datetime | None:
    """The aware UTC moment of a DTSTART/DTEND property, or None for a date (an all-day event is not busy) or
    anything else; a floating time is on ``floating``."""
    value = getattr(prop, "dt", None)
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
    start = _moment(event.get("DTSTART"), floating)
    if start is None:
        return None
    duration = getattr(event.get("DURATION"), "dt", None)
    if event.get("DTEND") is not None:
        end = _moment(event["DTEND"], floating)
    elif isinstance(duration, timedelta):
        end = start + duration
    else:
        end = None  # RFC 5545: a DTSTART date-time alone takes up no time
    if end is None or end <= start:
        return None
    return BusyInterval(start, end)


def _property_name(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].strip().upper()


def _date_of(line: str) -> date | None:
    """The date a DTSTART/DTEND line names (its value's first eight digits), or None when it does not read as one."""
    try:
        return datetime.strptime(line.rsplit(":", 1)[-1].strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _near(event: list[str], first: date, last: date) -> bool:
    """Whether a VEVENT's lines may make it busy between the dates ``first`` and ``last`` (when unsure: yes)."""
    found: dict[str, str] = {}
    for line in event[1:-1]:
        name = _property_name(line)
        if name in _RECURRING:
            return True
        found.setdefault(name, line)
    begins = _date_of(found["DTSTART"]) if "DTSTART" in found else None
    if begins is None:
        return True
    if begins > last:
        return False
    if "DTEND" in found:
        ends = _date_of(found["DTEND"])
        return ends is None or ends >= first
    if "DURATION" in found:
        try:
            lasts = vDuration.from_ical(found["DURATION"].rsplit(":", 1)[-1].strip())
        except ValueError:
            return True
        return not isinstance(lasts, timedelta) or begins + lasts + timedelta(days=1) >= first
    return begins >= first


def near_events_only(text: str, start: datetime, end: datetime) -> str:
    """The iCalendar ``text`` without the single (non-recurring) events that end days before ``start`` or begin
    days after ``end``: parsing is most of a read's cost, and a calendar's past is most of its events. Lines are
    unfolded (RFC 5545 3.1); recurring series, their overrides and anything unclear are kept."""
    first, last = (as_utc(start) - _SLACK).date(), (as_utc(end) + _SLACK).date()
    kept: list[str] = []
    event: list[str] | None = None
    for line in _FOLD.sub("", text).split("\n"):
        marker = line.strip().upper()
        if event is None:
            if marker == "BEGIN:VEVENT":
                event = [line]
            else:
                kept.append(line)
            continue
        event.append(line)
        if marker == "END:VEVENT":
            if _near(event, first, last):
                kept.extend(event)
            event = None
    kept.extend(event or [])  # an event left open: the parser judges it
    return "\n".join(kept)


def parse_calendars(data: bytes | str) -> list[icalendar.Calendar]:
    """The VCALENDAR objects of an iCalendar text; :class:`InvalidCalendar` when it is not one."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        raise InvalidCalendar(NOT_ICALENDAR)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except _MALFORMED:
        raise InvalidCalendar(NOT_ICALENDAR) from None
    found = [calendar for calendar in calendars if calendar.name == "VCALENDAR"]
    if not found:
        raise InvalidCalendar(NOT_ICALENDAR)
    return found


def _expand(calendar: icalendar.Calendar, start: datetime, end: datetime) -> list[Component]:
    # of() also turns X-WR-TIMEZONE (Google's exports) into proper time zones first.
    return list(recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end))


def _series(calendar: icalendar.Calendar) -> list[icalendar.Calendar]:
    """The calendar split into one calendar per event series (UID), each with the calendar's properties and zones."""
    zones = [component for component in calendar.subcomponents if component.name == "VTIMEZONE"]
    by_uid: dict[str, list[Component]] = {}
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            by_uid.setdefault(str(component.get("UID", id(component))), []).append(component)
    singles = []
    for events in by_uid.values():
        single = icalendar.Calendar()
        single.update(calendar)
        single.subcomponents = [*zones, *events]
        singles.append(single)
    return singles


def _occurrences(calendar: icalendar.Calendar, start: datetime, end: datetime) -> list[Component]:
    """The event occurrences overlapping ``[start, end)``; when a malformed series breaks the expansion, each series
    is expanded on its own and the broken ones are skipped (one bad event must not hide a whole calendar)."""
    try:
        return _expand(calendar, start, end)
    except _MALFORMED:
        pass
    occurrences: list[Component] = []
    for single in _series(calendar):
        try:
            occurrences.extend(_expand(single, start, end))
        except _MALFORMED:
            continue
    return occurrences


def busy_from_ics(
    data: bytes | str, start: datetime, end: datetime, *, floating: tzinfo | None = None
) -> list[BusyInterval]:
    """The busy intervals of an iCalendar text overlapping ``[start, end)`` (aware UTC, unclipped, unmerged), under
    the contract of :class:`~oo_app.calendar.sources.CalendarSource`. Times without a zone ("floating") are read on
    ``floating`` (UTC when not given) unless the calendar names one with ``X-WR-TIMEZONE``. A series that cannot be
    expanded is skipped; text that is not iCalendar (or that icalendar cannot parse) raises :class:`InvalidCalendar`."""
    start, end = as_utc(start), as_utc(end)
    zone = floating or UTC
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    busy: list[BusyInterval] = []
    for calendar in parse_calendars(near_events_only(text, start, end)):
        for event in _occurrences(calendar, start, end):
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

    @property
    def label(self) -> str:
        """The host the calendar is read from, for ``Integration.label``: never the secret part of the address."""
        return host_label(self._address)

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
