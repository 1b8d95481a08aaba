"""Google Calendar API v3 as oO reads it: busy instances of the primary calendar from events.list (httpx).

Every request asks ``singleEvents=true`` (recurrences expanded by Google) and, through ``fields=``, only each event's
id, status, start, end and transparency: never a title, a description, an attendee or a place. Answers become domain
errors: 401 :class:`TokenRefused` (one refresh, one more try), 403 for a missing permission :class:`ReauthNeeded`,
403/429 for a rate :class:`RateLimited`, 410 Gone (or 400) to a sync token :class:`SyncTokenRejected` (a full sync
follows), anything else :class:`ProviderUnavailable`. Nothing here reads or writes the database.

In-memory state of the incremental sync (one :class:`Mirror` per integration id, in this process only, bounded LRU):
the busy intervals by event instance id over the window the last full sync read (the asked window plus
:data:`WINDOW_SLACK`), and the sync token that state is current at. A later read sends that token (and no
timeMin/timeMax/orderBy/q/updatedMin/iCalUID: Google answers 400 to them beside a token) and applies what changed,
cancelled instances included: an instance that is busy and overlaps the window is set, any other (cancelled, free,
all-day, moved out of the window) is dropped. Each complete read hands the new token to ``save_sync_token`` (stored
encrypted in ``integrations.sync_token_enc``); that stored token is the version of the state. A read is a full sync of
the asked window when this process holds no mirror (a restart, another worker), when the stored token is not the
mirror's (another process or a reconnection synced since), when the asked window leaves the mirror's, or when Google
answers 410 Gone to the token (the token is dropped). Google does not say whether a token keeps its first request's
window; applying changes against the mirror's own window is right either way, and the window slides at least daily.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from agents.busy import BusyInterval
from oo_app.calendar.sources import GOOGLE
from oo_app.integrations.errors import (
    ProviderUnavailable,
    RateLimited,
    ReauthNeeded,
    SyncTokenRejected,
    TokenRefused,
)

log = logging.getLogger(__name__)

EVENTS_PATH = "calendars/primary/events"
FIELDS = "items(id,status,start,end,transparency),nextPageToken,nextSyncToken"
PAGE_SIZE = 250  # Google's default page; it allows up to 2,500
MAX_PAGES = 40  # a guard against a page token that never ends
WINDOW_SLACK = timedelta(hours=24)  # a full sync reads this much past the asked end, so the next ones stay incremental
MAX_MIRRORS = 10_000
RECONNECT = "reconnect Google Calendar from the settings page"
# Google's 403 reasons that mean "slow down", not "no access" (Calendar API: Handle API errors).
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}


# --- the in-memory mirror ----------------------------------------------------------------------------------------


@dataclass
class Mirror:
    """The busy instances of one connection's primary calendar over ``[start, end)``, current at ``sync_token``."""

    sync_token: str = field(repr=False)
    start: datetime
    end: datetime
    busy: dict[str, BusyInterval]

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end


_mirrors: OrderedDict[int, Mirror] = OrderedDict()
_lock = threading.Lock()


def _mirror(key: int) -> Mirror | None:
    with _lock:
        mirror = _mirrors.get(key)
        if mirror is not None:
            _mirrors.move_to_end(key)
        return mirror


def _keep(key: int, mirror: Mirror) -> None:
    with _lock:
        _mirrors[key] = mirror
        _mirrors.move_to_end(key)
        while len(_mirrors) > MAX_MIRRORS:
            _mirrors.popitem(last=False)


def forget(integration_id: int | None) -> None:
    """Drop what this process holds of an integration's calendar (on disconnect)."""
    with _lock:
        _mirrors.pop(integration_id or 0, None)


# --- events -------------------------------------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    """An event's ``start``/``end`` as aware UTC; None for an all-day one (``date``) or an unreadable one."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        moment = datetime.fromisoformat(value["dateTime"])
        if moment.tzinfo is None:  # Google gives an offset; a zone name is the fallback it documents
            moment = moment.replace(tzinfo=ZoneInfo(str(value.get("timeZone") or "UTC")))
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return moment.astimezone(UTC)


def busy_interval(event: dict[str, Any]) -> BusyInterval | None:
    """The busy stretch of one event instance; None when it is cancelled, free (transparent), all-day or malformed."""
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return None
    start, end = _moment(event.get("start")), _moment(event.get("end"))
    if start is None or end is None or end <= start:
        return None
    return BusyInterval(start, end)


def _apply(busy: dict[str, BusyInterval], events: list[dict[str, Any]], start: datetime, end: datetime) -> None:
    for event in events:
        event_id = event.get("id")
        if not isinstance(event_id, str):
            continue
        interval = busy_interval(event)
        if interval is not None and interval.end > start and interval.start < end:
            busy[event_id] = interval
        else:
            busy.pop(event_id, None)


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the API ------------------------------------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (``SSL_CERT_FILE`` honoured), built once per process rather than once per read:
    loading the CAs costs more than a read that finds nothing changed."""
    return httpx.create_ssl_context()


def _reason(response: httpx.Response) -> str:
    """The ``reason`` of Google's error body (``{"error": {"errors": [{"reason": ...}]}}``), or ``""``."""
    try:
        errors = response.json()["error"]["errors"]
        return str(errors[0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def check_answer(response: httpx.Response, incremental: bool) -> dict[str, Any]:
    """The JSON object of a 200 answer of events.list, or the domain error its status means."""
    status, reason = response.status_code, _reason(response)
    if status == 401:
        raise TokenRefused(f"Google Calendar no longer accepts oO's access; {RECONNECT}")
    if status == 429 or (status == 403 and reason in RATE_REASONS):
        raise RateLimited("Google Calendar asked oO to slow down; oO tries again later", _retry_after(response))
    if status == 403:
        raise ReauthNeeded(f"Google Calendar refuses oO's access ({reason or 'forbidden'}); {RECONNECT}")
    if incremental and status in (400, 410):  # 410 fullSyncRequired; 400 a token Google cannot read
        raise SyncTokenRejected("Google Calendar no longer accepts the sync token; oO reads the calendar again")
    if status != 200:
        raise ProviderUnavailable(f"Google Calendar answered HTTP {status}; oO tries again later")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
        raise ProviderUnavailable("Google Calendar answered with something that is not its list of events")
    return body


class GoogleCalendarSource:
    """The busy times of one person's primary Google Calendar (a :class:`~oo_app.calendar.sources.CalendarSource`).

    ``refresh`` gives a new access token after a 401 (or raises :class:`ReauthNeeded`); ``stored_sync_token`` is the
    token of ``integrations.sync_token_enc`` and ``save_sync_token`` stores the new one after each complete read.
    """

    kind = GOOGLE

    def __init__(
        self,
        api_url: str,
        access_token: str,
        timeout_s: float,
        key: int,
        stored_sync_token: str | None = None,
        save_sync_token: Callable[[str], None] | None = None,
        refresh: Callable[[], str] | None = None,
    ) -> None:
        self._api_url = api_url.rstrip("/") + "/"
        self._access_token = access_token
        self._timeout_s = timeout_s
        self._key = key
        self._stored_sync_token = stored_sync_token
        self._save_sync_token = save_sync_token
        self._refresh = refresh

    def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """The busy instances overlapping ``[start, end)``: incremental when this process holds the current state."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        mirror = _mirror(self._key)
        if mirror is not None and (mirror.sync_token != self._stored_sync_token or not mirror.covers(start, end)):
            mirror = None
        if mirror is not None:
            try:
                events, token = self._read({"syncToken": mirror.sync_token})
            except SyncTokenRejected:
                log.info("google calendar: a sync token was refused; reading the window again")
                mirror = None
            else:
                busy = dict(mirror.busy)
                _apply(busy, events, mirror.start, mirror.end)
                mirror = Mirror(token, mirror.start, mirror.end, busy)
        if mirror is None:
            until = end + WINDOW_SLACK
            events, token = self._read({"timeMin": api_time(start), "timeMax": api_time(until)})
            busy = {}
            _apply(busy, events, start, until)
            mirror = Mirror(token, start, until, busy)
        _keep(self._key, mirror)
        self._stored_sync_token = token
        if self._save_sync_token is not None:
            self._save_sync_token(token)
        return sorted(interval for interval in mirror.busy.values() if interval.end > start and interval.start < end)

    def _read(self, params: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        """Every page of one events.list, and the sync token of its last page; one refresh on a 401."""
        try:
            return self._pages(params)
        except TokenRefused:
            if self._refresh is None:
                raise
            self._access_token = self._refresh()
            return self._pages(params)

    def _pages(self, params: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        events: list[dict[str, Any]] = []
        query = {**params, "singleEvents": "true", "maxResults": str(PAGE_SIZE), "fields": FIELDS}
        incremental = "syncToken" in params
        with httpx.Client(
            base_url=self._api_url,
            headers={"Authorization": f"Bearer {self._access_token}"},
            timeout=httpx.Timeout(self._timeout_s),
            verify=_tls_context(),
        ) as client:
            for _ in range(MAX_PAGES):
                try:
                    response = client.get(EVENTS_PATH, params=query)
                except httpx.HTTPError as error:
                    raise ProviderUnavailable(
                        f"Google Calendar did not answer ({type(error).__name__}); oO tries again later"
                    ) from None
                page = check_answer(response, incremental)
                events.extend(item for item in page.get("items", []) if isinstance(item, dict))
                if isinstance(page.get("nextPageToken"), str) and page["nextPageToken"]:
                    query["pageToken"] = page["nextPageToken"]
                    continue
                token = page.get("nextSyncToken")
                if not isinstance(token, str) or not token:
                    raise ProviderUnavailable("Google Calendar ended its list of events without a sync token")
                return events, token
        raise ProviderUnavailable(f"Google Calendar kept paginating past {MAX_PAGES} pages")
