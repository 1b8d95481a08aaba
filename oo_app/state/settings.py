"""State of ``/settings``: the person's preferences, consents, contexts, integrations, export and account deletion.

Every handler resolves the person from the page's cookies on the backend (as the tip page does), calls the same
domain functions as the API (:mod:`oo_app.profile`, :mod:`oo_app.integrations`) in a worker thread, and reloads the
whole view from the database after a change, so what the page shows is what is stored. A domain error is shown
beside the section it concerns and changes nothing; without a session the page sends the person to ``/``. Every
handler that shows or changes the person's data first checks that the page's websocket came from oO's own origin
(:class:`~oo_app.state.signed_in.SignedIn`, as every page state signs in): a socket another site opened gets nothing
done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import reflex as rx
from sqlmodel import Session

from agents.contexts import WEEKDAYS
from oo_app.auth.errors import Unauthenticated
from oo_app.errors import OOError
from oo_app.integrations import todoist
from oo_app.integrations.oauth import CONNECTED, REAUTH_NEEDED
from oo_app.integrations.recompute import recompute_later
from oo_app.integrations.revocation import disconnect
from oo_app.models import User
from oo_app.profile import consents, contexts, deletion, overview, prefs
from oo_app.profile.granted_agents import change_consents
from oo_app.profile.sayings import agent_title
from oo_app.state.learned import (
    ParamRow,
    SaidRow,
    chosen_areas,
    param_rows,
    parsed,
    plainly,
    said_rows,
    whole_hour,
)
from oo_app.state.signed_in import SignedIn, as_person
from oo_app.state.words import ago

log = logging.getLogger(__name__)

UNAVAILABLE = "oO can't reach your settings right now. Try again in a moment."
PUSH_CONSENT = "push"
# Runs in the page (static/push.js). The API's origin is the backend's, which differs from the page's in development:
# the notifications section carries it (data-api).
PUSH_SCRIPT = (
    "window.ooPush ? window.ooPush.{action}(document.getElementById('push-section').dataset.api) : 'unsupported'"
)
PUSH_STATUS = {
    "unsupported": "This browser cannot receive notifications.",
    "denied": "Notifications are blocked for oO in this browser's site settings.",
    "off": "Off in this browser.",
    "on": "On in this browser: a tip at your productive hours, never in your quiet hours.",
}
T = TypeVar("T")


@dataclass(frozen=True)
class ConsentRow:
    key: str
    granted: bool
    text: str
    agents: str


@dataclass(frozen=True)
class ContextRow:
    name: str
    active: bool
    in_effect: bool = False
    meaning: str = ""  # what oO reads from it, in plain words
    schedules: str = ""  # its weekly schedules in plain words, "" without any


KIND_WORDS = {
    "work": "for work",
    "home": "for home",
    "rest": "a day off: no task pressure",
    "any": "every agent speaks",
}


def _consent_row(state: consents.ConsentState) -> ConsentRow:
    """A consent, with the agents that need it by the names the page gives them ("Your day")."""
    return ConsentRow(state.key, state.granted, state.text, ", ".join(map(agent_title, state.agents)))


def _context_row(state: contexts.ContextState) -> ContextRow:
    said = "; ".join(f"{', '.join(s['weekdays'])} from {s['start']} to {s['end']}" for s in state.schedules)
    return ContextRow(state.name, state.active, state.in_effect, KIND_WORDS.get(state.kind, ""), said)


def _schedule_from(form: dict[str, Any]) -> dict[str, Any]:
    """The schedule a context's form describes: its ticked weekdays (``day-mon`` ...) and two times."""
    days = [day for day in WEEKDAYS if form.get(f"day-{day}")]
    return {"weekdays": days, "start": str(form.get("start", "")), "end": str(form.get("end", ""))}


@dataclass(frozen=True)
class IntegrationRow:
    provider: str
    status: str
    since: str
    synced: str = ""  # "last synced 5 minutes ago", in words
    problem: str = ""  # why the last sync did not go through, or what to do to reconnect
    reauth: bool = False
    status_text: str = ""  # the status in words


STATUS_TEXT = {CONNECTED: "connected", REAUTH_NEEDED: "needs reconnecting"}


def _integration_row(state: overview.IntegrationState, now: datetime) -> IntegrationRow:
    reauth = state.status == REAUTH_NEEDED
    if reauth:
        problem = f"oO can no longer read your {state.provider.title()}. Reconnect it to pick up where it left off."
    else:
        problem = f"The last sync did not go through: {state.last_error}" if state.last_error else ""
    synced = ago(state.last_synced_at, now) if state.status == CONNECTED else ""
    since = state.connected_since.strftime("%Y-%m-%d")
    words = STATUS_TEXT.get(state.status, state.status)
    return IntegrationRow(state.provider, state.status, since, synced, problem, reauth, words)


def _sync_now(session: Session, user: User) -> str:
    """What a sync found, said as soon as the completions are stored; the agents that read them follow in the
    background (on a cold process focus-area first loads the embedder, which would keep the person waiting)."""
    report = todoist.sync(session, user, recompute=False)
    if report.added:
        recompute_later(session.get_bind(), user.id, report.until)
    if report.added == 0:
        return "Synced: nothing new since the last sync"
    return f"Synced: {report.added} new task{'s' if report.added > 1 else ''} done"


@dataclass(frozen=True)
class View:
    email: str
    said: list[SaidRow]
    params: list[ParamRow]
    consents: list[ConsentRow]
    contexts: list[ContextRow]
    integrations: list[IntegrationRow]


def _view(session: Session, user: User) -> View:
    profile = overview.profile_of(session, user)
    return View(
        email=profile.person.email,
        said=said_rows(profile.prefs, profile.consents),
        params=param_rows(profile.prefs),
        consents=[_consent_row(consent) for consent in profile.consents],
        contexts=[_context_row(c) for c in profile.contexts],
        integrations=[_integration_row(i, datetime.now(UTC)) for i in profile.integrations],
    )


def _change_then_view(cookies: dict[str, str], change: Callable[[Session, User], T]) -> tuple[T, View]:
    """Run ``change`` for the person behind ``cookies`` in one transaction, then read the view afresh."""
    result = as_person(cookies, change)
    return result, as_person(cookies, _view)


def _disconnect(session: Session, user: User, provider: str) -> str:
    result = disconnect(session, user, provider)
    if result.revocation == "failed":
        return f"{provider} disconnected; oO forgot its access, but {provider} could not be told: {result.error}"
    return f"{provider} disconnected; oO's access is revoked"


def _revoke_consent(session: Session, user: User, key: str) -> str:
    return consents.revoke_consent(session, user, key).note


def _delete(cookies: dict[str, str], confirmation: str) -> None:
    as_person(cookies, lambda session, user: deletion.delete_account(session, user, confirmation))


class SettingsState(SignedIn, rx.State):
    email: str = ""
    said: list[SaidRow] = []
    params: list[ParamRow] = []
    consents: list[ConsentRow] = []
    contexts: list[ContextRow] = []
    integrations: list[IntegrationRow] = []
    # Feedback per section: "prefs", "consents", "contexts", "integrations", "delete"; ``learned:<agent>`` beside an
    # agent's plain-words controls.
    errors: dict[str, str] = {}
    notices: dict[str, str] = {}
    busy: bool = False
    # This browser's push subscription as static/push.js reports it: "", "unsupported", "denied", "off", "on".
    push_status: str = ""

    def _show(self, view: View) -> None:
        self.email, self.said, self.params, self.consents = view.email, view.said, view.params, view.consents
        self.contexts, self.integrations = view.contexts, view.integrations
        self._mark_signed_in(self._cookie_map())

    async def _change(self, section: str, change: Callable[[Session, User], Any], notice: str = "") -> Any:
        """Apply ``change``; show the fresh view and ``notice``, or the error beside ``section``."""
        self.errors, self.notices = {}, {}
        try:
            self._check_origin()
            result, view = await asyncio.to_thread(_change_then_view, self._cookie_map(), change)
        except Unauthenticated:
            return rx.redirect("/")
        except OOError as error:
            self.errors = {section: str(error)}
            return None
        except Exception:
            log.exception("settings change failed (%s)", section)
            self.errors = {section: UNAVAILABLE}
            return None
        self._show(view)
        if notice or isinstance(result, str):
            self.notices = {section: notice or result}
        return None

    @rx.event
    async def load(self):
        outcome = await self._change("page", lambda session, user: None)
        if outcome is not None or not self.signed_in:
            return outcome
        return rx.call_script(PUSH_SCRIPT.format(action="status"), callback=SettingsState.push_reported)

    @rx.var
    def push_note(self) -> str:
        return PUSH_STATUS.get(self.push_status, "")

    @rx.event
    async def enable_push(self):
        """Grant the ``push`` consent (the person asked for notifications), then subscribe this browser."""
        outcome = await self._change("push", lambda session, user: consents.grant_consent(session, user, PUSH_CONSENT))
        if outcome is not None or "push" in self.errors:
            return outcome
        return rx.call_script(PUSH_SCRIPT.format(action="enable"), callback=SettingsState.push_reported)

    @rx.event
    def disable_push(self):
        return rx.call_script(PUSH_SCRIPT.format(action="disable"), callback=SettingsState.push_reported)

    @rx.event
    async def push_reported(self, status: str):
        """What the browser answered; a failure is shown beside the notifications section, the rest as its state."""
        status = str(status or "")
        if status.startswith("error: "):
            self.errors = {"push": status.removeprefix("error: ")}
            return
        self.push_status = status if status in PUSH_STATUS else ""
        if self.push_status == "denied":
            self.errors = {"push": PUSH_STATUS["denied"]}

    @rx.event
    async def save_pref(self, form: dict[str, Any]):
        scope, key, value = form.get("scope", ""), form.get("key", ""), str(form.get("value", ""))
        return await self._change(
            "prefs",
            lambda session, user: prefs.set_preference(session, user, scope, key, parsed(value)),
            f"{key} saved",
        )

    @rx.event
    async def reset_pref(self, scope: str, key: str):
        return await self._change(
            "prefs",
            lambda session, user: prefs.reset_preference(session, user, scope, key),
            f"{key} is learned from your history again",
        )

    @rx.event
    async def save_hour(self, form: dict[str, Any]):
        """An hour picker: the agent's ``key`` set to the chosen whole hour."""
        scope, key, hour = str(form.get("scope", "")), str(form.get("key", "")), whole_hour(form.get("hour", ""))
        return await self._change(
            f"learned:{scope}",
            plainly("hour", lambda session, user: prefs.set_preference(session, user, scope, key, hour)),
            "Saved: oO goes by your hour from now on.",
        )

    @rx.event
    async def save_quiet(self, form: dict[str, Any]):
        """The quiet window: both ends together, or neither."""
        scope = str(form.get("scope", ""))
        window = {"quiet_start": whole_hour(form.get("start", "")), "quiet_end": whole_hour(form.get("end", ""))}
        return await self._change(
            f"learned:{scope}",
            plainly("window", lambda session, user: prefs.set_preferences(session, user, scope, window)),
            "Saved: oO keeps your quiet hours from now on.",
        )

    @rx.event
    async def save_areas(self, form: dict[str, Any]):
        """The area chips: the ticked areas, in the page's order."""
        scope, areas = str(form.get("scope", "")), chosen_areas(form)
        return await self._change(
            f"learned:{scope}",
            plainly(
                "areas", lambda session, user: prefs.set_preference(session, user, scope, "preferred_areas", areas)
            ),
            "Saved: oO goes by your areas from now on.",
        )

    @rx.event
    async def set_enabled(self, scope: str, on: bool):
        """An agent's switch: off stores the person's ``enabled: false``; on drops it (agents are on by default)."""
        return await self._change(
            f"learned:{scope}",
            lambda session, user: prefs.set_preference(session, user, scope, "enabled", None if on else False),
            f"{agent_title(scope)} is {'on' if on else 'off'}.",
        )

    @rx.event
    async def use_learned(self, scope: str, keys: list[str]):
        """Drop the person's own values of ``keys``: what oO learned applies again."""
        return await self._change(
            f"learned:{scope}",
            lambda session, user: prefs.set_preferences(session, user, scope, dict.fromkeys(keys)),
            "Your value is dropped: oO goes by its own again.",
        )

    @rx.event
    async def set_consent(self, key: str, granted: bool):
        if granted:
            outcome = await self._change(
                "consents", lambda session, user: change_consents(session, user, {key: True}), f"{key}: granted"
            )
        else:
            outcome = await self._change("consents", lambda session, user: _revoke_consent(session, user, key))
        if outcome is None and key == PUSH_CONSENT:  # revoking it unsubscribed every browser: ask this one again
            return rx.call_script(PUSH_SCRIPT.format(action="status"), callback=SettingsState.push_reported)
        return outcome

    @rx.event
    async def create_context(self, form: dict[str, Any]):
        name = str(form.get("name", ""))
        return await self._change(
            "contexts", lambda session, user: f"{contexts.create_context(session, user, name).name} added"
        )

    @rx.event
    async def context_action(self, action: str, name: str):
        return await self._change(
            "contexts", lambda session, user: contexts.change_context(session, user, action, name)
        )

    @rx.event
    async def add_schedule(self, form: dict[str, Any]):
        name, schedule = str(form.get("context", "")), _schedule_from(form)
        return await self._change(
            "contexts", lambda session, user: contexts.add_schedule(session, user, name, schedule)
        )

    @rx.event
    async def clear_schedules(self, name: str):
        return await self._change(
            "contexts", lambda session, user: contexts.set_schedules(session, user, name, []), f"{name}: no schedule"
        )

    @rx.event
    async def disconnect(self, provider: str):
        return await self._change("integrations", lambda session, user: _disconnect(session, user, provider))

    @rx.event
    async def sync_now(self, provider: str):
        """Sync the person's Todoist now; beside the section, the result ("3 new tasks done") or why it failed."""
        if provider != todoist.PROVIDER:
            return None
        outcome = await self._change("integrations", _sync_now)
        if outcome is None and "integrations" in self.errors:  # a failed sync is stored: show the row as it now is
            errors = self.errors
            outcome = await self._change("integrations", lambda session, user: None)
            self.errors = errors
        return outcome

    @rx.event
    async def delete_account(self, form: dict[str, Any]):
        self.errors, self.notices = {}, {}
        try:
            self._check_origin()
            await asyncio.to_thread(_delete, self._cookie_map(), str(form.get("confirmation", "")))
        except Unauthenticated:
            return rx.redirect("/")
        except OOError as error:
            self.errors = {"delete": str(error)}
            return None
        except Exception:
            log.exception("account deletion failed")
            self.errors = {"delete": UNAVAILABLE}
            return None
        self.signed_in, self.said, self.params, self.consents = False, [], [], []
        self.contexts, self.integrations = [], []
        return rx.redirect("/")
