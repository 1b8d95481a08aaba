"""A CalDAV server (RFC 4791) read as busy intervals: every event calendar of the person, one time-range REPORT each.

Contract: the URL may be the server (its well-known CalDAV address is tried when its root is no CalDAV resource),
the person's principal (or calendar home) or one calendar. One calendar is read alone; otherwise the principal and
calendar home are discovered and every calendar that holds events is read. Recurrences are expanded client-side by
:func:`oo_app.calendar.ics.busy_from_ics`. Requests go through :mod:`oo_app.calendar.outbound` (SSRF rules, pinned
addresses, size cap, no logging) with HTTP Basic credentials kept in memory only and never sent to another origin;
nothing of what is read is titled or stored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from agents.busy import BusyInterval
from oo_app.calendar.ics import busy_from_ics
from oo_app.calendar.outbound import (
    AddressRefused,
    Answer,
    CalendarHttp,
    Limits,
    basic_auth,
    host_label,
    rate_limited,
    unavailable,
)
from oo_app.calendar.sources import CALDAV, InvalidCalendar
from oo_app.clock import as_utc
from oo_app.integrations.errors import ReauthNeeded

DAV = "{DAV:}"
CAL = "{urn:ietf:params:xml:ns:caldav}"
WELL_KNOWN = "/.well-known/caldav"
MAX_CALENDARS = 50  # a guard against a home that lists collections without end
SERVER = "the CalDAV server"
NOT_CALDAV = "the address does not answer as a CalDAV server: give the address of your CalDAV server or calendar"
NO_CALENDAR_HOME = "the CalDAV server does not say where your calendars are: give the address of one calendar"

_PROPFIND = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:resourcetype/><d:current-user-principal/><c:calendar-home-set/><c:supported-calendar-component-set/>
  </d:prop>
</d:propfind>"""

_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:time-range start="{start}" end="{end}"/>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"""


@dataclass(frozen=True)
class Resource:
    """One ``<response>`` of a multistatus: its absolute URL and the properties it answered with 200."""

    url: str
    props: dict[str, ElementTree.Element]

    def href(self, tag: str) -> str | None:
        """The absolute URL inside an href-valued property (current-user-principal, calendar-home-set)."""
        found = self.props.get(tag)
        text = found.findtext(f"{DAV}href") if found is not None else None
        return urljoin(self.url, text.strip()) if text and text.strip() else None

    @property
    def is_calendar(self) -> bool:
        kinds = self.props.get(f"{DAV}resourcetype")
        return kinds is not None and kinds.find(f"{CAL}calendar") is not None

    @property
    def holds_events(self) -> bool:
        """RFC 4791 5.2.3: a calendar without supported-calendar-component-set accepts every component."""
        components = self.props.get(f"{CAL}supported-calendar-component-set")
        if components is None:
            return True
        return any(comp.get("name", "").upper() == "VEVENT" for comp in components.iter(f"{CAL}comp"))


def parse_multistatus(body: bytes, base: str) -> list[Resource]:
    """The responses of a 207 Multi-Status body (RFC 4918 13); :class:`InvalidCalendar` when it is not one."""
    try:
        root = ElementTree.fromstring(body)  # expat: no external entity is fetched, entity expansion is bounded
    except ElementTree.ParseError:
        raise InvalidCalendar(NOT_CALDAV) from None
    if root.tag != f"{DAV}multistatus":
        raise InvalidCalendar(NOT_CALDAV)
    resources = []
    for response in root.iter(f"{DAV}response"):
        href = (response.findtext(f"{DAV}href") or "").strip()
        if not href:
            continue
        props: dict[str, ElementTree.Element] = {}
        for propstat in response.iter(f"{DAV}propstat"):
            status = (propstat.findtext(f"{DAV}status") or "").split()
            prop = propstat.find(f"{DAV}prop")
            if len(status) > 1 and status[1] == "200" and prop is not None:
                props.update((child.tag, child) for child in prop)
        resources.append(Resource(urljoin(base, href), props))
    return resources


def _caldav_time(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class CalDavSource:
    """A person's CalDAV account (URL, user name, password) read at each :meth:`busy`.

    ``timeout_s``, ``max_bytes`` and ``allow_private`` default to the settings (``calendar_timeout_s``,
    ``calendar_max_bytes`` per answer, ``push_private_endpoints_allowed``)."""

    kind = CALDAV

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
        allow_private: bool | None = None,
    ) -> None:
        self._url = url.strip()
        self._authorization = basic_auth(username, password)
        self._limits = Limits.of(timeout_s, max_bytes, allow_private)

    @property
    def label(self) -> str:
        """The host the calendar is read from, for ``Integration.label``: never the secret part of the address."""
        return host_label(self._url)

    def __repr__(self) -> str:
        return "CalDavSource(<credentials>)"

    def _http(self) -> CalendarHttp:
        return CalendarHttp(self._limits)

    def _ask(self, http: CalendarHttp, method: str, url: str, depth: int, body: bytes) -> Answer:
        headers = {
            "Authorization": self._authorization,
            "Depth": str(depth),
            "Content-Type": "application/xml; charset=utf-8",
        }
        answer = http.request(method, url, headers, body)
        if answer.status == 401:
            raise ReauthNeeded(f"{SERVER} refuses the user name or password: connect the calendar again")
        if answer.status == 403:
            raise ReauthNeeded(f"{SERVER} refuses oO access to this calendar: connect the calendar again")
        if answer.status in {404, 410}:
            raise ReauthNeeded(f"{SERVER} no longer knows this address: connect the calendar again with its address")
        if answer.status == 429:
            raise rate_limited(answer, SERVER)
        if answer.status >= 500:
            raise unavailable(answer, SERVER)
        if answer.status != 207:
            raise InvalidCalendar(NOT_CALDAV)
        return answer

    def _propfind(self, http: CalendarHttp, url: str, depth: int) -> list[Resource]:
        answer = self._ask(http, "PROPFIND", url, depth, _PROPFIND)
        return parse_multistatus(answer.body, answer.url)

    def _start(self, http: CalendarHttp) -> Resource:
        """What the URL is; a bare server whose root is no CalDAV resource is asked at its well-known address
        (RFC 6764: ``/.well-known/caldav``, usually a redirect to the CalDAV root)."""
        try:
            found = self._propfind(http, self._url, 0)
        except AddressRefused:
            raise
        except InvalidCalendar:
            if urlsplit(self._url).path not in {"", "/"}:
                raise
            found = self._propfind(http, urljoin(self._url, WELL_KNOWN), 0)
        if not found:
            raise InvalidCalendar(NOT_CALDAV)
        return found[0]

    def _calendars(self, http: CalendarHttp) -> list[str]:
        """The URLs of the event calendars to read: the URL itself when it is a calendar, else every event calendar
        of the person's calendar home. :class:`InvalidCalendar` when the server does not lead to one."""
        own = self._start(http)
        if own.is_calendar:
            return [own.url] if own.holds_events else []
        home = own.href(f"{CAL}calendar-home-set")
        principal = own.href(f"{DAV}current-user-principal")
        if home is None and principal is not None:
            answered = self._propfind(http, principal, 0)
            home = answered[0].href(f"{CAL}calendar-home-set") if answered else None
        if home is None:
            raise InvalidCalendar(NO_CALENDAR_HOME)
        members = self._propfind(http, home, 1)
        return [member.url for member in members if member.is_calendar and member.holds_events][:MAX_CALENDARS]

    def _busy_of_calendar(self, http: CalendarHttp, url: str, start: datetime, end: datetime) -> list[BusyInterval]:
        query = _REPORT.format(start=_caldav_time(start), end=_caldav_time(end)).encode()
        busy: list[BusyInterval] = []
        answer = self._ask(http, "REPORT", url, 1, query)
        for resource in parse_multistatus(answer.body, answer.url):
            data = resource.props.get(f"{CAL}calendar-data")
            if data is None or not (data.text or "").strip():
                continue
            try:
                busy.extend(busy_from_ics(data.text or "", start, end))
            except InvalidCalendar:
                continue  # one object the server stored but oO cannot read must not blank the whole calendar
        return busy

    def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """The busy intervals overlapping ``[start, end)`` over every event calendar found (only the URL's own when
        it is a calendar). 401/403/404/410 raise :class:`ReauthNeeded`, 429 :class:`RateLimited`, 5xx and silences
        :class:`ProviderUnavailable`, an answer that is not CalDAV or a refused address :class:`InvalidCalendar`."""
        with self._http() as http:
            busy: list[BusyInterval] = []
            for url in self._calendars(http):
                busy.extend(self._busy_of_calendar(http, url, start, end))
            return busy
