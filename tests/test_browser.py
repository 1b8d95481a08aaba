"""The real app, prod build, driven in headless Chromium: one tip on a black page, reactions, live updates."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import Session, select

from oo_app.db import make_engine, migrate
from oo_app.demo import seed_demo
from oo_app.models import Event, User
from oo_app.recommender import recommend

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``reflex run --env prod --single-port`` on a fresh seeded SQLite database: (base URL, database URL)."""
    if not shutil.which("reflex", path=str(Path(sys.executable).parent)) or "REFLEX_BUN_PATH" not in os.environ:
        pytest.fail("reflex or its offline bun setup is missing; run the suite through ./scripts/test")
    workdir = tmp_path_factory.mktemp("app")
    database_url = f"sqlite:///{workdir / 'oo.db'}"
    migrate(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session:
        seed_demo(session, "demo@example.com")
        session.commit()
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "OO_DATABASE_URL": database_url,
        "OO_LIVE_POLL_S": "1",
        "OO_SCHEDULER_INTERVAL_S": "3600",
    }
    log_path = workdir / "reflex.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("reflex")),
                *("run", "--env", "prod", "--single-port"),
                *("--frontend-port", str(port), "--backend-port", str(port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"reflex exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health").status_code == 200 and httpx.get(f"{base}/").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not start in {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield base, database_url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}; ./scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, app_server: tuple[str, str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(app_server[0] + "/")
    yield page
    context.close()


def _tip_text(page: Page) -> str:
    page.wait_for_function("() => (document.querySelector('#tip-text')?.innerText || '').trim().length > 0")
    return page.inner_text("#tip-text").strip()


def test_page_shows_one_tip_and_done_brings_a_different_one(
    page: Page, app_server: tuple[str, str], tmp_path: Path
) -> None:
    first = _tip_text(page)
    background = page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
    assert background == "rgb(0, 0, 0)", "the tip page is black"
    page.screenshot(path=str(tmp_path / "tip.png"))
    page.click("#react-done")
    page.wait_for_function(
        "(first) => { const t = document.querySelector('#tip-text')?.innerText.trim(); return t && t !== first; }",
        arg=first,
    )
    assert _tip_text(page) != first
    page.screenshot(path=str(tmp_path / "after-done.png"))
    engine = make_engine(app_server[1])
    with Session(engine) as session:
        assert session.exec(select(Event).where(Event.type == "tip_done")).all(), "the reaction was logged"
    engine.dispose()


def test_a_newer_tip_appears_without_reload(page: Page, app_server: tuple[str, str]) -> None:
    shown = _tip_text(page)
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


def test_why_this_tip_names_the_agents_and_the_writer(page: Page) -> None:
    _tip_text(page)
    page.click("#why")
    why = page.inner_text("#tip-why")
    assert why.startswith("from ")
    assert "time-of-day" in why
    assert why.endswith("· written by the rule-based composer")
