"""A person's calendar connections: connect an ICS address or a CalDAV account, disconnect any kind, and the view of
them all for the settings page and the API.

A connection is validated by a first read before anything is stored: a wrong address or password stores nothing.
The credentials are kept encrypted (:mod:`oo_app.calendar.access`); what a person sees of a connection (``label``) is
its host. Disconnecting forgets the credentials and the busy times in memory at once (Google's grant is revoked at
Google, best effort). Functions here commit their own work, as a connection is finished or not at all.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from oo_app.calendar import access, busy_cache, sync
from oo_app.calendar.access import TITLES, source_for, use_source  # noqa: F401 - the room's public names
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS
from oo_app.clock import zone
from oo_app.errors import InvalidInput
from oo_app.integrations import revocation, schedule
from oo_app.integrations.oauth import CONNECTED, DISCONNECTED
from oo_app.integrations.revocation import Revocation
from oo_app.integrations.vault import get_vault
from oo_app.models import CalendarDayRecord, Integration, User, utcnow
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_CREDENTIAL = 2048  # characters of an address, a URL, a user name or a password


@dataclass(frozen=True)
class CalendarConnection:
    """One kind of calendar as the person sees it: never a credential, an address's path or a user name."""

    kind: str
    title: str
    label: str
    status: str
    last_synced_at: datetime | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.kind,
            "title": self.title,
            "label": self.label,
            "status": self.status,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
            "last_error": self.last_error,
        }


def calendar_connections(session: Session, user: User) -> list[CalendarConnection]:
    """Every kind of calendar with the person's connection to it (``disconnected`` when none); nothing decrypted."""
    rows = {row.provider: row for row in access.calendar_integrations(session, user.id, connected_only=False)}
    views = []
    for kind in (GOOGLE, CALDAV, ICS):
        row = rows.get(kind)
        live = row is not None and row.status != DISCONNECTED and row.access_token_enc is not None
        views.append(
            CalendarConnection(
                kind=kind,
                title=TITLES[kind],
                label=row.label if live and row is not None else "",
                status=row.status if live and row is not None else DISCONNECTED,
                last_synced_at=row.last_synced_at if live and row is not None else None,
                last_error=row.last_error if live and row is not None else None,
            )
        )
    return views


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"the {what} is missing")
    value = value.strip()
    if len(value) > MAX_CREDENTIAL or any(ord(char) < 32 for char in value):
        raise InvalidInput(f"the {what} is not valid: one line of at most {MAX_CREDENTIAL} characters")
    return value


def connect_ics(
    session: Session, user: User, address: str, now: datetime | None = None, settings: Settings | None = None
) -> sync.CalendarSyncReport:
    """Connect the calendar at the secret ICS ``address`` (https or webcal), read once first; see the module."""
    return _connect(session, user, ICS, {"address": _text(address, "calendar address")}, now, settings)


def connect_caldav(
    session: Session,
    user: User,
    url: str,
    username: str,
    password: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> sync.CalendarSyncReport:
    """Connect a CalDAV account (a server, principal or calendar URL; all its event calendars are read), read once
    first; see the module."""
    account = {"url": _text(url, "CalDAV address"), "username": _text(username, "user name")}
    if not isinstance(password, str) or not password:
        raise InvalidInput("the password is missing (an app password, if your provider offers them)")
    account["password"] = password
    return _connect(session, user, CALDAV, account, now, settings)


def _connect(
    session: Session,
    user: User,
    kind: str,
    credentials: dict[str, str],
    now: datetime | None,
    settings: Settings | None,
) -> sync.CalendarSyncReport:
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    access.require_consent(session, user.id)
    vault = get_vault(settings)
    # The first read runs on a row that is not stored: a refused address leaves nothing behind.
    trial = Integration(
        user_id=user.id, provider=kind, access_token_enc=vault.encrypt(access.encode_credentials(kind, credentials))
    )
    started = time.monotonic()
    source = source_for(session, trial, settings)
    session.commit()  # no database transaction stays open while the calendar answers
    since, until = busy_cache.read_window(user, now)
    intervals = source.busy(since, until)
    integration = access.integration_of(session, user, kind) or Integration(user_id=user.id, provider=kind)
    integration.access_token_enc = trial.access_token_enc
    integration.refresh_token_enc = integration.expires_at = None
    integration.label = access.label_of(kind, credentials)
    integration.status = CONNECTED
    integration.updated_at = utcnow()
    schedule.restart(integration, now)
    session.add(integration)
    session.flush()
    busy_cache.forget(user.id, [kind])  # an earlier connection's times are not this calendar's
    log.info("person #%s connected a calendar (%s)", user.id, kind)
    return sync.store_read(session, user, integration, intervals, now, settings, started)


def disconnect(session: Session, user: User, kind: str, now: datetime | None = None) -> Revocation:
    """Disconnect ``user``'s calendar of ``kind``: Google's grant revoked at Google (best effort), the credentials and
    the busy times in memory forgotten, the days ahead deleted when no calendar remains (committed)."""
    kind = access.kind_of(kind)
    integration = access.integration_of(session, user, kind)
    if integration is None:
        return Revocation(provider=kind, revocation="nothing_to_revoke")
    result = _forget(session, integration)
    _after_disconnect(session, user, now or datetime.now(UTC))
    session.commit()
    return result


def disconnect_all(session: Session, user: User) -> list[Revocation]:
    """Disconnect every calendar of ``user`` (account deletion): flushed, the caller commits; never raises for a
    provider's failure."""
    busy_cache.forget(user.id)
    rows = access.calendar_integrations(session, user.id, connected_only=False)
    results = [_forget(session, integration) for integration in rows]
    session.flush()
    return results


def _forget(session: Session, integration: Integration) -> Revocation:
    """Revoked the way its kind needs (:func:`oo_app.integrations.revocation.revoke_and_forget`: Google's grant at
    Google, a password or an address only forgotten), its busy times and sync state forgotten."""
    result = revocation.revoke_and_forget(session, integration)
    busy_cache.forget(integration.user_id, [integration.provider])
    integration.last_error = None
    integration.next_attempt_at = None
    integration.consecutive_failures = 0
    session.add(integration)
    return result


def _after_disconnect(session: Session, user: User, now: datetime) -> None:
    """With no calendar left, the days ahead describe none: deleted. With others, they sync now and rewrite them."""
    session.flush()
    others = access.calendar_integrations(session, user.id)
    if others:
        for other in others:
            other.next_attempt_at = now
            session.add(other)
        return
    today = now.astimezone(zone(user.tz)).date()
    session.exec(
        sa.delete(CalendarDayRecord).where(CalendarDayRecord.user_id == user.id, CalendarDayRecord.day >= today)
    )


def forget_calendar(session: Session, user_id: int) -> int:
    """What oO kept of the person's calendars, gone (``calendar`` revoked): every ``calendar_days`` row (flushed; the
    caller commits) and the busy times in memory at once; how many days were deleted. Connections stay, unread."""
    busy_cache.forget(user_id)
    deleted = session.exec(sa.delete(CalendarDayRecord).where(CalendarDayRecord.user_id == user_id)).rowcount or 0
    session.flush()
    return deleted
