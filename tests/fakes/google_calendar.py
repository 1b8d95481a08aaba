"""A stand-in for Google Calendar: a real HTTP server on 127.0.0.1 speaking the part of Google's contract oO uses.

It follows Google's OAuth 2.0 for Web Server Applications and the Calendar API v3 reference (Events: list, the
"Synchronize resources efficiently" guide, "Handle API errors"):

- ``GET /o/oauth2/v2/auth?client_id&redirect_uri&response_type=code&scope&state&access_type&prompt`` (space-separated
  scopes; ``redirect_uri`` required and exactly the registered one). The person approves at once (or denies:
  :attr:`FakeGoogleCalendar.approve`, or unticks the calendar permission: :attr:`FakeGoogleCalendar.granted_scopes`)
  and is sent back with ``code``, ``scope`` and ``state`` (or ``error=access_denied``). An unknown client or a foreign
  redirect URI is an error page, never a redirect.
- ``POST /token`` (client credentials in the body or with HTTP Basic): ``authorization_code`` answers
  ``{access_token, expires_in: 3599, scope, token_type: "Bearer"}`` plus ``refresh_token`` when
  ``access_type=offline`` and the person consents (the first time, or again with ``prompt=consent``); a code works
  once and only with its ``redirect_uri``. ``refresh_token`` answers a new access token and no new refresh token.
  Refusals: 400 ``invalid_grant`` ("Token has been expired or revoked."), 401 ``invalid_client``.
- ``POST /revoke`` (``token`` in the form body or the query; no client authentication): 200 ``{}``, and the whole
  grant ends (access and refresh tokens); 400 ``invalid_token`` for a token that is unknown, expired or revoked.
- ``GET /calendar/v3/calendars/{primary|<email>}/events``: a bearer token with a calendar scope (401 ``authError``
  without a valid one, 403 ``insufficientPermissions`` without the scope, 404 for another calendar).
  ``singleEvents=true`` expands recurring events (RRULE in the event's ``start.timeZone``) into instances with ids
  ``<id>_<YYYYMMDDTHHMMSSZ>``, ``recurringEventId`` and ``originalStartTime``, overrides and cancelled instances
  applied; ``timeMin`` (exclusive bound on an event's end) and ``timeMax`` (exclusive bound on its start), RFC 3339
  with an offset; ``maxResults`` (default 250, at most 2,500) with ``pageToken``/``nextPageToken``; the last page
  carries ``nextSyncToken``. With ``syncToken``: 400 beside ``timeMin``, ``timeMax``, ``orderBy``, ``q``,
  ``updatedMin``, ``iCalUID`` or ``showDeleted=false``; 410 ``fullSyncRequired`` for a token Google no longer keeps
  (:meth:`FakeGoogleCalendar.expire_sync_tokens`); else only what changed since, deleted events and cancelled
  instances included as ``status: cancelled`` (with their details, as on the organizer's calendar: the person is the
  organizer here). Google does not say whether a token keeps its first request's window; the stand-in answers every
  change, the superset. ``fields`` selects what is returned (a selector of names, ``a/b`` paths and ``a(b,c)``
  sub-selections; an unknown name is 400). ``orderBy=startTime`` needs ``singleEvents=true``. Errors on demand
  (:meth:`FakeGoogleCalendar.fail_next`): 403 ``rateLimitExceeded``, 429 with ``Retry-After``, 5xx.

Every request is recorded (:attr:`FakeGoogleCalendar.seen`) with its query, body and headers; every events.list
answer body is kept (:attr:`FakeGoogleCalendar.answers`) so tests can check what left Google.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from tests.fakes.server import FakeHTTPServer, LoopbackFake

EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events.readonly"
CALENDAR_SCOPES = {
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    EVENTS_SCOPE,
}
KNOWN_SCOPES = CALENDAR_SCOPES | {"openid", "email", "profile"}
DEFAULT_PAGE, MAX_PAGE = 250, 2500
NOT_WITH_SYNC_TOKEN = ("timeMin", "timeMax", "orderBy", "q", "updatedMin", "iCalUID")
LIST_FIELDS = {"kind", "etag", "summary", "description", "updated", "timeZone", "accessRole", "defaultReminders"}
LIST_FIELDS |= {"nextPageToken", "nextSyncToken", "items"}
EVENT_FIELDS = {"kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "description"}
EVENT_FIELDS |= {"location", "creator", "organizer", "start", "end", "endTimeUnspecified", "recurrence"}
EVENT_FIELDS |= {"recurringEventId", "originalStartTime", "transparency", "visibility", "iCalUID", "sequence"}
EVENT_FIELDS |= {"attendees", "reminders", "eventType"}
EXPANSION_LIMIT = 1000  # instances of one series
MESSAGES = {
    401: ("authError", "Invalid Credentials"),
    403: ("rateLimitExceeded", "Rate Limit Exceeded"),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    503: ("backendError", "Backend Error"),
}


def google_error(code: int, reason: str, message: str) -> dict[str, Any]:
    """Google's JSON error body."""
    return {
        "error": {
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": code,
            "message": message,
        }
    }


def rfc3339(moment: datetime) -> str:
    return moment.isoformat()


def _parse_rfc3339(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else None  # Google requires an offset


def parse_fields(spec: str) -> dict[str, Any] | None:
    """``a,b/c,d(e,f)`` as a tree ``{a: {}, b: {c: {}}, d: {e: {}, f: {}}}`` ({} is "all of it"); None if malformed."""
    tree: dict[str, Any] = {}
    stack = [tree]
    name = ""

    def close_name() -> dict[str, Any] | None:
        nonlocal name
        node = None
        if name:
            node = stack[-1]
            for part in name.split("/"):
                node = node.setdefault(part.strip(), {})
        name = ""
        return node

    for char in spec:
        if char == ",":
            close_name()
        elif char == "(":
            node = close_name()
            if node is None:
                return None
            stack.append(node)
        elif char == ")":
            close_name()
            if len(stack) == 1:
                return None
            stack.pop()
        else:
            name += char
    close_name()
    return tree if len(stack) == 1 else None


def select(value: Any, tree: dict[str, Any]) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [select(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: select(value[key], sub) for key, sub in tree.items() if key in value}
    return value


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Grant:
    """What the person granted oO once: its scopes and, when offline access was asked, a refresh token."""

    scope: str
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    value: str
    grant: Grant
    expires_at: float

    def valid(self) -> bool:
        return not self.grant.revoked and time.time() < self.expires_at


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    used: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}

    def _send(self, status: int, payload: Any = None, content_type: str = "application/json", headers=None) -> None:
        data = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, status: int, text: str) -> None:
        self._send(status, f"<html><body><p>{text}</p></body></html>".encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _handle(self, method: str) -> None:
        fake: FakeGoogleCalendar = self.server.fake
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body() if method == "POST" else {}
        fake._record(Seen(method, url.path, query, body, dict(self.headers.items())))
        try:
            if (method, url.path) == ("GET", "/o/oauth2/v2/auth"):
                self._authorize(query)
            elif (method, url.path) == ("POST", "/token"):
                self._token(body)
            elif (method, url.path) == ("POST", "/revoke"):
                self._revoke({**query, **body})
            elif method == "GET" and url.path.startswith("/calendar/v3/calendars/") and url.path.endswith("/events"):
                self._events(unquote(url.path.split("/")[4]), query)
            else:
                self._send(404, google_error(404, "notFound", "Not Found"))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- OAuth ------------------------------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str]) -> None:
        fake: FakeGoogleCalendar = self.server.fake
        if query.get("client_id") != fake.client_id:
            self._page(401, "Error 401: invalid_client. The OAuth client was not found.")
            return
        if query.get("redirect_uri") != fake.redirect_uri:
            self._page(400, "Error 400: redirect_uri_mismatch")
            return
        if query.get("response_type") != "code":
            self._page(400, "Error 400: invalid_request (response_type)")
            return
        state = query.get("state", "")
        back = fake.redirect_uri + "?"
        scopes = query.get("scope", "").split()
        if not scopes or any(scope not in KNOWN_SCOPES for scope in scopes):
            self._redirect(back + urlencode({"error": "invalid_scope", "state": state}))
            return
        if not fake.approve:
            self._redirect(back + urlencode({"error": "access_denied", "state": state}))
            return
        granted = " ".join(fake.granted_scopes if fake.granted_scopes is not None else scopes)
        with fake._lock:
            offline = query.get("access_type") == "offline"
            first = not fake._consented
            fake._consented = True
            refresh = secrets.token_urlsafe(40) if offline and (first or "consent" in query.get("prompt", "")) else None
            code = secrets.token_urlsafe(30)
            fake.codes[code] = Code(Grant(granted, refresh), query["redirect_uri"])
        self._redirect(back + urlencode({"state": state, "code": code, "scope": granted}))

    def _client(self, body: dict[str, str]) -> bool:
        fake: FakeGoogleCalendar = self.server.fake
        client_id, secret = body.get("client_id"), body.get("client_secret")
        header = self.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        return (client_id, secret) == (fake.client_id, fake.client_secret)

    def _token(self, body: dict[str, str]) -> None:
        fake: FakeGoogleCalendar = self.server.fake
        if not self._client(body):
            self._send(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return
        refused = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        with fake._lock:
            if body.get("grant_type") == "authorization_code":
                code = fake.codes.get(body.get("code", ""))
                if code is None or code.used or body.get("redirect_uri") != code.redirect_uri:
                    self._send(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                    return
                code.used = True
                fake.grants.append(code.grant)
                answer = fake._issue(code.grant)
                if code.grant.refresh_token:
                    answer["refresh_token"] = code.grant.refresh_token
            elif body.get("grant_type") == "refresh_token":
                grant = next((g for g in fake.grants if g.refresh_token == body.get("refresh_token")), None)
                if grant is None or grant.revoked:
                    self._send(400, refused)
                    return
                answer = fake._issue(grant)
            else:
                self._send(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
                return
        self._send(200, answer)

    def _revoke(self, params: dict[str, str]) -> None:
        fake: FakeGoogleCalendar = self.server.fake
        if fake.revocation_status is not None:
            self._send(fake.revocation_status, {"error": "internal_failure"})
            return
        value = params.get("token", "")
        with fake._lock:
            grant = next((g for g in fake.grants if value and g.refresh_token == value), None)
            access = fake.access_tokens.get(value)
            if grant is None and access is not None and access.valid():
                grant = access.grant
            if grant is None or grant.revoked:
                self._send(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
                return
            grant.revoked = True
        self._send(200, {})

    # --- Calendar API v3 ----------------------------------------------------------------------------------

    def _authorized(self) -> bool:
        fake: FakeGoogleCalendar = self.server.fake
        header = self.headers.get("Authorization") or ""
        with fake._lock:
            fake.api_requests += 1
            failure = fake._failures.pop(0) if fake._failures else None
            token = fake.access_tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if failure is not None:
            status, reason, retry_after = failure
            default_reason, message = MESSAGES.get(status, ("backendError", "Backend Error"))
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._send(status, google_error(status, reason or default_reason, message), headers=headers)
            return False
        if token is None or not token.valid():
            self._send(401, google_error(401, "authError", "Invalid Credentials"))
            return False
        if not set(token.grant.scope.split()) & CALENDAR_SCOPES:
            self._send(403, google_error(403, "insufficientPermissions", "Insufficient Permission"))
            return False
        return True

    def _bad(self, message: str, reason: str = "invalid") -> None:
        self._send(400, google_error(400, reason, message))

    def _events(self, calendar_id: str, query: dict[str, str]) -> None:
        fake: FakeGoogleCalendar = self.server.fake
        if not self._authorized():
            return
        if calendar_id not in ("primary", fake.email):
            self._send(404, google_error(404, "notFound", "Not Found"))
            return
        tree = parse_fields(query.get("fields", ""))
        if tree is None or not set(tree) <= LIST_FIELDS or not set(tree.get("items", {})) <= EVENT_FIELDS:
            self._bad(f"Invalid field selection {query.get('fields', '')}", "invalidParameter")
            return
        try:
            size = min(int(query.get("maxResults", DEFAULT_PAGE)), MAX_PAGE)
        except ValueError:
            size = 0
        if size < 1:
            self._bad("Invalid value for: maxResults", "invalidParameter")
            return
        single = query.get("singleEvents") == "true"
        if query.get("orderBy") == "startTime" and not single:
            self._bad("The requested ordering is not available for the particular query.")
            return
        with fake._lock:
            if "pageToken" in query:
                cursor = fake._cursors.get(query["pageToken"])
                if cursor is None:
                    self._bad("Invalid page token value.", "invalidParameter")
                    return
                items, version = cursor
            elif "syncToken" in query:
                clash = [name for name in NOT_WITH_SYNC_TOKEN if name in query]
                if clash or query.get("showDeleted") == "false":
                    self._bad(f"Sync token cannot be used with {', '.join(clash) or 'showDeleted=false'}.")
                    return
                if query["syncToken"] not in fake._sync_tokens:
                    message = "Sync token is no longer valid, a full sync is required."
                    self._send(410, google_error(410, "fullSyncRequired", message))
                    return
                version = fake._version
                items = fake._changes(fake._sync_tokens[query["syncToken"]], single)
            else:
                start, end = _parse_rfc3339(query.get("timeMin", "")), _parse_rfc3339(query.get("timeMax", ""))
                if ("timeMin" in query and start is None) or ("timeMax" in query and end is None):
                    self._bad("Bad Request", "badRequest")
                    return
                if start is not None and end is not None and end <= start:
                    self._bad("The specified time range is empty.", "timeRangeEmpty")
                    return
                version = fake._version
                items = fake._listing(start, end, single, query.get("showDeleted") == "true")
            page, rest = items[:size], items[size:]
            answer: dict[str, Any] = {
                "kind": "calendar#events",
                "etag": f'"{version}"',
                "summary": fake.email,
                "updated": rfc3339(datetime.now(UTC)),
                "timeZone": fake.time_zone,
                "accessRole": "owner",
                "defaultReminders": [{"method": "popup", "minutes": 10}],
                "items": page,
            }
            if rest:
                answer["nextPageToken"] = token = secrets.token_urlsafe(24)
                fake._cursors[token] = (rest, version)
            else:
                answer["nextSyncToken"] = token = secrets.token_urlsafe(32)
                fake._sync_tokens[token] = version
            answer = select(answer, tree)
            fake.answers.append(json.dumps(answer))
        self._send(200, answer)


class FakeGoogleCalendar(LoopbackFake):
    """A running stand-in of Google's OAuth endpoints and Calendar API with one registered client and one person.

    ``authorize_url``, ``token_url``, ``revoke_url`` and ``api_url`` are what the ``OO_GOOGLE_*`` settings take.
    Add events with :meth:`add_event` (``recurrence=["RRULE:..."]`` for a series), change them with :meth:`update`,
    :meth:`delete`, :meth:`cancel_instance` and :meth:`move_instance`.
    """

    handler = _Handler
    name = "fake-google-calendar"

    def __init__(
        self,
        client_id: str = "oo-test.apps.googleusercontent.com",
        client_secret: str = "oo-google-secret",
        redirect_uri: str = "https://testserver/integrations/google-calendar/callback",
        time_zone: str = "Europe/Berlin",
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.time_zone = time_zone  # the calendar's zone: all-day events are dates there
        self.email = "person@example.com"
        self.approve = True
        self.granted_scopes: list[str] | None = None  # None: what oO asked; else what the person left ticked
        self.token_lifetime_s = 3599
        self.revocation_status: int | None = None
        self.api_requests = 0
        self.codes: dict[str, Code] = {}
        self.grants: list[Grant] = []
        self.access_tokens: dict[str, AccessToken] = {}
        self.answers: list[str] = []
        self.events: dict[str, dict[str, Any]] = {}  # single events and series, by id (deleted: status cancelled)
        self.exceptions: dict[str, dict[str, Any]] = {}  # overridden or cancelled instances, by instance id
        self._consented = False
        self._seen: list[Seen] = []
        self._lock = threading.RLock()
        self._failures: list[tuple[int, str | None, int | None]] = []
        self._version = 0
        self._changed: dict[str, int] = {}  # event or instance id -> version of its last change
        self._sync_tokens: dict[str, int] = {}
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}

    # --- tokens and errors -----------------------------------------------------------------------------------

    def _issue(self, grant: Grant) -> dict[str, Any]:
        value = "ya29." + secrets.token_urlsafe(40)
        self.access_tokens[value] = AccessToken(value, grant, time.time() + self.token_lifetime_s)
        return {
            "access_token": value,
            "expires_in": self.token_lifetime_s,
            "scope": grant.scope,
            "token_type": "Bearer",
        }

    def is_valid(self, access_token: str) -> bool:
        with self._lock:
            token = self.access_tokens.get(access_token)
            return token is not None and token.valid()

    def expire_access_tokens(self) -> None:
        """Every access token ends before its announced expiry (refresh tokens still work)."""
        with self._lock:
            for token in self.access_tokens.values():
                token.expires_at = time.time() - 1

    def revoke_all_tokens(self) -> None:
        """What a person does by removing oO's access in their Google Account."""
        with self._lock:
            for grant in self.grants:
                grant.revoked = True

    def expire_sync_tokens(self) -> None:
        """Google no longer keeps the sync tokens it gave out: an incremental request is answered 410 Gone."""
        with self._lock:
            self._sync_tokens.clear()

    def fail_next(self, status: int, times: int = 1, reason: str | None = None, retry_after: int | None = None):
        """The next ``times`` API requests are answered ``status`` (with Google's ``reason`` and ``Retry-After``)."""
        with self._lock:
            self._failures.extend([(status, reason, retry_after)] * times)

    # --- events -------------------------------------------------------------------------------------------------

    def _touch(self, key: str) -> None:
        self._version += 1
        self._changed[key] = self._version

    def add_event(
        self,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        transparent: bool = False,
        recurrence: list[str] | None = None,
        status: str = "confirmed",
        description: str = "",
        location: str = "",
        attendees: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """An event (``date`` bounds: all-day); ``start``/``end`` of a ``datetime`` carry their zone."""
        event_id = secrets.token_hex(13)
        now = rfc3339(datetime.now(UTC))
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{secrets.token_hex(8)}"',
            "id": event_id,
            "status": status,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": now,
            "updated": now,
            "summary": summary,
            "description": description,
            "location": location,
            "creator": {"email": self.email, "self": True},
            "organizer": {"email": self.email, "self": True},
            "start": self._when(start),
            "end": self._when(end),
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "attendees": [{"email": email, "responseStatus": "needsAction"} for email in attendees],
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        if transparent:
            event["transparency"] = "transparent"
        if recurrence:
            event["recurrence"] = list(recurrence)
        with self._lock:
            self.events[event_id] = event
            self._touch(event_id)
        return event

    def _when(self, moment: datetime | date) -> dict[str, str]:
        if not isinstance(moment, datetime):
            return {"date": moment.isoformat()}
        zone = getattr(moment.tzinfo, "key", None) or "UTC"
        return {"dateTime": rfc3339(moment), "timeZone": zone}

    def update(self, event: dict[str, Any], start: datetime | None = None, end: datetime | None = None, **changes):
        """Change an event or a whole series (new times, ``transparency``, ``summary`` ...)."""
        with self._lock:
            if "recurrence" in event and start is not None:  # the old instances end, as cancelled ones
                for instance in self._instances(event):
                    self.exceptions[instance["id"]] = {**instance, "status": "cancelled"}
                    self._touch(instance["id"])
            if start is not None:
                event["start"] = self._when(start)
            if end is not None:
                event["end"] = self._when(end)
            event.update(changes, updated=rfc3339(datetime.now(UTC)), sequence=event["sequence"] + 1)
            self._touch(event["id"])

    def delete(self, event: dict[str, Any]) -> None:
        """Delete an event or a whole series: Google keeps it as ``cancelled`` for incremental syncs."""
        self.update(event, status="cancelled")

    def instance_id(self, series: dict[str, Any], original_start: datetime) -> str:
        return f"{series['id']}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"

    def cancel_instance(self, series: dict[str, Any], original_start: datetime) -> None:
        """Delete one occurrence of a series (what an EXDATE is in iCalendar)."""
        self._override(series, original_start, status="cancelled")

    def move_instance(self, series: dict[str, Any], original_start: datetime, start: datetime, end: datetime) -> None:
        self._override(series, original_start, start=self._when(start), end=self._when(end))

    def _override(self, series: dict[str, Any], original_start: datetime, **changes: Any) -> None:
        key = self.instance_id(series, original_start)
        with self._lock:
            base = self.exceptions.get(key) or self._instance(series, original_start)
            self.exceptions[key] = {**base, **changes, "updated": rfc3339(datetime.now(UTC))}
            self._touch(key)

    # --- expansion ----------------------------------------------------------------------------------------------

    def _instance(self, series: dict[str, Any], original_start: datetime) -> dict[str, Any]:
        start = datetime.fromisoformat(series["start"]["dateTime"])
        length = datetime.fromisoformat(series["end"]["dateTime"]) - start
        zone = series["start"]["timeZone"]
        instance = {key: value for key, value in series.items() if key != "recurrence"}
        instance.update(
            id=self.instance_id(series, original_start),
            recurringEventId=series["id"],
            originalStartTime={"dateTime": rfc3339(original_start), "timeZone": zone},
            start={"dateTime": rfc3339(original_start), "timeZone": zone},
            end={
                "dateTime": rfc3339((original_start.astimezone(UTC) + length).astimezone(original_start.tzinfo)),
                "timeZone": zone,
            },
        )
        return instance

    def _occurrences(self, series: dict[str, Any]) -> list[datetime]:
        zone = ZoneInfo(series["start"]["timeZone"])
        first = datetime.fromisoformat(series["start"]["dateTime"]).astimezone(zone)
        rule = rrulestr("\n".join(series["recurrence"]), dtstart=first, forceset=True)
        until = datetime.now(UTC) + timedelta(days=400)
        found = []
        for moment in rule:
            if moment > until or len(found) >= EXPANSION_LIMIT:
                break
            found.append(moment)
        return found

    def _instances(self, series: dict[str, Any]) -> list[dict[str, Any]]:
        """Every instance of a series as singleEvents shows it, overrides applied (cancelled ones kept)."""
        instances = []
        for moment in self._occurrences(series):
            key = self.instance_id(series, moment)
            instance = self.exceptions.get(key) or self._instance(series, moment)
            if series["status"] == "cancelled":
                instance = {**instance, "status": "cancelled"}
            instances.append(instance)
        return instances

    def _bounds(self, event: dict[str, Any]) -> tuple[datetime, datetime]:
        def moment(when: dict[str, str]) -> datetime:
            if "dateTime" in when:
                return datetime.fromisoformat(when["dateTime"])
            return datetime.combine(date.fromisoformat(when["date"]), datetime.min.time(), ZoneInfo(self.time_zone))

        return moment(event["start"]), moment(event["end"])

    def _expanded(self, single: bool) -> list[tuple[dict[str, Any], int]]:
        """Every event as the request sees it, with the version of its last change."""
        found: list[tuple[dict[str, Any], int]] = []
        for event in self.events.values():
            if "recurrence" not in event:
                found.append((event, self._changed[event["id"]]))
            elif single:
                base = self._changed[event["id"]]
                instances = self._instances(event)
                found.extend((i, max(base, self._changed.get(i["id"], 0))) for i in instances)
                ids = {instance["id"] for instance in instances}
                found.extend(  # instances the series no longer has (its times changed): cancelled
                    (e, self._changed[k])
                    for k, e in self.exceptions.items()
                    if k.startswith(event["id"] + "_") and k not in ids
                )
            else:
                found.append((event, self._changed[event["id"]]))
                found.extend((e, self._changed[k]) for k, e in self.exceptions.items() if k.startswith(event["id"]))
        return found

    def _listing(self, start: datetime | None, end: datetime | None, single: bool, deleted: bool) -> list[dict]:
        items = []
        for event, _ in self._expanded(single):
            if event["status"] == "cancelled" and not deleted:
                continue
            first, last = self._bounds(event)
            if (start is None or last > start) and (end is None or first < end):
                items.append(dict(event))
        return sorted(items, key=lambda event: self._bounds(event)[0])

    def _changes(self, since: int, single: bool) -> list[dict[str, Any]]:
        items = []
        for event, version in self._expanded(single):
            if version > since:
                items.append(dict(event))  # on the organizer's calendar a cancelled event keeps its details
        return items

    # --- server -----------------------------------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revoke_url(self) -> str:
        return f"{self.base_url}/revoke"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/calendar/v3"

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)
