"""State of the first run on the tip page: the consents offered, the Todoist offer, "continue" and "not now".

The page shows the first run instead of the tip while ``TipState.first_run`` says so; this state holds only the
view's choices. "continue" and "not now" record the answer and write the first tip in a worker thread (the domain:
:mod:`oo_app.profile.first_run`); the view then asks the tip's state to load (each trigger chains both events, as a
page state never imports another). The quiet note that says why a tip is generic lives here too: set by an answer
that granted nothing, cleared by the next page load, so it is seen once. When the first run opens, the browser tells
its time zone (``Intl``), kept on the backend and stored with the answer if it is a zone oO knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import reflex as rx
from sqlmodel import Session

from oo_app.auth.errors import Unauthenticated
from oo_app.errors import OOError
from oo_app.integrations import oauth
from oo_app.integrations.errors import IntegrationNotConfigured
from oo_app.models import User
from oo_app.profile.first_run import answer_first_run, first_run_pending, first_tip, offered_consents
from oo_app.state.signed_in import SignedIn, as_person

log = logging.getLogger(__name__)

UNAVAILABLE = "oO can't save your answer right now. Try again in a moment."

TODOIST = "todoist"
# Runs in the page: the IANA zone the browser's clock runs in ("" when it cannot tell).
ZONE_SCRIPT = "(Intl.DateTimeFormat().resolvedOptions().timeZone || '')"


@dataclass
class ConsentChoice:
    key: str
    title: str
    text: str
    granted: bool = False


def _todoist_status(session: Session, user: User) -> str:
    """ "" when Todoist is not set up on this server, else "connected" or "offer"."""
    try:
        oauth.todoist_provider()
    except IntegrationNotConfigured:
        return ""
    integration = oauth.integration_of(session, user, TODOIST)
    return "connected" if integration is not None and integration.status == oauth.CONNECTED else "offer"


def _opened(cookies: dict[str, str]) -> tuple[bool, str]:
    """Whether the person meets the first run, and the Todoist offer's status."""
    return as_person(cookies, lambda session, user: (first_run_pending(user), _todoist_status(session, user)))


def _answer(cookies: dict[str, str], granted: Mapping[str, bool] | None, zone: str | None) -> bool:
    """Record the answer (and the browser's ``zone``), then write the first tip from the agents it allows; whether
    the tips may now be personal.

    Two transactions: the answer stands even when writing the tip fails (the page then writes one as usual)."""
    answer = as_person(cookies, lambda session, user: answer_first_run(session, user, granted, zone=zone))
    if answer.recorded:
        try:
            first = as_person(cookies, first_tip)
        except Exception:
            log.exception("could not write the first tip; the tip page writes one as usual")
        else:
            log.info("first tip %s written from agents %s", first.tip.id, first.agents)
    return answer.personal


class FirstRunState(SignedIn, rx.State):
    choices: list[ConsentChoice] = []
    todoist: str = ""  # "" (not set up on this server), "offer" or "connected"
    busy: bool = False
    error: str = ""
    note: bool = False  # the quiet line under a generic first tip
    _browser_zone: str = ""  # what the browser reported, unchecked until the answer stores it (backend only)

    @rx.event
    async def open(self):
        """On every load of the tip page: clear the note (it was seen), and fill the first run's choices when the
        person meets it, then ask the browser its time zone. Choices already made stay (the Todoist round trip comes
        back to this tab's state)."""
        self.note, self.error = False, ""
        try:
            pending, self.todoist = await asyncio.to_thread(_opened, self._cookie_map())
        except Unauthenticated:
            return
        except Exception:
            log.exception("could not open the first run")
            return
        if pending and not self.choices:
            self.choices = [ConsentChoice(c.key, c.title, c.text) for c in offered_consents()]
        if pending:
            return rx.call_script(ZONE_SCRIPT, callback=FirstRunState.zone_reported)
        return None

    @rx.event
    def zone_reported(self, zone: str):
        """The browser's time zone, as it said it; checked only when the answer stores it."""
        self._browser_zone = zone[:65] if isinstance(zone, str) else ""

    @rx.event
    def toggle(self, key: str, granted: bool):
        self.choices = [
            ConsentChoice(c.key, c.title, c.text, bool(granted) if c.key == key else c.granted) for c in self.choices
        ]

    @rx.event
    async def save(self, form: dict[str, str]):
        """ "continue": the consents ticked (the form's boxes) are granted, the rest recorded as not granted."""
        async for update in self._answered({choice.key: choice.key in form for choice in self.choices}):
            yield update

    @rx.event
    async def skip(self):
        """ "not now": nothing granted; the person gets a generic tip and the note that says why."""
        async for update in self._answered(None):
            yield update

    async def _answered(self, granted: Mapping[str, bool] | None):
        """Record the answer in a worker thread while the view says the first tip is being written."""
        if self.busy:
            return
        self.busy, self.error = True, ""
        yield
        try:
            zone = self._browser_zone or None
            self.note = not await asyncio.to_thread(_answer, self._cookie_map(), granted, zone)
        except Unauthenticated:
            pass  # the tip's state, loading next, shows the sign-in view
        except OOError as error:
            self.error = str(error)
        except Exception:
            log.exception("could not record the first run's answer")
            self.error = UNAVAILABLE
        finally:
            self.busy = False
