"""State of the mood check-in on the tip page: offered only to a signed-in person who allows ``mood``.

Its own small state beside the tip page's (it never imports it): the control loads itself when it appears, and a
tap calls :func:`oo_app.profile.mood.record_mood` in a worker thread, like the API's ``POST /api/mood``. ``chosen``
is the level of the check-in a tap would replace (the last half hour), 0 when none; ``note`` is what the control's
live region announces. Handlers check that the page's websocket came from oO's own origin before anything is read
or written.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from sqlmodel import Session

from oo_app.auth.errors import Unauthenticated
from oo_app.errors import OOError
from oo_app.models import User
from oo_app.profile.mood import current_mood, mood_allowed, record_mood
from oo_app.state.signed_in import SignedIn, as_person

log = logging.getLogger(__name__)

UNAVAILABLE = "oO can't save that right now. Try again in a moment."


def _offer(session: Session, user: User) -> tuple[bool, int]:
    """Whether to offer the check-in, and the level of the one a tap would replace (0 when none)."""
    if not mood_allowed(session, user.id):
        return False, 0
    current = current_mood(session, user)
    return True, current.level if current is not None else 0


def _record(cookies: dict[str, str], level: int) -> str:
    """Store the check-in; the sentence the live region announces."""
    state = as_person(cookies, lambda session, user: record_mood(session, user, level))
    return f"{'Changed to' if state.replaced else 'Noted:'} {state.label}. Thank you."


class MoodState(SignedIn, rx.State):
    offered: bool = False
    chosen: int = 0
    note: str = ""
    busy: bool = False

    @rx.event
    async def load(self):
        cookies = self._cookie_map()
        try:
            self._check_origin()
            self.offered, self.chosen = await asyncio.to_thread(as_person, cookies, _offer)
        except Unauthenticated:
            self._mark_signed_out()
            self.offered, self.chosen = False, 0
            return
        except Exception:
            log.exception("could not load the mood check-in")
            self.offered, self.chosen = False, 0
            return
        self._mark_signed_in(cookies)

    @rx.event
    async def tap(self, level: int):
        """Check in at ``level``; the live region says what was stored, or why nothing was."""
        if self.busy:
            return
        self.busy = True
        yield
        try:
            self._check_origin()
            self.note = await asyncio.to_thread(_record, self._cookie_map(), level)
            self.chosen = level
        except Unauthenticated:
            self._mark_signed_out()
            self.offered, self.chosen, self.note = False, 0, ""
        except OOError as error:
            self.note = str(error)
        except Exception:
            log.exception("could not record the mood check-in")
            self.note = UNAVAILABLE
        finally:
            self.busy = False
