"""``/settings`` in the real app (prod build) in headless Chromium: every change is stored, and shown as stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from agents.runner import run_due
from oo_app.db import make_engine
from oo_app.demo import grant_consents, seed_fresh_person
from oo_app.models import AgentOutput, Consent, Context, PushSubscription, User, UserPreference
from oo_app.push.keys import generate_private_key, raw_private_key
from tests.browser_fixtures import AppServer
from tests.conftest import NOW

pytestmark = pytest.mark.browser
FIELD = "#pref-time-of-day-preferred_hour"  # the raw value, under the "advanced" fold
BEST_HOUR = "#said-time-of-day-preferred_hour"  # the best hour in plain words
NEWCOMER = "newcomer@example.com"  # signed up a moment ago: consents given, no history yet
SHOTS = Path("/tmp/shots-settings")


@pytest.fixture(scope="module")
def app_database(app_database: str) -> str:
    """The seeded database, after the demo person's agents have run once (learned values exist), and a newcomer whose
    agents have run on no history at all."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        run_due(session, NOW, [session.exec(select(User)).one().id])
        newcomer = seed_fresh_person(session, NEWCOMER)
        newcomer.tz, newcomer.onboarded_at = "Europe/Paris", NOW
        grant_consents(session, newcomer)
        run_due(session, NOW, [newcomer.id])
        session.commit()
    engine.dispose()
    return app_database


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    # The test environment generates no development key: web push gets one of this server's own.
    return {"OO_VAPID_PRIVATE_KEY": raw_private_key(generate_private_key()), "OO_VAPID_SUBJECT": "mailto:o@example.com"}


def _rows(database_url: str, model: type, **where: object) -> list:
    engine = make_engine(database_url)
    with Session(engine) as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        rows = session.exec(query).all()
    engine.dispose()
    return rows


def _open(signed_in_page: Callable[..., Page], email: str = "demo@example.com") -> Page:
    page = signed_in_page("/settings", email, viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.wait_for_selector(BEST_HOUR)
    return page


def _advanced(page: Page) -> None:
    """Open the "advanced" fold, where the raw values are."""
    page.click("#advanced-summary")
    page.wait_for_selector(FIELD)


@pytest.fixture
def page(signed_in_page: Callable[..., Page]) -> Page:
    return _open(signed_in_page)


def _feedback(page: Page, section: str, text: str) -> str:
    page.wait_for_function(
        "([id, text]) => (document.getElementById(id)?.innerText || '').includes(text)",
        arg=[f"{section}-feedback", text],
    )
    return page.inner_text(f"#{section}-feedback")


def _pref(database_url: str, scope: str, key: str) -> UserPreference | None:
    """The demo person's stored value of ``scope.key`` (the only person with learned rows besides the newcomer)."""
    user = _rows(database_url, User, email="demo@example.com")[0]
    rows = _rows(database_url, UserPreference, user_id=user.id, scope=scope, key=key)
    return rows[0] if rows else None


def _source(page: Page, statement: str, words: str) -> str:
    page.wait_for_function(
        "([id, words]) => (document.getElementById(id)?.innerText || '').includes(words)",
        arg=[f"said-{statement}-source", words],
    )
    return page.inner_text(f"#said-{statement}-source")


def test_a_person_with_history_reads_plain_sentences_and_changes_them_with_the_controls(
    page: Page, app_server: AppServer
) -> None:
    database_url = app_server.database_url
    learned_hour = _pref(database_url, "time-of-day", "preferred_hour").value
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "settings-with-history.png"), full_page=True)
    assert page.inner_text(BEST_HOUR) == f"You get the most done around {learned_hour:02d}:00."
    assert "learned by oO" in page.inner_text(f"{BEST_HOUR}-source")
    section = page.inner_text("section[aria-labelledby='prefs-heading']")
    for raw in ("engagement_trend", "project_realness", "stdev", '"strength"'):
        assert raw not in section.split("Advanced: the raw values")[0], f"{raw} shows outside the advanced fold"
    assert "are where you get things done." in section

    # A best hour from the picker: stored as the person's, said as theirs, with what oO learned beside it.
    mine = (learned_hour + 2) % 24
    page.select_option(f"{BEST_HOUR}-hour", str(mine))
    page.get_by_role("button", name="save the hour").click()
    _source(page, "time-of-day-preferred_hour", "set by you")
    assert page.inner_text(BEST_HOUR) == f"You get the most done around {mine:02d}:00."
    assert f"oO learned: {learned_hour:02d}:00" in page.inner_text(f"{BEST_HOUR}-source")
    row = _pref(database_url, "time-of-day", "preferred_hour")
    assert (row.value, row.source) == (mine, "user")

    # The quiet window: both ends at once.
    window = "#said-time-of-day-quiet_window"
    page.select_option(f"{window}-start", "21")
    page.select_option(f"{window}-end", "6")
    page.get_by_role("button", name="save the quiet hours").click()
    _source(page, "time-of-day-quiet_window", "set by you")
    assert page.inner_text(window) == "Quiet from 21:00 to 06:00: no tip reaches you then."
    assert _pref(database_url, "time-of-day", "quiet_start").value == 21
    assert _pref(database_url, "time-of-day", "quiet_end").value == 6

    # The areas that count, from chips of the person's projects.
    areas = "#said-focus-area-preferred_areas"
    learned_areas = _pref(database_url, "focus-area", "preferred_areas").value
    chips = page.get_by_role("group", name="Areas that count (at most 5)")
    for name in learned_areas:
        chips.get_by_label(name, exact=True).uncheck()
    chips.get_by_label("Health", exact=True).check()
    page.get_by_role("button", name="save the areas").click()
    _source(page, "focus-area-preferred_areas", "set by you")
    assert page.inner_text(areas) == "Health is where you get the most done."
    assert (_pref(database_url, "focus-area", "preferred_areas").value) == ["Health"]
    page.click(f"{areas}-learned")
    _source(page, "focus-area-preferred_areas", "learned by oO")
    assert _pref(database_url, "focus-area", "preferred_areas").value == learned_areas

    # An agent switched off, then on again.
    switch = page.get_by_role("switch", name="use Your pace for my tips")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.wait_for_function("() => document.getElementById('switch-momentum')?.getAttribute('aria-checked') === 'false'")
    assert _pref(database_url, "momentum", "enabled").value is False
    page.screenshot(path=str(SHOTS / "settings-changed.png"), full_page=True)
    switch.click()
    page.wait_for_function("() => document.getElementById('switch-momentum')?.getAttribute('aria-checked') === 'true'")
    assert _pref(database_url, "momentum", "enabled") is None, "on is the default: the person's 'off' is dropped"

    # "use what oO learned" restores the learned values.
    page.click(f"{BEST_HOUR}-learned")
    _source(page, "time-of-day-preferred_hour", "learned by oO")
    assert (_pref(database_url, "time-of-day", "preferred_hour").source) == "inferred"
    assert page.inner_text(BEST_HOUR) == f"You get the most done around {learned_hour:02d}:00."
    page.click(f"{window}-learned")
    _source(page, "time-of-day-quiet_window", "learned by oO")
    assert _pref(database_url, "time-of-day", "quiet_start").source == "inferred"

    # The raw values are still there, under the fold.
    _advanced(page)
    page.screenshot(path=str(SHOTS / "settings-advanced.png"), full_page=True)
    assert page.input_value("#pref-overdue-task-project_realness").startswith("{")
    assert page.input_value(FIELD) == str(learned_hour)


def test_an_hour_off_the_clock_is_refused_in_words_and_changes_nothing(page: Page, app_server: AppServer) -> None:
    before = _pref(app_server.database_url, "time-of-day", "preferred_hour")
    # A page that sends what no picker offers (a tampered form): the boundary still says what is valid.
    page.evaluate(
        """() => { const option = document.createElement('option'); option.value = '25'; option.text = '25:00';
                   document.querySelector('#said-time-of-day-preferred_hour-hour').appendChild(option); }"""
    )
    page.select_option(f"{BEST_HOUR}-hour", "25")
    page.get_by_role("button", name="save the hour").click()
    message = _feedback(page, "said-time-of-day", "Choose a whole hour")
    assert message == "Choose a whole hour from 00:00 to 23:00."
    after = _pref(app_server.database_url, "time-of-day", "preferred_hour")
    assert (after.value, after.source) == (before.value, before.source)


def test_a_brand_new_person_is_told_what_oo_assumes_until_it_has_learned(
    signed_in_page: Callable[..., Page], app_server: AppServer
) -> None:
    page = _open(signed_in_page, NEWCOMER)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "settings-newcomer.png"), full_page=True)
    assert page.inner_text(BEST_HOUR) == "oO is still learning your best hour; it assumes 10:00 until then."
    assert "not learned yet" in page.inner_text(f"{BEST_HOUR}-source")
    section = page.inner_text("section[aria-labelledby='prefs-heading']").split("Advanced: the raw values")[0]
    for statement in ("time-of-day-quiet_window", "momentum-engagement_trend", "focus-area-preferred_areas"):
        assert "not learned yet" in page.inner_text(f"#said-{statement}-source"), f"{statement} is not learned yet"
    assert "oO has no projects of yours yet" in section

    # Setting an hour before oO learned one: set by them, and honest about what oO would assume.
    page.select_option(f"{BEST_HOUR}-hour", "8")
    page.get_by_role("button", name="save the hour").click()
    said = _source(page, "time-of-day-preferred_hour", "set by you")
    assert "oO has not learned it yet; it would assume 10:00" in said
    page.click(f"{BEST_HOUR}-learned")
    _source(page, "time-of-day-preferred_hour", "not learned yet")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(SHOTS / "settings-newcomer-phone.png"))


def test_settings_show_learned_values_and_an_own_value_wins_until_reset(
    page: Page, app_server: AppServer, tmp_path: Path
) -> None:
    database_url = app_server[1]
    (learned,) = [_pref(database_url, "time-of-day", "preferred_hour")]
    _advanced(page)
    assert page.input_value(FIELD) == str(learned.value)
    assert "learned by oO" in page.inner_text(f"{FIELD}-help")
    page.screenshot(path=str(tmp_path / "settings.png"), full_page=True)

    own = (int(learned.value) + 3) % 24
    page.fill(FIELD, str(own))
    page.press(FIELD, "Enter")
    _feedback(page, "prefs", "preferred_hour saved")
    (row,) = [_pref(database_url, "time-of-day", "preferred_hour")]
    assert (row.value, row.source) == (own, "user")
    assert f"learned: {learned.value}" in page.inner_text(f"{FIELD}-help")

    page.click("button[aria-label='use the learned value of preferred_hour']")
    _feedback(page, "prefs", "learned from your history again")
    (row,) = [_pref(database_url, "time-of-day", "preferred_hour")]
    assert (row.value, row.source) == (learned.value, "inferred")
    assert page.input_value(FIELD) == str(learned.value)


def test_an_invalid_value_is_explained_and_changes_nothing(page: Page, app_server: AppServer) -> None:
    before = [_pref(app_server[1], "time-of-day", "preferred_hour")][0].value
    _advanced(page)
    page.fill(FIELD, "25")
    page.press(FIELD, "Enter")
    message = _feedback(page, "prefs", "preferred_hour")
    assert "0" in message
    assert "23" in message
    assert [_pref(app_server[1], "time-of-day", "preferred_hour")][0].value == before


def test_revoking_a_consent_stops_its_agents_and_deletes_their_outputs(page: Page, app_server: AppServer) -> None:
    database_url = app_server[1]
    demo = _rows(database_url, User, email="demo@example.com")[0].id
    assert _rows(database_url, AgentOutput, agent_id="time-of-day", user_id=demo), "the agent ran before"
    page.click("#consent-activity button")
    _feedback(page, "consents", "The stopped agents' outputs and what they learned are deleted")
    page.wait_for_function("() => document.querySelector('#consent-activity')?.innerText.includes('not granted')")
    assert not _rows(database_url, AgentOutput, agent_id="time-of-day", user_id=demo)
    (consent,) = _rows(database_url, Consent, key="activity", user_id=demo)
    assert consent.granted is False
    page.click("#consent-activity button")
    page.wait_for_function("() => document.querySelector('#consent-activity')?.innerText.includes('· granted')")
    assert _rows(database_url, Consent, key="activity", user_id=demo)[0].granted is True


def test_contexts_are_created_and_activated_live(page: Page, app_server: AppServer) -> None:
    page.fill("#new-context", "  deep   work ")
    page.press("#new-context", "Enter")
    _feedback(page, "contexts", "deep work added")
    page.get_by_role("button", name="activate", exact=True).first.click()
    page.get_by_role("button", name="deactivate", exact=True).wait_for()
    assert "· on now" in page.inner_text("section[aria-labelledby='contexts-heading']")
    (context,) = _rows(app_server[1], Context, name="deep work")
    assert context.active is True


def test_a_context_gets_hours_of_the_week_and_an_overlap_is_refused(page: Page, app_server: AppServer) -> None:
    for name in ("office", "gym"):
        page.fill("#new-context", name)
        page.press("#new-context", "Enter")
        _feedback(page, "contexts", f"{name} added")
    page.get_by_text("hours for office", exact=True).click()
    office = page.get_by_role("group", name="Hours for office")
    for day in ("mon", "tue"):
        office.get_by_label(day, exact=True).check()
    office.get_by_label("from").fill("09:00")
    office.get_by_label("to", exact=True).fill("17:00")
    office.get_by_role("button", name="add hours to office").click()
    _feedback(page, "contexts", "office: mon, tue 09:00-17:00 added")
    assert "on mon, tue from 09:00 to 17:00" in page.inner_text("section[aria-labelledby='contexts-heading']")

    page.get_by_text("hours for gym", exact=True).click()
    gym = page.get_by_role("group", name="Hours for gym")
    gym.get_by_label("tue", exact=True).check()
    gym.get_by_label("from").fill("16:30")
    gym.get_by_label("to", exact=True).fill("18:00")
    gym.get_by_role("button", name="add hours to gym").click()
    _feedback(page, "contexts", "gym's schedule tue 16:30-18:00 overlaps office's mon, tue 09:00-17:00")

    (office_row,) = _rows(app_server[1], Context, name="office")
    (gym_row,) = _rows(app_server[1], Context, name="gym")
    assert office_row.schedules == [{"weekdays": ["mon", "tue"], "start": "09:00", "end": "17:00"}]
    assert gym_row.schedules == []


def test_export_downloads_everything_about_me_as_json(page: Page, tmp_path: Path) -> None:
    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "export.json"
    download.value.save_as(path)
    exported = json.loads(path.read_text())
    text = json.dumps(exported)
    assert "demo@example.com" in text
    assert "_enc" not in text, "no token column, not even its name"
    assert '"token_hash"' not in text


def test_deleting_an_account_needs_the_confirmation_then_removes_the_person(
    signed_in_page: Callable[..., Page], app_server: AppServer, tmp_path: Path
) -> None:
    database_url = app_server.database_url
    engine = make_engine(database_url)
    with Session(engine) as session:
        leaving = User(email="leaving@example.com", tz="Europe/Paris")
        session.add(leaving)
        session.flush()
        grant_consents(session, leaving)
        session.commit()
    engine.dispose()
    page = _open(signed_in_page, "leaving@example.com")
    page.fill("#delete-confirmation", "yes please")
    page.click("#delete-account")
    _feedback(page, "delete", "type your email address")
    assert _rows(database_url, User, email="leaving@example.com"), "a wrong confirmation deletes nothing"

    page.fill("#delete-confirmation", "leaving@example.com")
    page.click("#delete-account")
    page.wait_for_selector("#sign-in")
    page.screenshot(path=str(tmp_path / "after-deletion.png"))
    assert not _rows(database_url, User, email="leaving@example.com")
    assert _rows(database_url, User, email="demo@example.com"), "nobody else is touched"


def test_turning_notifications_on_grants_the_consent_and_says_why_it_could_not_subscribe(
    page: Page, app_server: AppServer
) -> None:
    """A Playwright context is a private window, where Chromium has no push service (nor would it reach one from this
    offline machine): subscribing fails in the browser, and the page says so instead of pretending; the consent the
    person asked for is recorded, no subscription."""
    database_url = app_server[1]
    page.context.grant_permissions(["notifications"], origin=app_server[0])
    page.wait_for_function("() => document.getElementById('push-status')?.innerText.includes('Off in this browser')")
    page.click("#push-on")
    message = _feedback(page, "push", "could not subscribe")
    assert "try again later or in another browser" in message
    user = _rows(database_url, User, email="demo@example.com")[0]
    (consent,) = _rows(database_url, Consent, user_id=user.id, key="push")
    assert consent.granted
    assert _rows(database_url, PushSubscription, user_id=user.id) == []
    page.click("#consent-push button")  # revoke it again from the consents section
    _feedback(page, "consents", "unsubscribed")
