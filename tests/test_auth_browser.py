"""Signing in with OpenID Connect in a real browser: the prod app, a real provider on loopback, headless Chromium.

The sign-in page, the provider's consent form, the callback, the first run of the new person ("not now"), the tip
page of that person, sign-out, sign-in again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import oidc_provider_mock
import pytest
from playwright.sync_api import BrowserContext, Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import OAuthAccount, Tip, User
from oo_app.models import Session as SessionRow
from tests.auth_helpers import Provider, oidc_provider
from tests.browser_fixtures import AppServer

pytestmark = pytest.mark.browser

GRACE = oidc_provider_mock.User(
    sub="grace-subject",
    claims={"email": "Grace@Example.com", "email_verified": True, "name": "Grace", "zoneinfo": "America/New_York"},
)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider([GRACE]) as provider:
        yield provider


@pytest.fixture(scope="module")
def app_server_env(provider: Provider) -> dict[str, str]:
    """The app signs in through ``provider`` only (no development login)."""
    return {
        "OO_OIDC_ISSUER": provider.issuer,
        "OO_OIDC_CLIENT_ID": "oo-browser",
        "OO_OIDC_CLIENT_SECRET": "browser-secret",
        "OO_DEV_LOGIN": "false",
    }


def _rows(database_url: str) -> tuple[User | None, list[SessionRow], list[Tip]]:
    """Grace (if she exists yet), the open sessions, and the tips shown to her."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        account = session.exec(select(OAuthAccount).where(OAuthAccount.subject == GRACE.sub)).first()
        person = session.get(User, account.user_id) if account else None
        sessions = list(session.exec(select(SessionRow)).all())
        tips = list(session.exec(select(Tip).where(Tip.user_id == person.id))) if person else []
    engine.dispose()
    return person, sessions, tips


def _past_the_first_run(page: Page) -> None:
    """A new person meets the first run (tests/test_first_run_browser.py): answered "not now" here."""
    page.wait_for_selector("#first-run, #tip-text")
    if page.query_selector("#first-run") is not None:
        page.click("#first-run-skip")
    page.wait_for_selector("#tip-text")


def test_sign_in_with_the_provider_shows_that_persons_tip_and_sign_out_ends_it(
    signed_out_page: Page, app_server: AppServer, provider: Provider, tmp_path: Path
) -> None:
    page, (base, database_url) = signed_out_page, app_server
    page.wait_for_selector("#sign-in")
    assert page.query_selector("#dev-login") is None, "no development login when it is off"
    page.screenshot(path=str(tmp_path / "1-sign-in.png"))

    page.click("#sign-in")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize?*")
    page.screenshot(path=str(tmp_path / "2-provider.png"))
    page.click(f"button[name=sub][value={GRACE.sub}]")

    page.wait_for_url(base + "/")
    _past_the_first_run(page)
    page.wait_for_function("() => (document.querySelector('#tip-text')?.innerText || '').trim().length > 0")
    shown = page.inner_text("#tip-text").strip()
    page.screenshot(path=str(tmp_path / "3-tip.png"))
    person, sessions, tips = _rows(database_url)
    assert person is not None, "the callback created the person of the provider's account"
    assert (person.email, person.tz) == ("grace@example.com", "America/New_York")
    assert [row.user_id for row in sessions] == [person.id]
    assert shown in {tip.text for tip in tips if tip.shown_at}, "the page shows a tip of that person"
    assert "oo_session" not in page.evaluate("document.cookie"), "the session token stays HttpOnly"

    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    page.screenshot(path=str(tmp_path / "4-signed-out.png"))
    assert page.query_selector("#tip-text") is None
    assert _rows(database_url)[1] == [], "sign-out deleted the session row"
    page.reload()
    page.wait_for_selector("#sign-in")
    assert page.query_selector("#tip-text") is None, "a reload stays signed out"


def test_a_tampered_callback_shows_a_plain_page_with_a_way_back(
    new_context: Callable[..., BrowserContext], app_server: AppServer, tmp_path: Path
) -> None:
    base, database_url = app_server
    page = new_context().new_page()
    response = page.goto(base + "/auth/callback?code=stolen-code&state=forged-state")
    assert response is not None
    assert response.status == 400
    assert page.inner_text("#auth-message") == "Sign-in failed: the request was tampered with or expired. Try again."
    page.screenshot(path=str(tmp_path / "refused.png"))
    page.click("#auth-back")
    page.wait_for_selector("#sign-in")
    assert _rows(database_url)[1] == [], "no session was opened"


def test_signed_in_with_the_provider_settings_export_and_deletion_work(
    new_context: Callable[..., BrowserContext], app_server: AppServer, provider: Provider, tmp_path: Path
) -> None:
    base, database_url = app_server
    page = new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True).new_page()
    page.goto(base + "/")
    page.click("#sign-in")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize?*")
    page.click(f"button[name=sub][value={GRACE.sub}]")
    page.wait_for_url(base + "/")
    _past_the_first_run(page)

    page.click("#settings-link")
    page.wait_for_selector("#said-time-of-day-preferred_hour")  # what oO learned, in plain words
    assert "Signed in as grace@example.com" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "5-settings.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text()
    assert "grace@example.com" in exported
    assert "demo@example.com" not in exported, "the export holds this person's data only"

    page.fill("#delete-confirmation", "grace@example.com")
    page.click("#delete-account")
    page.wait_for_selector("#sign-in")
    page.screenshot(path=str(tmp_path / "6-deleted.png"))
    person, sessions, _tips = _rows(database_url)
    assert person is None, "the account and its OAuth link are gone"
    assert sessions == []
