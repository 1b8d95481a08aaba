"""Todoist sync: completed tasks read from Todoist's API v1, stored as derivatives only, kept current.

The first sync after a connection is a backfill: a full sync of the Sync API (its token, the person's Todoist user
id), then the tasks completed in the last ``todoist_sync_days`` days, page by page. Each later sync asks the Sync API
what changed since its token and reads only the completions since the last sync (the whole window again when a
project changed, since names live on completions, or when Todoist refuses the token). One ``task_completions`` row
per completion: a keyed hash of the task, when it was completed, when it was due, and the project's name. Titles,
descriptions, labels, comments and Todoist's ids are never stored. All rows of a sync are written in one commit after
every page was read, so a failure half-way writes nothing; the integration keeps the failure and when to try again
(:mod:`oo_app.integrations.schedule`). New completions make the agents that read tasks compute afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import InvalidToken
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agents.due import Due
from agents.names import plain_name
from oo_app.errors import Conflict
from oo_app.integrations import schedule
from oo_app.integrations.errors import (
    NotConnected,
    ProviderUnavailable,
    ReauthNeeded,
    SyncTokenRejected,
    TokenRefused,
)
from oo_app.integrations.oauth import (
    REAUTH_NEEDED,
    IssuedTokens,
    ensure_fresh,
    force_refresh,
    integration_of,
    todoist_provider,
)
from oo_app.integrations.recompute import recompute_task_agents
from oo_app.integrations.todoist_api import FULL_SYNC, TodoistAPI
from oo_app.integrations.vault import TokenVault, get_vault, read_tokens, store_tokens
from oo_app.models import Integration, TaskCompletion, User
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

PROVIDER = "todoist"
SOURCE_PREFIX = "todoist:"
FULL_RESOURCES = ["items", "projects", "user"]
CHANGED_RESOURCES = ["items", "projects"]
# Completions are read from a little before the last sync: a task completed while it ran is not missed.
CATCH_UP_MARGIN = timedelta(minutes=10)


# --- derivatives ------------------------------------------------------------------------------------------------

_UTC_OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")


def _zone(name: str | None, fallback: tzinfo | None) -> tzinfo | None:
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


def todoist_due(due: dict[str, Any] | None) -> Due | None:
    """When a task is due, as Todoist's ``due`` object states it, read on nobody's clock yet (:class:`Due`).

    Todoist's ``due.date`` takes three forms: ``YYYY-MM-DD`` (a full-day date); ``YYYY-MM-DDTHH:MM:SS`` (a floating
    time: that wall time wherever the person is, or in ``due.timezone`` when Todoist gives one, then a fixed moment);
    ``YYYY-MM-DDTHH:MM:SSZ`` (a fixed time, in UTC). None without a date or for one in another form.
    """
    if not isinstance(due, dict) or not isinstance(due.get("date"), str):
        return None
    raw = due["date"]
    try:
        if len(raw) == 10:
            return Due(date.fromisoformat(raw))
        moment = datetime.fromisoformat(raw)
    except ValueError:
        log.warning("todoist: a due date in an unknown format was ignored")
        return None
    zone = _zone(due.get("timezone"), None)
    if moment.tzinfo is None and zone is not None:
        moment = moment.replace(tzinfo=zone)
    return Due(moment)


def parse_due(due: dict[str, Any] | None, person_zone: tzinfo) -> datetime | None:
    """When a task was due, in UTC, for a person on the clock ``person_zone``: :func:`todoist_due` read there (a
    full-day date is due at the end of that day, 23:59:59, in their zone)."""
    stated = todoist_due(due)
    return stated.moment_on(person_zone) if stated is not None else None


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
    kind: Literal["backfill", "incremental"]
    fetched: int  # completions Todoist returned
    added: int
    updated: int  # due date or project changed since the last sync
    since: datetime | None  # where the completions were read from; None when nothing had changed
    until: datetime
    recomputed: tuple[str, ...] = ()  # agents computed afresh because of new completions

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": PROVIDER,
            "kind": self.kind,
            "fetched": self.fetched,
            "added": self.added,
            "updated": self.updated,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
            "recomputed": list(self.recomputed),
        }


@dataclass
class _Fetched:
    """What one sync read from Todoist, before anything is stored."""

    kind: Literal["backfill", "incremental"]
    sync_token: str
    since: datetime | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)
    todoist_user_id: str | None = None


def _fetch(
    todoist: TodoistAPI, sync_token: str | None, last_synced_at: datetime | None, now: datetime, days: int
) -> _Fetched:
    window = now - timedelta(days=days)
    if sync_token is not None:
        try:
            changes = todoist.sync(sync_token, CHANGED_RESOURCES)
        except SyncTokenRejected:
            log.info("todoist: a sync token was refused; reading everything again")
        else:
            items = [item for item in changes.get("items") or [] if isinstance(item, dict)]
            if changes.get("full_sync") or changes.get("projects"):
                since = window  # a renamed project renames its stored completions
            elif items:
                since = max(window, (last_synced_at or window) - CATCH_UP_MARGIN)
            else:
                return _Fetched("incremental", changes["sync_token"])
            # Completed items come with the changes; a recurring task's completion only in the completed list.
            done = [item for item in items if item.get("checked") and not item.get("is_deleted")]
            tasks = [*done, *todoist.completed(since, now)]
            return _Fetched("incremental", changes["sync_token"], since, tasks, todoist.project_names())
    # The token first: whatever is completed while the window is read comes again with the next changes.
    full = todoist.sync(FULL_SYNC, FULL_RESOURCES)
    user = full.get("user")
    user_id = str(user["id"])[:64] if isinstance(user, dict) and user.get("id") is not None else None
    tasks = list(todoist.completed(window, now))
    return _Fetched("backfill", full["sync_token"], window, tasks, todoist.project_names(), user_id)


def _connected(session: Session, user: User) -> Integration:
    integration = integration_of(session, user, PROVIDER)
    if integration is None or integration.access_token_enc is None:
        raise NotConnected("Todoist is not connected; connect it from the settings page first")
    if integration.status == REAUTH_NEEDED:
        raise ReauthNeeded("Todoist no longer accepts oO's access; reconnect Todoist from the settings page")
    return integration


def _person_zone(user: User) -> tzinfo:
    return _zone(user.tz, UTC) or UTC


def _sync_token(integration: Integration, vault: TokenVault) -> str | None:
    if integration.sync_token_enc is None:
        return None
    try:
        return vault.decrypt(integration.sync_token_enc)
    except InvalidToken:  # a key dropped from the vault: a full sync gets a fresh token
        return None


def sync(
    session: Session,
    user: User,
    now: datetime | None = None,
    settings: Settings | None = None,
    *,
    recompute: bool = True,
) -> SyncReport:
    """Bring ``user``'s completed Todoist tasks up to date and store their derivatives; commits its own work.

    A backfill when the integration has no sync token yet, else the changes since its token. ``user`` is refreshed
    once Todoist has answered, so due dates and the agents computed afterwards read the zone the person has then. A
    401 from Todoist is met with one refresh of the access token (when there is a refresh token) and one more try.
    With new completions, the agents that read tasks are computed afresh before it returns (their ids in the
    report); without ``recompute``, that is the caller's to do (:func:`~oo_app.integrations.recompute.recompute_later`).
    Idempotent: a completion already stored is updated in place, never duplicated. Raises :class:`NotConnected`,
    :class:`ReauthNeeded` (the integration is then ``reauth_needed`` and no sync is tried until the person
    reconnects), :class:`ProviderUnavailable` (recorded, with the time of the next attempt), or :class:`Conflict`
    when another sync of the person wrote at the same time; in every case no completion is written.
    """
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    integration = _connected(session, user)
    provider = todoist_provider(settings)
    vault = get_vault(settings)
    sync_token, last_synced_at = _sync_token(integration, vault), integration.last_synced_at
    session.commit()  # no database transaction stays open across Todoist's answers

    def save_refreshed(issued: IssuedTokens) -> None:
        # Committed at once: a provider that rotates refresh tokens has already retired the old one.
        store_tokens(integration, issued.access_token, issued.refresh_token, issued.expires_at, vault)
        session.add(integration)
        session.commit()

    def fetch(access_token: str) -> _Fetched:
        with TodoistAPI(settings.todoist_api_url, access_token, settings.todoist_timeout_s) as todoist:
            return _fetch(todoist, sync_token, last_synced_at, now, settings.todoist_sync_days)

    try:
        try:
            fetched = fetch(ensure_fresh(provider, read_tokens(integration, vault), save_refreshed))
        except TokenRefused:
            fetched = fetch(force_refresh(provider, read_tokens(integration, vault), save_refreshed))
    except ReauthNeeded as error:
        session.rollback()
        schedule.record_reauth_needed(integration, error)
        session.add(integration)
        session.commit()
        log.warning("todoist: person #%s needs to reconnect", user.id)
        raise
    except ProviderUnavailable as error:
        session.rollback()
        schedule.record_failure(integration, error, now)
        session.add(integration)
        session.commit()
        log.warning(
            "todoist sync of person #%s failed (%d in a row): %s", user.id, integration.consecutive_failures, error
        )
        raise

    # The person as they are now: their zone may have changed while Todoist answered (a first run sets it), and the
    # caller's copy (a session that keeps its objects across commits) would still read the old clock.
    session.refresh(user)
    zone, secret = _person_zone(user), settings.secret_key.get_secret_value()
    completions: dict[str, Completion] = {}
    for task in fetched.tasks:
        completion = derive(task, fetched.projects, zone, secret)
        if completion is not None:
            completions[completion.source_key] = completion
    try:
        added, updated = _store(session, user, completions)
        integration.sync_token_enc = vault.encrypt(fetched.sync_token)
        if fetched.todoist_user_id is not None:
            integration.provider_user_id = fetched.todoist_user_id
        schedule.record_success(integration, now, settings)
        session.add(integration)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another Todoist sync of this person ran at the same time; try again") from None
    recomputed = _recompute(session, user, now) if added and recompute else []
    return SyncReport(fetched.kind, len(completions), added, updated, fetched.since, now, tuple(recomputed))


def _recompute(session: Session, user: User, now: datetime) -> list[str]:
    """The agents that read tasks, computed afresh; a failure here leaves the stored completions as they are."""
    try:
        recomputed = recompute_task_agents(session, user, now)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("todoist: agents of person #%s were not recomputed after new completions", user.id)
        return []
    return recomputed


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
