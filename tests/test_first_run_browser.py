"""The first run in a real browser: brand-new people sign in through a real OpenID Connect provider on loopback.

One answers with two consents and sees a first tip written from the agents' facts, which claim nothing learned yet;
one says "not now" and sees a tip with the quiet note, once; one connects Todoist (the faithful stand-in of
tests/fakes/todoist.py) and comes back to the first run; one answers from a browser in Paris and is then in Paris's
time zone.
Screenshots of each step go to the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import oidc_provider_mock
import pytest
from playwright.sync_api import BrowserContext, Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.integrations.oauth import CONNECTED
from oo_app.models import Consent, Integration, OAuthAccount, Tip, User
from oo_app.recommender.reasons import BY_THE_CLOCK, NO_HISTORY
from tests.auth_helpers import Provider, oidc_provider
from tests.browser_fixtures import AppServer, live_tip, signed_in_by_provider_env
from tests.fakes.todoist import FakeTodoist

pytestmark = pytest.mark.browser


def _person(sub: str, name: str) -> oidc_provider_mock.User:
    return oidc_provider_mock.User(
        sub=sub, claims={"email": f"{name.lower()}@example.com", "email_verified": True, "name": name}
    )


ADA, BOB, CY = _person("ada-subject", "Ada"), _person("bob-subject", "Bob"), _person("cy-subject", "Cy")
DEE = _person("dee-subject", "Dee")  # signs in from a browser in Paris; her provider sends no zoneinfo


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider([ADA, BOB, CY, DEE]) as provider:
        yield provider


@pytest.fixture(scope="module")
def todoist() -> Iterator[FakeTodoist]:
    with FakeTodoist() as fake:
        yield fake


@pytest.fixture(scope="module")
def app_server_env(provider: Provider, todoist: FakeTodoist) -> dict[str, str]:
    """Sign-in through ``provider`` only; Todoist set up against the stand-in."""
    return signed_in_by_provider_env(provider, todoist, "oo-browser")


def _sign_in(page: Page, base: str, provider: Provider, person: oidc_provider_mock.User) -> None:
    page.goto(base + "/")
    page.click("#sign-in")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize?*")
    page.click(f"button[name=sub][value={person.sub}]")
    page.wait_for_url(base + "/")


def _rows(database_url: str, person: oidc_provider_mock.User) -> tuple[User, dict[str, bool], list[Tip]]:
    """The person, their consents and their tips."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        account = session.exec(select(OAuthAccount).where(OAuthAccount.subject == person.sub)).one()
        user = session.get(User, account.user_id)
        consents = {row.key: row.granted for row in session.exec(select(Consent).where(Consent.user_id == user.id))}
        tips = list(session.exec(select(Tip).where(Tip.user_id == user.id)))
    engine.dispose()
    return user, consents, tips


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(viewport={"width": 1000, "height": 800}).new_page()


def test_a_new_person_grants_two_consents_and_the_first_tip_comes_from_agents(
    page: Page, app_server: AppServer, provider: Provider, tmp_path: Path
) -> None:
    base, database_url = app_server
    _sign_in(page, base, provider, ADA)
    page.wait_for_selector("#first-run")
    page.screenshot(path=str(tmp_path / "1-first-run.png"), full_page=True)
    assert page.query_selector("#tip-text") is None, "the first run shows instead of a tip"
    assert not page.is_checked("#consent-activity"), "nothing is granted until the person ticks it"
    assert not page.is_checked("#consent-tasks")
    assert _rows(database_url, ADA)[2] == [], "no tip is written before the person answers"

    page.check("#consent-activity")
    page.check("#consent-tasks")
    page.screenshot(path=str(tmp_path / "2-two-ticked.png"), full_page=True)
    page.click("#first-run-continue")
    first = live_tip(page)
    page.click("#why")
    page.wait_for_selector("#tip-why")
    page.screenshot(path=str(tmp_path / "3-first-tip.png"), full_page=True)

    why = page.inner_text("#tip-why")
    because = page.inner_text("#tip-because").strip()
    user, consents, tips = _rows(database_url, ADA)
    assert user.onboarded_at is not None
    assert consents == {"activity": True, "calendar": False, "mood": False, "tasks": True}
    shown = [tip for tip in tips if tip.text == first]
    assert shown, "the page shows the person's first tip"
    assert shown[0].agent_ids, "written from the agents' outputs"
    assert not [agent for agent in shown[0].agent_ids if "-" in agent and agent in why], f"no agent id: {why}"
    # With no history yet, nothing learned is claimed: the reason says oO does not know her habits or hours yet.
    assert because in (NO_HISTORY, BY_THE_CLOCK) or because.startswith("oO does not know your"), because
    assert page.query_selector("#first-run-note") is None, "no note under a personal tip"

    page.reload()
    live_tip(page)
    assert page.query_selector("#first-run") is None, "the first run is shown once"


def test_not_now_gives_a_tip_and_the_quiet_note_once(
    page: Page, app_server: AppServer, provider: Provider, tmp_path: Path
) -> None:
    base, database_url = app_server
    _sign_in(page, base, provider, BOB)
    page.wait_for_selector("#first-run")
    page.click("#first-run-skip")
    live_tip(page)
    page.wait_for_selector("#first-run-note")
    page.screenshot(path=str(tmp_path / "1-skipped.png"), full_page=True)
    note = page.inner_text("#first-run-note")
    assert "general" in note, note
    assert page.get_attribute("#first-run-note-settings", "href") == "/settings"
    user, consents, _tips = _rows(database_url, BOB)
    assert user.onboarded_at is not None
    assert not any(consents.values()), "not now grants nothing"

    page.reload()
    live_tip(page)
    # The page's state outlives the reload until its load runs: the note goes then (the wait fails if it stays).
    page.wait_for_selector("#first-run-note", state="detached")
    page.screenshot(path=str(tmp_path / "2-reloaded.png"), full_page=True)
    assert page.query_selector("#first-run-note") is None, "the note is shown once"
    assert page.query_selector("#first-run") is None, "the first run is shown once"


def test_connecting_todoist_from_the_first_run_comes_back_to_it(
    page: Page, app_server: AppServer, provider: Provider, todoist: FakeTodoist, tmp_path: Path
) -> None:
    base, database_url = app_server
    todoist.redirect_uri = base + "/integrations/todoist/callback"
    _sign_in(page, base, provider, CY)
    page.wait_for_selector("#first-run-todoist")
    page.check("#consent-tasks")
    page.click("#first-run-todoist")
    page.wait_for_url(base + "/")
    page.wait_for_selector("#first-run-todoist-connected")
    page.screenshot(path=str(tmp_path / "1-back-from-todoist.png"), full_page=True)
    assert page.is_checked("#consent-tasks"), "the choice made before leaving is kept"
    assert page.query_selector("#first-run-todoist") is None, "no offer once connected"
    user, consents, _tips = _rows(database_url, CY)
    assert consents == {}, "connecting grants no consent: only the person's ticks do"
    engine = make_engine(database_url)
    with Session(engine) as session:
        integration = session.exec(select(Integration).where(Integration.user_id == user.id)).one()
    engine.dispose()
    assert integration.status == CONNECTED


def test_a_new_person_answering_from_a_browser_in_paris_is_in_paris_time(
    new_context: Callable[..., BrowserContext], app_server: AppServer, provider: Provider, tmp_path: Path
) -> None:
    base, database_url = app_server
    page = new_context(viewport={"width": 1000, "height": 800}, timezone_id="Europe/Paris").new_page()
    _sign_in(page, base, provider, DEE)
    page.wait_for_selector("#first-run")
    assert _rows(database_url, DEE)[0].tz == "UTC", "no zoneinfo claim: the sign-in starts her in UTC"

    page.check("#consent-activity")
    page.click("#first-run-continue")
    live_tip(page)
    page.screenshot(path=str(tmp_path / "1-first-tip-in-paris.png"), full_page=True)

    user, consents, _tips = _rows(database_url, DEE)
    assert consents == {"activity": True, "calendar": False, "mood": False, "tasks": False}
    assert user.tz == "Europe/Paris", "the browser's zone is hers now"
