"""State of the tip page's one-tap context switch: the person's contexts, the one in effect, and the switch.

A switch is a choice by hand (:func:`oo_app.profile.contexts.switch_context`): it holds until the next schedule
boundary. It writes a tip for the new context in the same transaction; the button then sends the tip page's own
``load`` (:mod:`oo_app.components.context_switch`), which shows that tip: one page state never calls another's.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from sqlmodel import Session

from oo_app.auth.errors import Unauthenticated
from oo_app.errors import OOError
from oo_app.models import User
from oo_app.profile.contexts import list_contexts, switch_context
from oo_app.recommender.on_request import tip_for_new_context
from oo_app.state.signed_in import SignedIn, as_person

log = logging.getLogger(__name__)

NONE = ""  # the "none" button: no context in effect


def _contexts(session: Session, user: User) -> tuple[list[str], str]:
    states = list_contexts(session, user)
    return [state.name for state in states], next((state.name for state in states if state.in_effect), NONE)


def _switch(cookies: dict[str, str], name: str) -> tuple[list[str], str]:
    def switch(session: Session, user: User) -> tuple[list[str], str]:
        switch_context(session, user, name or None)
        tip_for_new_context(session, user)
        return _contexts(session, user)

    return as_person(cookies, switch)


class ContextSwitchState(SignedIn, rx.State):
    names: list[str] = []
    current: str = NONE
    busy: bool = False

    @rx.event
    async def load(self):
        try:
            self.names, self.current = await asyncio.to_thread(as_person, self._cookie_map(), _contexts)
        except Unauthenticated:
            self.names, self.current = [], NONE
        except Exception:
            log.exception("could not load the person's contexts")

    @rx.event
    async def switch(self, name: str):
        """Put ``name`` ("" for none) in effect by hand and show a tip written for it."""
        if self.busy or name == self.current:
            return
        self.busy = True
        yield
        try:
            self._check_origin()
            self.names, self.current = await asyncio.to_thread(_switch, self._cookie_map(), name)
        except Unauthenticated:
            self.names, self.current = [], NONE
        except OOError as error:
            log.info("context switch refused: %s", error)
        except Exception:
            log.exception("could not switch the context")
        finally:
            self.busy = False
