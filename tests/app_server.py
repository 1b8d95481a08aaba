"""The real app for browser tests: ``reflex run --env prod --single-port`` on a seeded SQLite database, and Chromium.

:func:`serve_app` starts the server on a free loopback port with ``OO_APP_URL`` pointing at it and stops its whole
process group afterwards; :func:`chromium` launches Debian's Chromium through Playwright; :func:`loopback_only`
keeps a browser context off the network (pages of the OIDC mock link a CDN stylesheet).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from sqlmodel import Session

from oo_app.db import make_engine, migrate
from oo_app.demo import seed_demo

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
NOT_LOOPBACK = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/])[a-z]+://")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seeded_database(workdir: Path) -> str:
    """A migrated SQLite database in ``workdir`` with the demo person and their history; its URL."""
    database_url = f"sqlite:///{workdir / 'oo.db'}"
    migrate(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session:
        seed_demo(session, "demo@example.com")
        session.commit()
    engine.dispose()
    return database_url


@contextmanager
def serve_app(workdir: Path, database_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The app served from this checkout on a free port until the block ends; yields its base URL."""
    if not shutil.which("reflex", path=str(Path(sys.executable).parent)) or "REFLEX_BUN_PATH" not in os.environ:
        pytest.fail("reflex or its offline bun setup is missing; run the suite through ./scripts/test")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {
        **os.environ,
        "OO_DATABASE_URL": database_url,
        "OO_APP_URL": base,
        "OO_LIVE_POLL_S": "1",
        "OO_SCHEDULER_INTERVAL_S": "3600",
        **(env or {}),
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
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(process, base, log_path)
        yield base
    finally:
        _stop(process)


def _wait_until_serving(process: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"reflex exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health").status_code == 200 and httpx.get(f"{base}/").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the app did not start in {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}; ./scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def loopback_only(context: BrowserContext) -> BrowserContext:
    """Aborts every request of ``context`` that leaves the machine."""
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    return context
