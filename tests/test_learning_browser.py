"""What a brand-new person sees of oO learning, in a real browser on the real app: they answer their first tips with
"done", and "why this tip?" then says what oO learned about tips like the one on screen ("You finish most tips like
this one"); "not for me" stays a quiet choice beside it. A screenshot of the page with its reasons goes to the test's
tmp_path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.demo import grant_consents
from oo_app.models import Tip, User
from tests.browser_fixtures import AppServer, tip_text

pytestmark = pytest.mark.browser

NIA = "nia@example.com"
MAX_ANSWERS = 15  # done reactions before oO must say what it learned


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    return {"OO_DEV_LOGIN": "true"}


def _new_person(database_url: str) -> int:
    """Nia: a person of a minute ago with the consents a first run grants, no history at all."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        nia = User(email=NIA, display_name="Nia", tz="Europe/Lisbon")
        session.add(nia)
        session.flush()
        grant_consents(session, nia, ("activity", "tasks", "mood"))
        session.commit()
        person = nia.id
    engine.dispose()
    return person


def _answered(database_url: str, person: int) -> list[Tip]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        tips = session.exec(select(Tip).where(Tip.user_id == person, Tip.reaction == "done")).all()
    engine.dispose()
    return list(tips)


def _lead_of(database_url: str, tip_id: int) -> str | None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        lead = session.get(Tip, tip_id).lead_agent
    engine.dispose()
    return lead


def _next_tip(page: Page, shown: str) -> None:
    page.wait_for_function(
        "(shown) => { const t = document.querySelector('#tip-text')?.innerText.trim(); return t && t !== shown; }",
        arg=shown,
    )


def test_a_new_person_who_does_their_tips_is_told_what_oo_learned(
    signed_in_page: Callable[..., Page], app_server: AppServer, tmp_path: Path
) -> None:
    person = _new_person(app_server.database_url)
    page = signed_in_page("/", email=NIA)
    said = ""
    for _ in range(MAX_ANSWERS):
        shown = tip_text(page)
        page.click("#why")
        page.wait_for_selector("#tip-why")
        if page.locator("#tip-learned").count():
            said = page.inner_text("#tip-learned")
            break
        page.click("#react-done")
        _next_tip(page, shown)
    page.screenshot(path=str(tmp_path / "why-this-tip-learned.png"), full_page=True)

    assert said.startswith("You finish most tips like this one"), f"after {MAX_ANSWERS} done tips: {said!r}"
    taken, reactions = map(int, re.search(r"\((\d+) of (\d+)\)", said).groups())
    shown_id = int(page.get_attribute("#tip-text", "data-tip-id"))
    answered = _answered(app_server.database_url, person)
    lead = _lead_of(app_server.database_url, shown_id)
    assert taken == reactions == sum(tip.lead_agent == lead for tip in answered) >= 3, "her own answers, counted"
    assert page.is_visible("#react-disliked"), "'not for me' is still there, quietly"
