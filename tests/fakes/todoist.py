"""A stand-in for Todoist: a real HTTP server on 127.0.0.1 speaking the part of Todoist's public contract oO uses.

It follows Todoist's API v1 reference (developer.todoist.com/api/v1, sections Authorization, Projects, Tasks) and
Doist's own SDKs (todoist-api-python, todoist-api-typescript), which encode that contract:

- ``GET /oauth/authorize?client_id&scope&state`` (comma-separated scopes; ``redirect_uri`` optional, and then it
  must be the one registered for the app). The person approves at once (or denies: :attr:`FakeTodoist.approve`),
  and is sent back to the registered redirect URL with ``code`` and ``state`` (or ``error=access_denied``). An
  unknown client or a foreign redirect URI is answered with an error page, never a redirect (RFC 6749, 4.1.2.1).
- ``POST /oauth/access_token`` with ``client_id``, ``client_secret``, ``code`` (form or JSON body): ``{"access_token",
  "token_type": "Bearer"}``. A code works once. Todoist's tokens do not expire and come without a refresh token;
  :attr:`FakeTodoist.token_lifetime_s` turns the stand-in into a *generic* provider that adds ``expires_in`` and
  ``refresh_token`` (not Todoist's contract) to test oO's refresh path.
- ``POST /api/v1/revoke`` (RFC 7009: HTTP Basic client credentials, ``token`` and ``token_type_hint``) and the older
  ``DELETE /api/v1/access_tokens?client_id&client_secret&access_token``.
- ``GET /api/v1/projects``, ``/api/v1/projects/archived`` and ``/api/v1/tasks`` (``{"results": [...],
  "next_cursor"}``), ``GET /api/v1/tasks/completed/by_completion_date?since&until`` (``{"items": [...],
  "next_cursor"}``, at most three months per request). Pages hold ``limit`` items (default 50, at most 200).
  A bearer token is required: 401 for an unknown, revoked or expired one, 403 without a read scope.
- ``POST /api/v1/sync`` (form fields ``sync_token``, ``*`` for everything, and ``resource_types``, a JSON list):
  ``{"sync_token", "full_sync", "temp_id_mapping", <resource>: [...]}``. A full sync returns the open items, every
  project and the ``user``; an incremental one the items and projects changed since the token, completed items with
  ``checked: true`` and ``completed_at``, deleted ones with ``is_deleted: true``. A token Todoist no longer knows
  (:meth:`FakeTodoist.forget_sync_tokens`) is refused with 400.
- Errors as Todoist sends them (:meth:`FakeTodoist.fail_next`): 429 with ``Retry-After`` (seconds), 5xx, 401, 403;
  and a slow Todoist (:attr:`FakeTodoist.delay_s`): every API v1 answer comes that late.
- Webhooks (:meth:`FakeTodoist.webhook_delivery`): the JSON body Todoist POSTs (``event_name``, ``user_id``,
  ``event_data``, ``initiator``, ``version``), signed in ``X-Todoist-Hmac-SHA256`` (base64 HMAC-SHA256 of the body
  under the client secret), with a unique ``X-Todoist-Delivery-ID``.

Every request is recorded (:attr:`FakeTodoist.seen`) with its headers and body. One handler method per endpoint: a
new endpoint is a method and a line in ``_handle``'s table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.server import FakeHTTPServer, LoopbackFake

SCOPES = {"task:add", "data:read", "data:read_write", "data:delete", "project:delete", "backups:read"}
READ_SCOPES = {"data:read", "data:read_write", "data:delete"}
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
ERRORS = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def _invalid(argument: str) -> dict[str, Any]:
    """Todoist's answer to a bad argument (HTTP 400)."""
    return {
        "error": "Invalid argument value",
        "error_code": 20,
        "error_extra": {"argument": argument},
        "error_tag": "INVALID_ARGUMENT_VALUE",
        "http_code": 400,
    }


def todoist_id() -> str:
    """An id shaped like Todoist's v1 ids (16 letters and digits)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))


def api_time(moment: datetime) -> str:
    """Todoist's timestamp format: UTC with microseconds, ``2024-02-13T10:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _plus_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Seen:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Grant:
    code: str
    scope: str
    redirect_uri: str | None
    used: bool = False


@dataclass
class Token:
    access_token: str
    scope: str
    refresh_token: str | None = None
    expires_at: float | None = None
    revoked: bool = False

    def valid(self) -> bool:
        return not self.revoked and (self.expires_at is None or time.time() < self.expires_at)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests assert on FakeTodoist.seen instead
        return

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _body(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                data = json.loads(raw)
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}

    def _send(
        self, status: int, payload: Any = None, content_type: str = "application/json", headers: dict | None = None
    ) -> None:
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
        fake = self.server.fake
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body() if method in ("POST", "DELETE") else {}
        fake._record(Seen(method, url.path, query, body, dict(self.headers.items())))
        route = {
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/access_token"): self._access_token,
            ("POST", "/api/v1/revoke"): self._revoke,
            ("DELETE", "/api/v1/access_tokens"): self._delete_access_token,
            ("GET", "/api/v1/projects"): lambda q, b: self._list(q, fake.projects, "results"),
            ("GET", "/api/v1/projects/archived"): lambda q, b: self._list(q, fake.archived_projects, "results"),
            ("GET", "/api/v1/tasks"): lambda q, b: self._list(q, fake.tasks, "results"),
            ("GET", "/api/v1/tasks/completed/by_completion_date"): self._completed,
            ("POST", "/api/v1/sync"): self._sync,
        }.get((method, url.path))
        try:
            if route is None:
                self._send(404, {"error": "Not found"})
            else:
                route(query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- OAuth ------------------------------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str], body: dict[str, str]) -> None:
        fake = self.server.fake
        if query.get("client_id") != fake.client_id:
            self._page(400, "Invalid client_id: no app is registered with it.")
            return
        if "redirect_uri" in query and query["redirect_uri"] != fake.redirect_uri:
            self._page(400, "The redirect_uri does not match the app's OAuth redirect URL.")
            return
        if query.get("response_type", "code") != "code":
            self._page(400, "Unsupported response_type.")
            return
        state = query.get("state")
        if not state:
            self._page(400, "The state parameter is required.")
            return
        back = fake.redirect_uri + ("&" if "?" in fake.redirect_uri else "?")
        scopes = [s for s in query.get("scope", "").split(",") if s]
        if not scopes or any(scope not in SCOPES for scope in scopes):
            self._redirect(back + urlencode({"error": "invalid_scope", "state": state}))
            return
        if not fake.approve:
            self._redirect(back + urlencode({"error": "access_denied", "state": state}))
            return
        code = secrets.token_hex(20)
        with fake._lock:
            fake.grants[code] = Grant(code, ",".join(scopes), query.get("redirect_uri"))
        self._redirect(back + urlencode({"code": code, "state": state}))

    def _client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        fake = self.server.fake
        return client_id == fake.client_id and client_secret == fake.client_secret

    def _basic_credentials(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None, None
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return client_id, secret

    def _access_token(self, query: dict[str, str], body: dict[str, str]) -> None:
        fake = self.server.fake
        if not self._client_ok(body.get("client_id"), body.get("client_secret")):
            self._send(401, {"error": "invalid_client"})
            return
        grant_type = body.get("grant_type", "authorization_code")
        if grant_type == "refresh_token":
            self._refresh(body)
            return
        if grant_type != "authorization_code":
            self._send(400, {"error": "unsupported_grant_type"})
            return
        with fake._lock:
            grant = fake.grants.get(body.get("code", ""))
            if grant is None or grant.used:
                self._send(400, {"error": "invalid_grant"})
                return
            if grant.redirect_uri is not None and body.get("redirect_uri") != grant.redirect_uri:
                self._send(400, {"error": "invalid_grant"})
                return
            grant.used = True
            token = fake._issue(grant.scope)
        self._send(200, fake._token_body(token))

    def _refresh(self, body: dict[str, str]) -> None:
        fake = self.server.fake
        with fake._lock:
            old = next(
                (t for t in fake.issued if t.refresh_token and t.refresh_token == body.get("refresh_token")), None
            )
            if fake.token_lifetime_s is None or old is None or old.revoked:
                self._send(400, {"error": "invalid_grant"})
                return
            old.revoked = True  # the refresh token rotates: the old one and its access token end here
            token = fake._issue(old.scope)
        self._send(200, fake._token_body(token))

    def _revoke(self, query: dict[str, str], body: dict[str, str]) -> None:
        fake = self.server.fake
        client_id, secret = self._basic_credentials()
        if client_id is None:
            client_id, secret = body.get("client_id"), body.get("client_secret")
        if not self._client_ok(client_id, secret):
            self._send(401, {"error": "invalid_client"})
            return
        if fake.revocation_status is not None:
            self._send(fake.revocation_status, {"error": "Service unavailable"})
            return
        if not body.get("token"):
            self._send(400, {"error": "invalid_request"})
            return
        fake.revoke(body["token"])
        self._send(200)  # RFC 7009: 200 for an unknown token too

    def _delete_access_token(self, query: dict[str, str], body: dict[str, str]) -> None:
        fake = self.server.fake
        if not self._client_ok(query.get("client_id"), query.get("client_secret")):
            self._send(401, {"error": "invalid_client"})
            return
        fake.revoke(query.get("access_token", ""))
        self._send(204)

    # --- API v1 -----------------------------------------------------------------------------------------------

    def _authorized(self) -> bool:
        """Checks the bearer token and its scope, answering 401/403 when it fails."""
        fake = self.server.fake
        header = self.headers.get("Authorization") or ""
        with fake._lock:
            fake.api_requests += 1
            failure = fake._failures.pop(0) if fake._failures else None
            delay_s = fake.delay_s
        if delay_s:
            time.sleep(delay_s)  # a slow Todoist: the answer comes, late
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._send(
                status, {"error": ERRORS.get(status, "Service unavailable"), "http_code": status}, headers=headers
            )
            return False
        with fake._lock:
            if fake.revoke_after_requests is not None and fake.api_requests > fake.revoke_after_requests:
                for token in fake.issued:
                    token.revoked = True
            token = fake.token(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
            if token is None or not token.valid():
                self._send(401, {"error": "Unauthorized"})
                return False
            if not set(token.scope.split(",")) & READ_SCOPES:
                self._send(403, {"error": "Forbidden: missing scope data:read"})
                return False
        return True

    def _page_of(self, query: dict[str, str], items: list[dict[str, Any]], field: str, key: str) -> None:
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
            offset = int(base64.urlsafe_b64decode(query["cursor"]).decode().split(":")[1]) if query.get("cursor") else 0
        except (ValueError, IndexError, binascii.Error):
            self._send(400, {"error": "Invalid argument value", "error_extra": {"argument": "cursor or limit"}})
            return
        if not 1 <= limit <= MAX_LIMIT:
            self._send(400, {"error": "Invalid argument value", "error_extra": {"argument": "limit"}})
            return
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        cursor = base64.urlsafe_b64encode(f"{key}:{offset + limit}".encode()).decode() if more else None
        self._send(200, {field: page, "next_cursor": cursor})

    def _list(self, query: dict[str, str], items: list[dict[str, Any]], field: str) -> None:
        if self._authorized():
            with self.server.fake._lock:
                snapshot = list(items)
            self._page_of(query, snapshot, field, "list")

    def _completed(self, query: dict[str, str], body: dict[str, str]) -> None:
        if not self._authorized():
            return
        since, until = _parse_time(query.get("since", "")), _parse_time(query.get("until", ""))
        if since is None or until is None or until < since:
            self._send(400, {"error": "Invalid argument value", "error_extra": {"argument": "since/until"}})
            return
        if until.date() > _plus_months(since.date(), 3):
            self._send(400, {"error": "The date range can span at most 3 months"})
            return
        with self.server.fake._lock:
            done = [
                task
                for task in self.server.fake.completed_tasks
                if since <= datetime.fromisoformat(task["completed_at"]) <= until
            ]
        done.sort(key=lambda task: task["completed_at"], reverse=True)
        self._page_of(query, done, "items", "completed")

    def _sync(self, query: dict[str, str], body: dict[str, str]) -> None:
        if not self._authorized():
            return
        fake = self.server.fake
        try:
            resources = set(json.loads(body.get("resource_types", "[]")))
        except ValueError:
            resources = set()
        if not resources:
            self._send(400, _invalid("resource_types"))
            return
        if "all" in resources:
            resources = {"items", "projects", "user"}
        token = body.get("sync_token", "")
        with fake._lock:
            if token == "*":
                since = None
            elif token in fake._sync_tokens:
                since = fake._sync_tokens[token]
            else:
                self._send(400, _invalid("sync_token"))
                return
            answer: dict[str, Any] = {"full_sync": since is None, "temp_id_mapping": {}}
            if "items" in resources:
                if since is None:  # everything open; completed tasks are not part of a full sync
                    answer["items"] = [dict(task) for task in fake.tasks if not task["is_deleted"]]
                else:
                    tasks = fake.tasks + fake.completed_tasks
                    answer["items"] = [dict(task) for task in tasks if fake._changed_at[id(task)] > since]
            if "projects" in resources:
                projects = fake.projects + fake.archived_projects
                answer["projects"] = [
                    dict(project) for project in projects if since is None or fake._changed_at[id(project)] > since
                ]
            if "user" in resources and since is None:
                answer["user"] = fake.user()
            answer["sync_token"] = fake._new_sync_token()
        self._send(200, answer)


class FakeTodoist(LoopbackFake):
    """A running stand-in of Todoist with one registered app; use it as a context manager.

    ``oauth_url`` and ``api_url`` are what ``OO_TODOIST_OAUTH_URL`` and ``OO_TODOIST_API_URL`` take. Add data with
    :meth:`add_project` and :meth:`add_completed`; :attr:`seen` lists the requests in arrival order.
    """

    handler = _Handler
    name = "fake-todoist"

    def __init__(
        self,
        client_id: str = "oo-test-client",
        client_secret: str = "oo-test-secret",
        redirect_uri: str = "http://testserver/integrations/todoist/callback",
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.approve = True  # the person's answer on Todoist's consent screen
        self.token_lifetime_s: int | None = None  # None is Todoist's contract: no expiry, no refresh token
        self.revocation_status: int | None = None  # answer revocations with this status (an outage) when set
        self.revoke_after_requests: int | None = None  # the person revokes oO's access after N API requests
        self.api_requests = 0
        self.delay_s = 0.0  # every API v1 request is answered this many seconds late (a slow Todoist)
        self.projects: list[dict[str, Any]] = []
        self.archived_projects: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.completed_tasks: list[dict[str, Any]] = []
        self.grants: dict[str, Grant] = {}
        self.issued: list[Token] = []
        self.user_id = "2671355"  # the person's Todoist user id, as the Sync API's ``user`` and webhooks name it
        self._seen: list[Seen] = []
        self._lock = threading.RLock()
        self._failures: list[tuple[int, int | None]] = []
        self._version = 0  # Todoist's change counter: a sync token stands for one value of it
        self._changed_at: dict[int, int] = {}  # id() of a project or task -> version of its last change
        self._sync_tokens: dict[str, int] = {}

    # --- changes and errors -----------------------------------------------------------------------------------

    def _touch(self, thing: dict[str, Any]) -> None:
        with self._lock:
            self._version += 1
            self._changed_at[id(thing)] = self._version

    def _new_sync_token(self) -> str:
        token = secrets.token_urlsafe(48)
        self._sync_tokens[token] = self._version
        return token

    def forget_sync_tokens(self) -> None:
        """Todoist no longer knows the tokens it gave out: an incremental sync is refused (400)."""
        with self._lock:
            self._sync_tokens.clear()

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` API v1 requests are answered ``status`` (429 with ``Retry-After`` when given)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def expire_access_tokens(self) -> None:
        """Todoist ends every access token before the expiry it announced (the refresh tokens still work)."""
        with self._lock:
            for token in self.issued:
                token.expires_at = time.time() - 1

    def user(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "email": "person@example.com",
            "full_name": "A Person",
            "tz_info": {"timezone": "Europe/Berlin", "gmt_string": "+01:00", "hours": 1, "minutes": 0},
            "inbox_project_id": self.projects[0]["id"] if self.projects else None,
        }

    def webhook_delivery(
        self, event_name: str, item: dict[str, Any], delivery_id: str | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a webhook POST as Todoist sends it, signed with the client secret (or ``secret``)."""
        body = json.dumps(
            {
                "event_name": event_name,
                "user_id": self.user_id,
                "event_data": item,
                "initiator": {"id": self.user_id, "email": "person@example.com", "full_name": "A Person"},
                "version": "10",
            }
        ).encode()
        key = (secret if secret is not None else self.client_secret).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Todoist-Webhooks",
            "X-Todoist-Hmac-SHA256": base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode(),
            "X-Todoist-Delivery-ID": delivery_id or secrets.token_hex(16),
        }
        return body, headers

    # --- data -------------------------------------------------------------------------------------------------

    def add_project(self, name: str, archived: bool = False, inbox: bool = False) -> dict[str, Any]:
        now = api_time(datetime.now(UTC))
        project = {
            "id": todoist_id(),
            "name": name,
            "description": "",
            "parent_id": None,
            "folder_id": None,
            "workspace_id": None,
            "child_order": len(self.projects) + len(self.archived_projects) + 1,
            "color": "charcoal",
            "is_shared": False,
            "is_collapsed": False,
            "is_favorite": False,
            "inbox_project": inbox,
            "can_assign_tasks": False,
            "is_archived": archived,
            "view_style": "list",
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            (self.archived_projects if archived else self.projects).append(project)
            self._touch(project)
        return project

    def rename_project(self, project: dict[str, Any], name: str) -> None:
        with self._lock:
            project.update(name=name, updated_at=api_time(datetime.now(UTC)))
            self._touch(project)

    def _task(self, content: str, project: dict[str, Any], due: dict[str, Any] | None, description: str) -> dict:
        now = api_time(datetime.now(UTC))
        return {
            "id": todoist_id(),
            "user_id": "2671355",
            "project_id": project["id"],
            "section_id": None,
            "parent_id": None,
            "added_by_uid": "2671355",
            "assigned_by_uid": None,
            "responsible_uid": None,
            "labels": ["errand"],
            "deadline": None,
            "duration": None,
            "checked": False,
            "is_deleted": False,
            "added_at": now,
            "completed_at": None,
            "updated_at": now,
            "due": due,
            "priority": 1,
            "child_order": 1,
            "content": content,
            "description": description,
            "note_count": 0,
            "day_order": -1,
            "is_collapsed": False,
        }

    def add_task(
        self, content: str, project: dict[str, Any], due: dict[str, Any] | None = None, description: str = ""
    ) -> dict[str, Any]:
        task = self._task(content, project, due, description)
        with self._lock:
            self.tasks.append(task)
            self._touch(task)
        return task

    def complete_task(self, task: dict[str, Any], completed_at: datetime) -> dict[str, Any]:
        """The person ticks an open task off."""
        with self._lock:
            self.tasks.remove(task)
            task.update(checked=True, completed_at=api_time(completed_at), updated_at=api_time(completed_at))
            self.completed_tasks.append(task)
            self._touch(task)
        return task

    def add_completed(
        self,
        content: str,
        project: dict[str, Any],
        completed_at: datetime,
        due: dict[str, Any] | None = None,
        description: str = "",
        task_id: str | None = None,
    ) -> dict[str, Any]:
        task = self._task(content, project, due, description)
        task.update(checked=True, completed_at=api_time(completed_at), updated_at=api_time(completed_at))
        if task_id is not None:  # a recurring task keeps its id across completions
            task["id"] = task_id
        with self._lock:
            self.completed_tasks.append(task)
            self._touch(task)
        return task

    # --- tokens -----------------------------------------------------------------------------------------------

    def _issue(self, scope: str) -> Token:
        token = Token(access_token=secrets.token_hex(20), scope=scope)
        if self.token_lifetime_s is not None:
            token.refresh_token = secrets.token_hex(24)
            token.expires_at = time.time() + self.token_lifetime_s
        self.issued.append(token)
        return token

    def _token_body(self, token: Token) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": token.access_token, "token_type": "Bearer"}
        if token.refresh_token is not None and self.token_lifetime_s is not None:
            body.update(expires_in=self.token_lifetime_s, refresh_token=token.refresh_token)
        return body

    def token(self, access_token: str) -> Token | None:
        with self._lock:
            return next((t for t in self.issued if t.access_token == access_token), None)

    def is_valid(self, access_token: str) -> bool:
        token = self.token(access_token)
        return token is not None and token.valid()

    def revoke(self, value: str) -> None:
        """Revoke an access or refresh token (a refresh token takes its access token with it)."""
        with self._lock:
            for token in self.issued:
                if value in (token.access_token, token.refresh_token):
                    token.revoked = True

    def revoke_all_tokens(self) -> None:
        """What a person does by removing oO from Todoist's Integrations settings."""
        with self._lock:
            for token in self.issued:
                token.revoked = True

    # --- server -----------------------------------------------------------------------------------------------

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)
