"""The one-tap context switch on the tip page, in the real app in headless Chromium: tapping "holiday" brings a tip
for a day off, the pressed button says which context is on, and the row works by keyboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import User
from oo_app.profile.contexts import create_context
from oo_app.recommender.composer import REST
from tests.browser_fixtures import DEMO_EMAIL, AppServer, live_tip

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp/oo-screenshots/contexts")


@pytest.fixture(scope="module")
def app_database(app_database: str) -> str:
    """The served database with the demo person's contexts: work and holiday."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        person = session.exec(select(User).where(User.email == DEMO_EMAIL)).one()
        for name in ("work", "holiday"):
            create_context(session, person, name)
        session.commit()
    engine.dispose()
    return app_database


@pytest.fixture
def page(signed_in_page: Callable[..., Page]) -> Page:
    return signed_in_page("/")


def _changed(page: Page, before: str) -> str:
    page.wait_for_function(
        "(before) => { const t = document.querySelector('#tip-text');"
        " return t && Number(t.dataset.tipId) > 0 && t.innerText.trim() !== before; }",
        arg=before,
    )
    return live_tip(page)


def test_tapping_holiday_on_the_tip_page_brings_a_tip_for_a_day_off(page: Page, app_server: AppServer) -> None:
    before = live_tip(page)
    holiday = page.get_by_role("group", name="Context").get_by_role("button", name="holiday")
    assert holiday.get_attribute("aria-pressed") == "false"
    assert page.get_by_role("button", name="none").get_attribute("aria-pressed") == "true"

    holiday.click()
    on_holiday = _changed(page, before)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "holiday.png"))
    assert on_holiday in {draft.text for draft in REST}, on_holiday
    assert page.get_attribute("#tip-text", "data-kind") == "advice"
    page.wait_for_function("() => document.querySelector('[aria-pressed=\"true\"]')?.innerText === 'holiday'")

    page.get_by_role("button", name="work").focus()
    page.keyboard.press("Enter")
    at_work = _changed(page, on_holiday)
    assert at_work not in {draft.text for draft in REST}
    page.wait_for_function("() => document.querySelector('[aria-pressed=\"true\"]')?.innerText === 'work'")
    page.screenshot(path=str(SCREENSHOTS / "work.png"))
