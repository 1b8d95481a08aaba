"""Todoist sync: completed tasks fetched on demand from Todoist's API v1 (httpx), stored as derivatives only.

A sync reads the person's tasks completed in the last ``todoist_sync_days`` days and the names of their projects,
and keeps one ``task_completions`` row per completion: a keyed hash of the task, when it was completed, when it was
due, and the project's name (the agents group by it). Titles, descriptions, labels, comments and Todoist's ids are
never stored. All rows of a sync are written in one commit after every page was read, so a failure half-way
writes nothing; a token Todoist refuses marks the integration ``reauth_needed``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agents.names import plain_name
from oo_app.errors import Conflict
from oo_app.integrations.errors import NotConnected, ProviderUnavailable, ReauthNeeded
from oo_app.integrations.oauth import (
    CONNECTED,
    REAUTH_NEEDED,
    IssuedTokens,
    ensure_fresh,
    integration_of,
    todoist_provider,
)
from oo_app.integrations.vault import get_vault, read_tokens, store_tokens
from oo_app.models import Integration, TaskCompletion, User, utcnow
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

PROVIDER = "todoist"
SOURCE_PREFIX = "todoist:"
# Todoist answers completions of at most three months per request; 89 days fit in any three calendar months.
COMPLETED_WINDOW = timedelta(days=89)
PAGE_LIMIT = 200  # Todoist's maximum page size
MAX_PAGES = 1000  # a guard against a cursor that never ends
END_OF_DAY = time(23, 59, 59)


class TodoistAPI:
    """The read-only part of Todoist's API v1 a sync needs, with a bearer token and a timeout on every request.

    Raises :class:`ReauthNeeded` when Todoist refuses the token (401/403) and :class:`ProviderUnavailable` when it
    does not answer, rate-limits, or answers outside its contract.
    """

    def __init__(self, base_url: str, access_token: str, timeout_s: float) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=httpx.Timeout(timeout_s),
        )

    def __enter__(self) -> TodoistAPI:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._client.close()

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"Todoist did not answer ({type(error).__name__}); try again later") from None
        if response.status_code in (401, 403):
            raise ReauthNeeded("Todoist no longer accepts oO's access; reconnect Todoist from the settings page")
        if response.status_code == 429:
            raise ProviderUnavailable("Todoist asks oO to slow down; try again in a minute")
        if response.status_code != 200:
            raise ProviderUnavailable(f"Todoist answered HTTP {response.status_code} to {path}; try again later")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"Todoist answered {path} with something that is not a JSON object")
        return body

    def _pages(self, path: str, field: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list (``{field: [...], "next_cursor": ...}``)."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self._get(path, {**params, "limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})})
            items = page.get(field)
            if not isinstance(items, list):
                raise ProviderUnavailable(f"Todoist answered {path} without its list of {field}")
            yield from (item for item in items if isinstance(item, dict))
            cursor = page.get("next_cursor")
            if not cursor:
                return
        raise ProviderUnavailable(f"Todoist kept paginating {path} past {MAX_PAGES} pages")

    def project_names(self) -> dict[str, str]:
        """Project id -> name, over active and archived projects (completed tasks may lie in either)."""
        names: dict[str, str] = {}
        for path in ("projects", "projects/archived"):
            for project in self._pages(path, "results", {}):
                if project.get("id") is not None:
                    names[str(project["id"])] = str(project.get("name") or "")
        return names

    def completed(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Tasks completed between ``since`` and ``until``, read in windows Todoist accepts."""
        start = since
        while start < until:
            end = min(start + COMPLETED_WINDOW, until)
            params = {"since": _api_time(start), "until": _api_time(end)}
            yield from self._pages("tasks/completed/by_completion_date", "items", params)
            start = end


def _api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- derivatives ------------------------------------------------------------------------------------------------

_UTC_OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")


def _zone(name: str | None, fallback: tzinfo) -> tzinfo:
    """A tzdata zone (``Europe/Berlin``) or Todoist's ``UTC±HH:MM``; ``fallback`` when absent or unknown."""
    if not name:
        return fallback
    offset = _UTC_OFFSET.match(name)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def parse_due(due: dict[str, Any] | None, person_zone: tzinfo) -> datetime | None:
    """When a task was due, in UTC, from Todoist's ``due`` object.

    Todoist's ``due.date`` takes three forms: ``YYYY-MM-DD`` (a full-day date: due at the end of that day, 23:59:59
    in the person's zone); ``YYYY-MM-DDTHH:MM:SS`` (a floating time: that wall time wherever the person is, so in
    their zone, or in ``due.timezone`` when Todoist gives one); ``YYYY-MM-DDTHH:MM:SSZ`` (a fixed time, in UTC).
    """
    if not isinstance(due, dict) or not isinstance(due.get("date"), str):
        return None
    raw = due["date"]
    zone = _zone(due.get("timezone"), person_zone)
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), END_OF_DAY, tzinfo=person_zone).astimezone(UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        log.warning("todoist: a due date in an unknown format was ignored")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _parse_completed_at(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def source_key(task_id: str, completed_at: datetime, secret: str) -> str:
    """``todoist:`` + an HMAC of the task id and completion time: stable across syncs, meaningless outside oO.

    The completion time is part of the key because a recurring task keeps its id across its completions.
    """
    message = f"{task_id}|{completed_at.astimezone(UTC).isoformat()}".encode()
    return SOURCE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:48]


@dataclass(frozen=True)
class Completion:
    """The derivative of one completed task: all that oO keeps of it."""

    source_key: str
    completed_at: datetime
    due_at: datetime | None
    project: str


def derive(task: dict[str, Any], projects: dict[str, str], person_zone: tzinfo, secret: str) -> Completion | None:
    """The derivative of a completed task from Todoist, or None when it lacks an id or a completion time."""
    completed_at = _parse_completed_at(task.get("completed_at"))
    if task.get("id") is None or completed_at is None:
        return None
    project = projects.get(str(task.get("project_id")), "")
    return Completion(
        source_key=source_key(str(task["id"]), completed_at, secret),
        completed_at=completed_at,
        due_at=parse_due(task.get("due"), person_zone),
        project=plain_name(project)[:128],  # data: no line break or escape sequence reaches a prompt
    )


# --- sync -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    fetched: int  # completions Todoist returned in the window
    added: int
    updated: int  # due date or project changed since the last sync
    since: datetime
    until: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": PROVIDER,
            "fetched": self.fetched,
            "added": self.added,
            "updated": self.updated,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


def _connected(session: Session, user: User) -> Integration:
    integration = integration_of(session, user, PROVIDER)
    if integration is None or integration.access_token_enc is None:
        raise NotConnected("Todoist is not connected; connect it from the settings page first")
    if integration.status == REAUTH_NEEDED:
        raise ReauthNeeded("Todoist no longer accepts oO's access; reconnect Todoist from the settings page")
    return integration


def _person_zone(user: User) -> tzinfo:
    return _zone(user.tz, UTC)


def sync(session: Session, user: User, now: datetime | None = None, settings: Settings | None = None) -> SyncReport:
    """Fetch ``user``'s completed Todoist tasks and store their derivatives; commits its own work.

    Idempotent: a completion already stored is updated in place, never duplicated. Raises :class:`NotConnected`,
    :class:`ReauthNeeded` (after marking the integration ``reauth_needed``), :class:`ProviderUnavailable`, or
    :class:`Conflict` when another sync of the person wrote at the same time; in every case no completion is written.
    """
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    integration = _connected(session, user)
    provider = todoist_provider(settings)
    vault = get_vault(settings)
    since = now - timedelta(days=settings.todoist_sync_days)
    session.commit()  # no database transaction stays open across Todoist's answers

    def save_refreshed(issued: IssuedTokens) -> None:
        # Committed at once: a provider that rotates refresh tokens has already retired the old one.
        store_tokens(integration, issued.access_token, issued.refresh_token, issued.expires_at, vault)
        session.add(integration)
        session.commit()

    try:
        access_token = ensure_fresh(provider, read_tokens(integration, vault), save_refreshed)
        with TodoistAPI(settings.todoist_api_url, access_token, settings.todoist_timeout_s) as todoist:
            projects = todoist.project_names()
            tasks = list(todoist.completed(since, now))
    except ReauthNeeded:
        session.rollback()
        integration.status = REAUTH_NEEDED
        integration.updated_at = utcnow()
        session.add(integration)
        session.commit()
        log.warning("todoist: person #%s needs to reconnect", user.id)
        raise

    zone, secret = _person_zone(user), settings.secret_key.get_secret_value()
    completions: dict[str, Completion] = {}
    for task in tasks:
        completion = derive(task, projects, zone, secret)
        if completion is not None:
            completions[completion.source_key] = completion
    try:
        added, updated = _store(session, user, completions)
        integration.status = CONNECTED
        integration.updated_at = utcnow()
        session.add(integration)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another Todoist sync of this person ran at the same time; try again") from None
    return SyncReport(fetched=len(completions), added=added, updated=updated, since=since, until=now)


def _store(session: Session, user: User, completions: dict[str, Completion]) -> tuple[int, int]:
    """Add the new completions and update the changed ones; returns (added, updated)."""
    existing: dict[str, TaskCompletion] = {}
    keys = list(completions)
    for start in range(0, len(keys), 500):
        rows = session.exec(
            select(TaskCompletion).where(
                TaskCompletion.user_id == user.id, col(TaskCompletion.source_key).in_(keys[start : start + 500])
            )
        ).all()
        existing.update((row.source_key, row) for row in rows)
    added = updated = 0
    for key, completion in completions.items():
        row = existing.get(key)
        if row is None:
            session.add(
                TaskCompletion(
                    user_id=user.id,
                    source_key=key,
                    completed_at=completion.completed_at,
                    due_at=completion.due_at,
                    project=completion.project,
                )
            )
            added += 1
        elif (row.due_at, row.project) != (completion.due_at, completion.project):
            row.due_at, row.project = completion.due_at, completion.project
            session.add(row)
            updated += 1
    session.flush()
    return added, updated
