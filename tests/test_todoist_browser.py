"""Todoist on ``/settings`` in the real app (prod build) and headless Chromium, against the stand-in on loopback:
connecting runs the backfill, the row says when it last synced, "sync now" says what it found, and a revoked access
offers "reconnect", which connects again."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import Integration, TaskCompletion
from tests.browser_fixtures import AppServer
from tests.fakes.todoist import FakeTodoist
from tests.test_accessibility import _violations
from tests.test_todoist import KEY, seed

pytestmark = pytest.mark.browser
CALLBACK = "/integrations/todoist/callback"
CONNECTED = re.compile(r"/settings/?\?integration=todoist&status=connected$")


@pytest.fixture(scope="module")
def todoist() -> Iterator[FakeTodoist]:
    with FakeTodoist(redirect_uri="set once the app's port is known") as fake:
        seed(fake, datetime.now(UTC))
        yield fake


@pytest.fixture(scope="module")
def app_server_env(todoist: FakeTodoist) -> dict[str, str]:
    return {
        "OO_TOKEN_KEYS": json.dumps([KEY]),
        "OO_TODOIST_CLIENT_ID": todoist.client_id,
        "OO_TODOIST_CLIENT_SECRET": todoist.client_secret,
        "OO_TODOIST_OAUTH_URL": todoist.oauth_url,
        "OO_TODOIST_API_URL": todoist.api_url,
    }


def _integration(database_url: str) -> Integration | None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        row = session.exec(select(Integration).where(Integration.provider == "todoist")).first()
    engine.dispose()
    return row


def _completions(database_url: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = len(session.exec(select(TaskCompletion).where(TaskCompletion.source_key.startswith("todoist:"))).all())
    engine.dispose()
    return count


def _wait_for_backfill(page: Page, database_url: str) -> None:
    """The backfill runs after the redirect: wait until it stored its sync (as the page would show after a reload)."""
    for _ in range(300):  # at most 30 s
        row = _integration(database_url)
        if row is not None and row.last_synced_at is not None:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the backfill never finished")


def _feedback(page: Page, text: str) -> str:
    """The integrations' feedback once it says ``text``; on a timeout, the failure names what it said instead."""
    try:
        page.wait_for_function(
            "text => (document.getElementById('integrations-feedback')?.innerText || '').includes(text)", arg=text
        )
    except PlaywrightTimeout:
        raise AssertionError(f"never said {text!r}; said {page.inner_text('#integrations-feedback')!r}") from None
    return page.inner_text("#integrations-feedback")


def test_connect_sync_now_and_reconnect(
    signed_in_page: Callable[..., Page], app_server: AppServer, todoist: FakeTodoist, tmp_path: Path
) -> None:
    todoist.redirect_uri = app_server.base + CALLBACK
    # bypass_csp: the accessibility audit injects axe-core as an inline script (as tests/test_accessibility.py does).
    page = signed_in_page("/settings", viewport={"width": 1100, "height": 900}, bypass_csp=True)
    page.click("#connect-todoist")
    page.wait_for_url(CONNECTED)
    _wait_for_backfill(page, app_server.database_url)
    assert _completions(app_server.database_url) == 6
    page.reload()
    page.wait_for_function(
        "() => (document.getElementById('sync-status-todoist')?.innerText || '').includes('last synced')"
    )
    assert page.inner_text("#sync-status-todoist").endswith("last synced just now")

    todoist.add_completed("Feed the quetzal-1207 cat", todoist.projects[1], datetime.now(UTC) - timedelta(minutes=2))
    todoist.add_completed("Wash the gecko-3390 van", todoist.projects[1], datetime.now(UTC) - timedelta(minutes=1))
    page.click("#sync-now-todoist")
    assert "2 new tasks done" in _feedback(page, "new tasks done")
    assert _completions(app_server.database_url) == 8
    page.screenshot(path=str(tmp_path / "todoist-synced.png"), full_page=True)
    assert _violations(page) == [], "the connected row passes the audit"

    todoist.revoke_all_tokens()  # the person removes oO in Todoist's settings
    page.click("#sync-now-todoist")
    assert "reconnect" in _feedback(page, "reconnect")
    page.wait_for_selector("#reconnect-todoist")
    assert "can no longer read your Todoist" in page.inner_text("#sync-problem-todoist")
    assert page.query_selector("#sync-now-todoist") is None, "no sync to offer until reconnected"
    page.screenshot(path=str(tmp_path / "todoist-reconnect.png"), full_page=True)
    assert _violations(page) == [], "the row that asks to reconnect passes the audit"

    page.click("#reconnect-todoist")
    page.wait_for_url(CONNECTED)
    page.wait_for_selector("#sync-now-todoist")
    assert _integration(app_server.database_url).status == "connected"
