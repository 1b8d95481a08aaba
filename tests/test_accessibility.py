"""The tip page, the sign-in view and the settings page work by keyboard and for screen readers.

axe-core (the audit behind Lighthouse's accessibility score; installed by ./scripts/test into .tools) runs inside the
real pages, prod build, in headless Chromium, against WCAG 2.1 A/AA and its best practices: names, labels, landmarks,
contrast on black. The keyboard tests walk the pages with Tab and act with Enter and Space.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.demo import seed_fresh_person
from oo_app.models import User
from oo_app.profile.contexts import create_context
from tests.browser_fixtures import DEMO_EMAIL, AppServer, live_tip

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
AXE_JS = Path(os.environ.get("OO_AXE_JS", ROOT / ".tools/node_modules/axe-core/axe.min.js"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
NEW_PERSON = "new@example.com"  # meets the first run


@pytest.fixture(scope="module")
def app_database(app_database: str) -> str:
    """The seeded database and a brand-new person who has not answered the first run."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        seed_fresh_person(session, NEW_PERSON)
        session.commit()
    engine.dispose()
    return app_database


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    return {"OO_DEV_LOGIN": "true"}


@pytest.fixture
def page(signed_in_context: Callable[..., BrowserContext]) -> Page:
    """A signed-in page of the demo person (not yet navigated)."""
    # bypass_csp: the audit injects axe-core as an inline script, which the page's CSP refuses (as it should).
    return signed_in_context(bypass_csp=True).new_page()


def _violations(page: Page) -> list[str]:
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is missing at {AXE_JS}; ./scripts/test installs it")
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags } })).violations"
        ".map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)",
        AXE_TAGS,
    )
    return list(result)


def _tab_order(page: Page, count: int) -> list[str]:
    order = []
    for _ in range(count):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))
    return order


def test_the_tip_page_passes_the_audit(page: Page, app_server: AppServer) -> None:
    page.goto(app_server[0] + "/")
    live_tip(page)
    page.click("#why")
    page.wait_for_selector("#tip-why")
    page.wait_for_selector("#mood-low")  # the mood check-in (the demo person allows it) is audited too
    assert _violations(page) == []


def test_the_first_run_passes_the_audit_and_works_by_keyboard(
    signed_in_context: Callable[..., BrowserContext], app_server: AppServer
) -> None:
    page = signed_in_context(NEW_PERSON, bypass_csp=True).new_page()
    page.goto(app_server.base + "/")
    page.wait_for_selector("#consent-activity")
    assert _violations(page) == []
    page.locator("body").focus()
    expected = [
        "consent-activity",
        "consent-calendar",
        "consent-mood",
        "consent-tasks",
        "first-run-continue",
        "first-run-skip",
    ]
    assert _tab_order(page, len(expected)) == expected
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.focus("#consent-tasks")
    page.keyboard.press("Space")
    assert page.is_checked("#consent-tasks"), "a choice is made with the keyboard"
    page.focus("#first-run-continue")
    page.keyboard.press("Enter")
    live_tip(page)
    assert page.query_selector("#first-run") is None


def test_the_tip_page_with_the_context_switch_passes_the_audit(page: Page, app_server: AppServer) -> None:
    engine = make_engine(app_server.database_url)
    with Session(engine) as session:
        person = session.exec(select(User).where(User.email == DEMO_EMAIL)).one()
        for name in ("office", "summer holiday"):
            create_context(session, person, name)
        session.commit()
    engine.dispose()
    page.goto(app_server.base + "/")
    live_tip(page)
    page.wait_for_selector("#context-switch [aria-pressed='true']")
    assert _violations(page) == []
    page.get_by_role("button", name="summer holiday").click()
    page.wait_for_function("() => document.querySelector('[aria-pressed=\"true\"]')?.innerText === 'summer holiday'")
    assert _violations(page) == []


def test_the_sign_in_view_passes_the_audit(new_context: Callable[..., BrowserContext], app_server: AppServer) -> None:
    page = new_context(viewport=None, bypass_csp=True).new_page()  # Playwright's default viewport; axe-core as above
    page.goto(app_server.base + "/")
    page.wait_for_selector("#sign-in")
    assert _violations(page) == []


def test_the_settings_page_passes_the_audit(page: Page, app_server: AppServer) -> None:
    page.goto(app_server[0] + "/settings")
    page.wait_for_selector("#delete-account")
    assert _violations(page) == []
    page.click("#advanced-summary")  # the raw values, folded away until asked for
    page.wait_for_selector("#pref-time-of-day-preferred_hour")
    assert _violations(page) == []


def test_the_tip_page_works_by_keyboard(page: Page, app_server: AppServer) -> None:
    page.goto(app_server[0] + "/")
    first = live_tip(page)
    page.locator("body").focus()
    expected = ["settings-link", "sign-out", "react-done", "react-snoozed", "react-dismissed", "react-disliked", "why"]
    assert _tab_order(page, len(expected)) == expected
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.get_attribute("#react-disliked", "aria-label") == "Not for me: fewer tips like this one"
    page.keyboard.press("Enter")
    page.wait_for_selector("#tip-why")
    assert page.get_attribute("#why", "aria-expanded") == "true"
    page.focus("#react-dismissed")
    page.keyboard.press("Space")
    page.wait_for_function("(first) => document.querySelector('#tip-text')?.innerText.trim() !== first", arg=first)
    assert live_tip(page) != first


def test_the_settings_page_works_by_keyboard(page: Page, app_server: AppServer) -> None:
    page.goto(app_server[0] + "/settings")
    page.wait_for_selector("#delete-account")
    reached = set(_tab_order(page, 100))
    controls = (
        "switch-time-of-day",
        "said-time-of-day-preferred_hour-hour",
        "advanced-summary",
        "push-on",
        "new-context",
        "connect-todoist",
        "calendar-caldav-url",
        "calendar-connect-ics",
        "export",
    )
    for control in (*controls, "delete-confirmation", "delete-account"):
        assert control in reached, f"{control} cannot be reached with Tab"
    page.focus("#new-context")
    page.keyboard.type("garden")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#contexts-feedback')?.innerText.includes('garden')")


def test_the_audit_would_catch_a_nameless_control_or_grey_on_black(page: Page, app_server: AppServer) -> None:
    page.goto(app_server[0] + "/")
    live_tip(page)
    page.evaluate(
        """() => {
            const button = document.createElement('button');
            document.querySelector('main').appendChild(button);
            const faint = document.createElement('p');
            faint.textContent = 'too faint';
            faint.style.color = '#333333';
            document.querySelector('main').appendChild(faint);
        }"""
    )
    found = " ".join(_violations(page))
    assert "button-name" in found
    assert "color-contrast" in found
