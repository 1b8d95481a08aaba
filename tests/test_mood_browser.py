"""The mood check-in on the real tip page: reached and tapped by keyboard, announced, stored as one event."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import Event, User
from tests.browser_fixtures import DEMO_EMAIL, AppServer, live_tip

pytestmark = pytest.mark.browser


def _mood_levels(database_url: str) -> list[int]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == DEMO_EMAIL)).one()
        rows = session.exec(select(Event).where(Event.user_id == user.id, Event.type == "mood")).all()
        levels = [row.payload["level"] for row in rows]
    engine.dispose()
    return levels


def test_a_mood_is_tapped_by_keyboard_announced_and_stored(
    signed_in_page: Callable[..., Page], app_server: AppServer
) -> None:
    page = signed_in_page()
    live_tip(page)
    page.wait_for_selector("#mood-low")
    assert page.get_attribute("[role=group][aria-labelledby=mood-question]", "aria-labelledby") == "mood-question"

    page.focus("#why")
    for _ in range(10):  # the check-in follows the tip's own controls in the tab order
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "mood-low":
            break
    assert page.evaluate("() => document.activeElement.id") == "mood-low"
    page.keyboard.press("Enter")

    page.wait_for_function("() => document.querySelector('#mood-note')?.innerText.includes('low')")
    assert page.get_attribute("#mood-low", "aria-pressed") == "true"
    assert page.get_attribute("#mood-good", "aria-pressed") == "false"
    assert _mood_levels(app_server.database_url) == [1]

    page.focus("#mood-good")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('#mood-note')?.innerText.includes('Changed to good')")
    assert page.get_attribute("#mood-good", "aria-pressed") == "true"
    assert _mood_levels(app_server.database_url) == [3], "a second tap within the window replaces the first"
