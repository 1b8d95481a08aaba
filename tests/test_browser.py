"""The real app, prod build, driven in headless Chromium: one tip on a black page, reactions, live updates, and the
development sign-in and sign-out around them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import Event, Tip, User
from oo_app.models import Session as SessionRow
from oo_app.recommender import recommend
from tests.browser_fixtures import AppServer, tip_text

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    """The development login on, and the next tip written ahead."""
    return {"OO_DEV_LOGIN": "true", "OO_PREPARE_NEXT_TIP": "true"}


def _session_count(database_url: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = len(session.exec(select(SessionRow)).all())
    engine.dispose()
    return count


@pytest.fixture
def page(signed_in_page: Callable[..., Page]) -> Page:
    """The tip page of the signed-in demo person."""
    return signed_in_page("/")


def test_page_shows_one_tip_and_done_brings_a_different_one(page: Page, app_server: AppServer, tmp_path: Path) -> None:
    first = tip_text(page)
    first_id = int(page.get_attribute("#tip-text", "data-tip-id"))
    background = page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
    assert background == "rgb(0, 0, 0)", "the tip page is black"
    page.screenshot(path=str(tmp_path / "tip.png"))
    engine = make_engine(app_server[1])
    ahead = _wait_for(lambda: _written_ahead(engine, first_id))  # the server writes the next tip in the background
    page.click("#react-done")
    page.wait_for_function(
        "(first) => { const t = document.querySelector('#tip-text')?.innerText.trim(); return t && t !== first; }",
        arg=first,
    )
    assert tip_text(page) == ahead.text, "the reaction showed the tip written ahead"
    assert int(page.get_attribute("#tip-text", "data-tip-id")) == ahead.id
    page.screenshot(path=str(tmp_path / "after-done.png"))
    with Session(engine) as session:
        assert session.exec(select(Event).where(Event.type == "tip_done")).all(), "the reaction was logged"
    engine.dispose()


def test_not_for_me_is_a_quiet_reaction_that_brings_another_tip(page: Page, app_server: AppServer) -> None:
    first = tip_text(page)
    first_id = int(page.get_attribute("#tip-text", "data-tip-id"))
    page.click("#react-disliked")
    page.wait_for_function(
        "(first) => { const t = document.querySelector('#tip-text')?.innerText.trim(); return t && t !== first; }",
        arg=first,
    )
    engine = make_engine(app_server[1])
    with Session(engine) as session:
        answered = session.get(Tip, first_id)
        disliked = session.exec(select(Event).where(Event.type == "tip_disliked")).all()
    engine.dispose()
    assert answered.reaction == "disliked", "'not for me' is the disliked reaction"
    assert [event.payload.get("tip_id") for event in disliked][-1:] == [first_id], "and it is logged"


def _written_ahead(engine, shown_id: int) -> Tip | None:
    with Session(engine) as session:
        return session.exec(select(Tip).where(Tip.follows == shown_id)).first()


def _wait_for(probe, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"nothing after {timeout_s} s")
        time.sleep(0.2)
    return found


def test_a_newer_tip_appears_without_reload(page: Page, app_server: AppServer) -> None:
    shown = tip_text(page)
    page.evaluate("window.__sameDocument = true")
    engine = make_engine(app_server[1])
    with Session(engine) as session:  # what the scheduler does after fresh agent outputs
        newer = recommend(session, session.exec(select(User)).one())
        session.commit()
        newer_text = newer.text
    engine.dispose()
    assert newer_text != shown
    page.wait_for_function(
        "(text) => document.querySelector('#tip-text')?.innerText.trim() === text", arg=newer_text, timeout=20_000
    )
    assert page.evaluate("window.__sameDocument === true"), "the page updated in place, not by a reload"


def test_why_this_tip_gives_the_facts_and_the_writer_in_plain_words(page: Page) -> None:
    tip_text(page)
    page.click("#why")
    page.wait_for_selector("#tip-why")
    because, writer = page.inner_text("#tip-because").strip(), page.inner_text("#tip-writer").strip()
    assert because.endswith("."), f"a sentence of facts: {because!r}"
    assert "time-of-day" not in because, "the facts, not the agent's id"
    assert writer == "Written by oO's rules."


def test_without_a_session_the_page_offers_sign_in_and_no_tip(signed_out_page: Page, tmp_path: Path) -> None:
    signed_out_page.wait_for_selector("#sign-in")
    assert signed_out_page.query_selector("#tip-text") is None, "no tip without a session"
    assert signed_out_page.is_visible("#dev-login"), "OO_DEV_LOGIN=true shows the one-click development login"
    background = signed_out_page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
    assert background == "rgb(0, 0, 0)", "the sign-in page is black too"
    signed_out_page.screenshot(path=str(tmp_path / "sign-in.png"))


def test_the_dev_login_signs_in_and_sign_out_signs_out(
    signed_out_page: Page, app_server: AppServer, tmp_path: Path
) -> None:
    page, (base, database_url) = signed_out_page, app_server
    sessions_before = _session_count(database_url)
    page.click("#dev-login")
    assert tip_text(page)
    assert _session_count(database_url) == sessions_before + 1
    cookies = page.evaluate("document.cookie")
    assert "oo_csrf=" in cookies
    assert "oo_session" not in cookies, "page scripts never see the session token"
    page.screenshot(path=str(tmp_path / "dev-login-tip.png"))
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert page.url == base + "/"
    assert _session_count(database_url) == sessions_before, "sign-out deleted the session row"
    page.screenshot(path=str(tmp_path / "signed-out.png"))
