"""State of the tip page: the one tip on screen, its reactions, and a live watch for a newer tip.

Handlers run the (blocking) domain calls in a worker thread and only assign results; the person is resolved from
the page's cookies on the backend, as every page state does it (:mod:`oo_app.state.signed_in`). Without a live
session the page shows the sign-in view instead of a tip.

The backend may lose a page's state while the page stays open (Redis restarted, or the entry expired): a reaction
names the tip the page shows, so it still answers that tip, and the state is rebuilt from the session cookie.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

import reflex as rx
from sqlmodel import Session

from oo_app.auth.errors import Unauthenticated
from oo_app.errors import Conflict, OOError
from oo_app.models import Tip, User
from oo_app.profile.first_run import first_run_pending
from oo_app.recommender import mark_shown, react
from oo_app.recommender.on_request import replacement_within_limit, tip_after, tip_to_show
from oo_app.recommender.reasons import Why, why_this_tip
from oo_app.settings import get_settings
from oo_app.state.signed_in import SignedIn, as_person

log = logging.getLogger(__name__)

WATCH_MAX_S = 6 * 3600  # a forgotten tab stops watching after this long; a reload starts it again
UNAVAILABLE = "oO can't reach your tips right now. Try again in a moment."
# Past the person's tip limit with no unanswered tip (oo_app/recommender/limits.py); the live watch brings the next.
RESTING = "That's plenty of tips for now. The next one comes in a moment."


@dataclass(frozen=True)
class TipView:
    """A tip as the page shows it, with its answer to "why this tip?" (:mod:`oo_app.recommender.reasons`)."""

    id: int
    text: str
    kind: str
    model: str
    why: Why

    @classmethod
    def of(cls, tip: Tip, why: Why) -> TipView:
        return cls(tip.id, tip.text, str(tip.kind), tip.model, why)


def _shown(session: Session, tip: Tip | None) -> TipView | None:
    if tip is None:
        return None
    shown = mark_shown(session, tip)
    return TipView.of(shown, why_this_tip(session, shown))


def _show_current(cookies: dict[str, str]) -> TipView | None:
    """The tip to show; None past the person's tip limit when they have no unanswered tip."""
    return as_person(cookies, lambda session, user: _shown(session, tip_to_show(session, user)))


def _opened(cookies: dict[str, str]) -> tuple[bool, TipView | None]:
    """What the page shows when it opens, in one transaction: whether the person still has the first run to answer
    (then no tip: the first one comes from their answer), else the tip to show as :func:`_show_current` does."""

    def opened(session: Session, user: User) -> tuple[bool, TipView | None]:
        if first_run_pending(user):
            return True, None
        return False, _shown(session, tip_to_show(session, user))

    return as_person(cookies, opened)


def _replacement(cookies: dict[str, str], shown_id: int) -> TipView | None:
    return as_person(cookies, lambda session, user: _shown(session, replacement_within_limit(session, user, shown_id)))


def _react_and_next(cookies: dict[str, str], tip_id: int, reaction: str) -> TipView | None:
    """Record the reaction and show the next tip; None (the reaction kept) past the person's tip limit."""

    def react_and_next(session: Session, user: User) -> TipView | None:
        answered = react(session, user, tip_id, reaction)
        return _shown(session, tip_after(session, user, answered))

    return as_person(cookies, react_and_next)


class TipState(SignedIn, rx.State):
    tip_id: int = 0
    text: str = ""
    kind: str = ""
    model: str = ""
    # "why this tip?": the facts behind it, what oO learned about tips like it, who wrote it (plain sentences)
    because: str = ""
    learned: str = ""
    writer: str = ""
    error: str = ""
    busy: bool = False
    show_why: bool = False
    dev_login: bool = False  # the sign-in view offers the demo person (development only)
    first_run: bool = False  # the person has never answered the first run: it shows instead of a tip (FirstRunState)
    # The live watch that owns this page: a newer watch (a reload, or Reflex re-running ``load`` when it rehydrates a
    # lost state, which cancels the older watch) takes over and the older one stops.
    _watch_id: str = ""

    def _apply(self, view: TipView | None) -> None:
        if view is None:
            self._resting()
            return
        self.tip_id, self.text, self.kind, self.model = view.id, view.text, view.kind, view.model
        self.because, self.learned, self.writer = view.why.because, view.why.learned, view.why.written_by
        self.error, self.show_why = "", False

    def _clear_tip(self) -> None:
        self.tip_id, self.text, self.kind, self.model = 0, "", "", ""
        self.because, self.learned, self.writer = "", "", ""

    def _resting(self) -> None:
        self._clear_tip()
        self.error, self.show_why = RESTING, False

    def _signed_out(self) -> None:
        self._mark_signed_out()
        self.first_run = False
        self._clear_tip()
        self.dev_login = get_settings().dev_login_enabled

    @rx.event
    async def load(self):
        cookies = self._cookie_map()
        try:
            self.first_run, view = await asyncio.to_thread(_opened, cookies)
            if self.first_run:
                self._mark_signed_in(cookies)
                return None
            self._apply(view)
        except Unauthenticated:
            self._signed_out()
            return None
        except Exception:
            log.exception("could not load the current tip")
            self.error = UNAVAILABLE
        self._mark_signed_in(cookies)
        return TipState.watch

    @rx.event
    async def react(self, reaction: str, shown_id: int = 0):
        """Answer the tip the page shows (``shown_id``, sent with the click) and show the next one."""
        tip_id = shown_id or self.tip_id
        if self.busy or not tip_id:
            return
        lost = not self.checked  # the page shows a tip, yet this state never loaded one: the backend lost it
        self.busy = True
        yield
        cookies = self._cookie_map()
        try:
            self._apply(await asyncio.to_thread(_react_and_next, cookies, tip_id, reaction))
            if lost:
                log.warning("this page's state was lost; rebuilt from its session")
                self._mark_signed_in(cookies)
        except Unauthenticated:
            self._signed_out()
        except Conflict:
            # Already answered elsewhere (a notification's button, another tab): the answer stands, and the page moves
            # on to what the person is due now, as it would have after answering here.
            try:
                self._apply(await asyncio.to_thread(_show_current, cookies))
            except Exception:
                log.exception("could not load the current tip")
                self.error = UNAVAILABLE
        except OOError as error:
            self.error = str(error)
        except Exception:
            log.exception("could not record the reaction")
            self.error = UNAVAILABLE
        finally:
            self.busy = False

    @rx.event
    def toggle_why(self):
        self.show_why = not self.show_why

    @rx.event(background=True)
    async def watch(self):
        """While this page stays connected, swap in a newer tip (e.g. from fresh agent outputs) without reload.

        It outlives the state store's outages: a round that cannot reach this page's state (Redis restarting) is
        skipped, and a state lost meanwhile is rebuilt from the cookies and the tip this watch saw last. One watch
        runs per page: the newest started takes over, so a watch cancelled while a newer one starts never leaves the
        page without one."""
        mine = uuid.uuid4().hex
        async with self:
            self._watch_id = mine
            token = self.router.session.client_token
            shown_id, cookies = self.tip_id, self._cookie_map()
        started = time.monotonic()
        try:
            while time.monotonic() - started < WATCH_MAX_S and _connected(token):
                await asyncio.sleep(get_settings().live_poll_s)
                try:
                    async with self:
                        lost = not self.checked
                        if not lost and self._watch_id not in (mine, ""):
                            return  # a newer watch took this page over
                        self._watch_id = mine
                        if not lost:
                            # The newest cookies: the tab may have signed out and in again since the watch began. A
                            # rebuilt state has none until the page sends an event: keep the ones the watch holds.
                            shown_id, cookies = self.tip_id, self._cookie_map() or cookies
                    if lost or not shown_id:  # the state was lost, or the page rests past the person's tip limit
                        view = await asyncio.to_thread(_show_current, cookies)
                    else:
                        view = await asyncio.to_thread(_replacement, cookies, shown_id)
                except Unauthenticated:
                    async with self:
                        if lost or self._cookie_map() == cookies:
                            self._signed_out()
                    break
                except Exception:
                    log.warning("live tip check failed; retrying", exc_info=True)
                    continue
                if view is None:
                    continue
                try:
                    async with self:
                        if lost and not self.checked:
                            log.warning("this page's state was lost; the live watch rebuilt it from its session")
                            self._apply(view)
                            self._mark_signed_in(cookies)
                        elif self.tip_id == shown_id and not self.busy:
                            self._apply(view)
                        shown_id = self.tip_id
                except Exception:
                    log.warning("live tip update failed; retrying", exc_info=True)
        finally:
            try:
                async with self:
                    if self._watch_id == mine:
                        self._watch_id = ""
            except Exception:
                log.warning("could not mark the live watch ended", exc_info=True)


def _connected(token: str) -> bool:
    from reflex.utils.prerequisites import get_and_validate_app

    namespace = get_and_validate_app().app.event_namespace
    return namespace is not None and token in namespace.token_to_sid
