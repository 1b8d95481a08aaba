"""State of the calendar section of ``/settings``: the person's calendars (Google, CalDAV, an ICS address), each
connected, synced or disconnected through :mod:`oo_app.calendar.connections` and :mod:`oo_app.calendar.sync`.

Its own small state beside the settings page's (it never imports it). Handlers check the socket's origin, run the
domain functions in a worker thread for the person behind the page's cookies, then read the view afresh, so the page
shows what is stored. A domain error is shown in words beside the calendar it concerns and stores nothing; a
connection's address, user name or password never comes back to the page: the view holds its host only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import reflex as rx
from sqlmodel import Session

from agents.busy import CALENDAR_CONSENT
from oo_app.auth.errors import Unauthenticated
from oo_app.calendar import access, connections, sync
from oo_app.calendar.access import SHORT_KINDS
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS
from oo_app.clock import as_utc
from oo_app.errors import OOError
from oo_app.integrations.oauth import DISCONNECTED, REAUTH_NEEDED
from oo_app.models import User
from oo_app.profile.granted_agents import change_consents
from oo_app.state.signed_in import SignedIn, as_person
from oo_app.state.words import ago, sentence

log = logging.getLogger(__name__)

UNAVAILABLE = "oO can't reach your calendar settings right now. Try again in a moment."
NO_CONSENT = "oO reads no calendar without the “Your calendar” consent: grant it above, then connect again."
CONNECT_AGAIN = (": connect the calendar again", ": connect the calendar again with its address")
SHORT = {kind: short for short, kind in SHORT_KINDS.items()}  # calendar-google -> google, for ids and events
FORGOTTEN = {
    GOOGLE: "oO's access is revoked at Google",
    CALDAV: "oO forgot the app password",
    ICS: "oO forgot the address",
}


AGAIN = {  # what a person does when a calendar no longer lets oO in
    GOOGLE: "connect it again",
    CALDAV: "connect it again below, with a new app password if you revoked the old one",
    ICS: "copy its address again from your calendar and paste it below",
}


@dataclass(frozen=True)
class CalendarRow:
    """One kind of calendar as the page shows it: its host, never a credential."""

    kind: str = ""  # "google", "caldav" or "ics"
    title: str = ""
    label: str = ""  # the host, "" while not connected
    connected: bool = False  # connected or needing reconnection: a row with its host instead of the form
    reauth: bool = False
    synced: str = ""  # "last synced 5 minutes ago"
    problem: str = ""  # the last sync's failure or what to do to reconnect, in words


@dataclass(frozen=True)
class CalendarView:
    granted: bool
    google_offered: bool
    rows: dict[str, CalendarRow]


def _google_offered() -> bool:
    """Whether this server has a Google client for calendars (else the Google link is not shown)."""
    try:
        from oo_app.calendar.google import google_provider

        google_provider()
    except OOError:
        return False
    return True


def _row(view: connections.CalendarConnection, now: datetime) -> CalendarRow:
    kind = SHORT[view.kind]
    if view.status == DISCONNECTED:
        return CalendarRow(kind=kind, title=view.title)
    reauth = view.status == REAUTH_NEEDED
    synced = ago(as_utc(view.last_synced_at) if view.last_synced_at else None, now)
    problem = ""
    if reauth:
        problem = f"oO can no longer read this calendar: {AGAIN[view.kind]}."
    elif view.last_error:
        problem = f"The last sync did not go through ({view.last_error.rstrip('.')}); oO tries again by itself."
    return CalendarRow(kind, view.title, view.label, True, reauth, synced, problem)


def _view(session: Session, user: User) -> CalendarView:
    now = datetime.now(UTC)
    rows = {SHORT[view.kind]: _row(view, now) for view in connections.calendar_connections(session, user)}
    return CalendarView(access.consent_granted(session, user.id), _google_offered(), rows)


def _busy_words(count: int) -> str:
    if count == 0:
        return "nothing busy in your next two days"
    return f"{count} busy time{'s' if count > 1 else ''} in your next two days"


def _not_connected(message: str) -> str:
    """A refused connection in words: nothing was saved, and the source's advice to "connect again" left out (the
    person is connecting)."""
    for advice in CONNECT_AGAIN:
        message = message.removesuffix(advice)
    return "Not connected, nothing was saved: " + message.rstrip(".") + "."


def _connected_note(report: sync.CalendarSyncReport) -> str:
    return f"Connected: oO read {_busy_words(report.intervals)}."


def _grant(session: Session, user: User) -> str:
    change_consents(session, user, {CALENDAR_CONSENT: True})
    return "“Your calendar” is granted: connect a calendar below."


def _sync(session: Session, user: User, kind: str) -> str:
    report = sync.sync(session, user, access.kind_of(kind))
    return f"Synced: {_busy_words(report.intervals)}."


def _disconnect(session: Session, user: User, kind: str) -> str:
    result = connections.disconnect(session, user, kind)
    if result.revocation == "failed":
        return f"Disconnected: oO forgot its access, but Google could not be told ({result.error})."
    return f"Disconnected: {FORGOTTEN[access.kind_of(kind)]} and the busy times it read."


class CalendarState(SignedIn, rx.State):
    granted: bool = False
    google_offered: bool = False
    google: CalendarRow = CalendarRow(kind="google")
    caldav: CalendarRow = CalendarRow(kind="caldav")
    ics: CalendarRow = CalendarRow(kind="ics")
    # Feedback per place: "calendar" (the section), "google", "caldav", "ics".
    errors: dict[str, str] = {}
    notices: dict[str, str] = {}
    working: str = ""  # the kind a connection or a sync is running for, "" when idle

    def _show(self, view: CalendarView) -> None:
        self.granted, self.google_offered = view.granted, view.google_offered
        self.google, self.caldav, self.ics = view.rows["google"], view.rows["caldav"], view.rows["ics"]

    async def _run(self, place: str, change: Callable[[Session, User], str] | None, connecting: bool = False) -> bool:
        """Run ``change`` (none: only read), then show the fresh view; its note or error beside ``place`` (said as a
        refused connection when ``connecting``). False when the person is signed out."""
        self.errors, self.notices = {}, {}
        cookies = self._cookie_map()
        note = ""
        try:
            self._check_origin()
            if change is not None:
                note = await asyncio.to_thread(as_person, cookies, change)
        except Unauthenticated:
            self._mark_signed_out()
            return False
        except access.CalendarConsentMissing:
            self.errors = {place: NO_CONSENT}
        except OOError as error:
            self.errors = {place: _not_connected(str(error)) if connecting else sentence(str(error))}
        except Exception:
            log.exception("calendar settings change failed (%s)", place)
            self.errors = {place: UNAVAILABLE}
        try:
            self._show(await asyncio.to_thread(as_person, cookies, _view))
        except Unauthenticated:
            self._mark_signed_out()
            return False
        except Exception:
            log.exception("could not read the calendar settings")
            self.errors = {place: UNAVAILABLE}
            return True
        self._mark_signed_in(cookies)
        if note:
            self.notices = {place: note}
        return True

    async def _working(self, kind: str, change: Callable[[Session, User], str], connecting: bool = False):
        self.working = kind
        yield
        try:
            if not await self._run(kind, change, connecting):
                yield rx.redirect("/")
        finally:
            self.working = ""

    @rx.event
    async def load(self):
        if not await self._run("calendar", None):
            return rx.redirect("/")
        return None

    @rx.event
    async def grant(self):
        """Grant the ``calendar`` consent in place (the person asked to connect a calendar)."""
        if not await self._run("calendar", _grant):
            return rx.redirect("/")
        return None

    @rx.event
    async def connect_caldav(self, form: dict[str, Any]):
        url, username = str(form.get("url", "")), str(form.get("username", ""))
        password = str(form.get("password", ""))

        def connect(session: Session, user: User) -> str:
            return _connected_note(connections.connect_caldav(session, user, url, username, password))

        async for update in self._working("caldav", connect, connecting=True):
            yield update

    @rx.event
    async def connect_ics(self, form: dict[str, Any]):
        address = str(form.get("address", ""))

        def connect(session: Session, user: User) -> str:
            return _connected_note(connections.connect_ics(session, user, address))

        async for update in self._working("ics", connect, connecting=True):
            yield update

    @rx.event
    async def sync_now(self, kind: str):
        if kind not in SHORT_KINDS:
            return
        async for update in self._working(kind, lambda session, user: _sync(session, user, kind)):
            yield update

    @rx.event
    async def disconnect(self, kind: str):
        if kind not in SHORT_KINDS:
            return
        async for update in self._working(kind, lambda session, user: _disconnect(session, user, kind)):
            yield update
