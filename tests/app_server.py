"""The real app for browser, worker and load tests: ``reflex run --env prod`` on loopback, and Chromium.

:func:`serve_app` starts ``--single-port`` (page, API and websocket on one origin) on a free loopback port with
``OO_APP_URL`` pointing at it and stops its whole process group afterwards; :func:`run_server` is the same with the
server's process at hand (``--backend-only`` too: the API and the page's websocket, no page build); both go through
:func:`serve_command`, which serves any command (``oo hub``, the LiteLLM proxy) on a free port the same way;
:func:`production_env` is the environment of compose's ``app`` service (Granian workers, page state in Redis, metrics
shared between the workers); :func:`server_processes`, :func:`granian_workers` and :func:`worker_serving` find its
processes, and which one holds a given connection.
:func:`chromium` launches Debian's Chromium through Playwright; :func:`loopback_only` keeps a browser context off the
network (pages of the OIDC mock link a CDN stylesheet).
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx
import psutil
import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from sqlmodel import Session

from oo_app.db import make_engine, migrate
from oo_app.demo import seed_demo
from tests import page_build

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
READY_POLL_S = 0.1  # how often a starting server is asked whether it serves: a refused connection costs nothing
NOT_LOOPBACK = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/])[a-z]+://")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@lru_cache
def _migrated_sqlite() -> Path:
    """A SQLite file migrated to head, once per process (in a temporary directory removed at exit)."""
    directory = Path(tempfile.mkdtemp(prefix="oo-migrated-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    migrate(f"sqlite:///{directory / 'oo.db'}")  # its engine disposed: the file alone holds the database
    return directory / "oo.db"


def seeded_database(workdir: Path) -> str:
    """A migrated SQLite database in ``workdir`` (a copy of one migrated once per process) with the demo person and
    their history; its URL."""
    database_url = f"sqlite:///{workdir / 'oo.db'}"
    shutil.copy(_migrated_sqlite(), workdir / "oo.db")
    engine = make_engine(database_url)
    with Session(engine) as session:
        seed_demo(session, "demo@example.com")
        session.commit()
    engine.dispose()
    return database_url


@dataclass(frozen=True)
class Served:
    """A running server: its base URL (``http://127.0.0.1:<port>``), its top process and its log."""

    base: str
    process: subprocess.Popen
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


@contextmanager
def serve_app(workdir: Path, database_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The app served from this checkout on a free port until the block ends; yields its base URL."""
    with run_server(workdir, database_url, env) as served:
        yield served.base


@contextmanager
def run_server(
    workdir: Path,
    database_url: str,
    env: dict[str, str] | None = None,
    *,
    backend_only: bool = False,
    name: str = "reflex",
) -> Iterator[Served]:
    """``reflex run --env prod`` from this checkout on a free loopback port until the block ends.

    ``backend_only`` serves the API and the page's websocket without building the page (several such servers may run
    at once from one checkout); otherwise page, API and websocket share the port (``--single-port``), and the page
    an earlier server built is served again when it fits (tests/page_build.py), on the port it was built for. ``env`` is
    added to this process's environment; the server logs to ``workdir/<name>.log``. The whole process group is
    stopped afterwards.
    """
    if not shutil.which("reflex", path=str(Path(sys.executable).parent)) or "REFLEX_BUN_PATH" not in os.environ:
        pytest.fail("reflex or its offline bun setup is missing; run the suite through ./scripts/test")
    web = None if backend_only else page_build.web_dir({**os.environ, **(env or {})})
    built_for = page_build.reusable_port(web) if web else None  # the port of a page built earlier, to serve again
    if built_for is not None:
        port = built_for
    else:
        port = page_build.port_to_build_for(web, free_port()) if web else free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {
        **os.environ,
        "OO_ENV": os.environ.get("OO_ENV", "test"),  # the benchmarks start servers too, outside the suite's conftest
        "OO_DATABASE_URL": database_url,
        "OO_APP_URL": base,
        "OO_LIVE_POLL_S": "1",
        "OO_SCHEDULER_INTERVAL_S": "3600",
        **(env or {}),
    }
    if backend_only:
        # rxconfig.py always names a frontend port (OO_FRONTEND_PORT), which `reflex run --backend-only` refuses; an
        # unset (zero) one it accepts.
        server_env["REFLEX_FRONTEND_PORT"] = "0"
    ports = ("--backend-only",) if backend_only else ("--single-port", "--frontend-port", str(port))
    reflex = (
        [sys.executable, "-m", "tests.reflex_prebuilt"]
        if built_for is not None
        else [str(Path(sys.executable).with_name("reflex"))]
    )
    command = [
        *reflex,
        "run",
        "--env",
        "prod",
        *ports,
        "--backend-port",
        str(port),
    ]
    with serve_command(
        command, port, workdir / f"{name}.log", server_env, lambda base: _app_ready(base, page=not backend_only)
    ) as served:
        if web and built_for is None:
            page_build.record_build(web, port)
        yield served


@contextmanager
def serve_command(
    command: list[str],
    port: int,
    log_path: Path,
    env: dict[str, str],
    ready: Callable[[str], bool],
    *,
    what: str | None = None,
    timeout_s: float = START_TIMEOUT_S,
    cwd: Path = ROOT,
) -> Iterator[Served]:
    """``command``, a server listening on loopback ``port``, until the block ends: started in a process group of its
    own with exactly ``env`` (the caller adds ``os.environ`` when it wants it), logging to ``log_path``; yielded once
    ``ready(base_url)`` says it serves (an :class:`httpx.HTTPError` counts as not yet). Fails the test, with the log's
    end, when the command exits first or is not ready within ``timeout_s``. The whole group is stopped afterwards
    (SIGTERM, then SIGKILL after 20 s), whatever the block did. ``what`` names the server in failures (default: the
    command's program)."""
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_serving(process, base, log_path, ready, what or Path(command[0]).name, timeout_s)
        yield Served(base, process, log_path)
    finally:
        _stop(process)


def production_env(
    redis_url: str, metrics_dir: Path, workers: int = 2, secret_key: str | None = None
) -> dict[str, str]:
    """The environment of compose's ``app`` service, on loopback: ``workers`` Granian backend processes, the page
    state in Redis at ``redis_url`` (which /health checks too), metrics shared through ``metrics_dir``, production
    settings. Sessions opened by the caller need the server's ``secret_key`` (CSRF tokens are bound to it): pass the
    one the caller's settings use; by default a fresh one."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    return {
        "OO_ENV": "production",
        "OO_SECRET_KEY": secret_key or secrets.token_urlsafe(32),
        "REFLEX_USE_GRANIAN": "true",
        "GRANIAN_WORKERS": str(workers),
        "REFLEX_REDIS_URL": redis_url,
        "REFLEX_OPLOCK_ENABLED": "true",
        "REFLEX_REDIS_LOCK_EXPIRATION": "30000",
        "OO_REDIS_URL": redis_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }


def redis_unavailable(url: str) -> str | None:
    """None when the Redis at ``url`` answers, else why not (tests that need it skip with that reason)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {url} is unreachable: {error}"
    return None


def server_processes(served: Served) -> list[psutil.Process]:
    """Every live process of the server: the ``reflex`` command and all its descendants."""
    top = psutil.Process(served.process.pid)
    return [top, *top.children(recursive=True)]


def granian_workers(served: Served) -> list[psutil.Process]:
    """The processes that accept connections on the server's port: Granian's workers. Its supervisor (the ``reflex``
    command itself) binds the socket and hands it to the workers it forks, keeping none for itself."""
    workers = []
    for process in server_processes(served):
        try:
            connections = process.net_connections("tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == served.port for c in connections):
            workers.append(process)
    return workers


def worker_serving(served: Served, client_port: int) -> int | None:
    """The PID of the server process holding the connection that comes from ``client_port`` on loopback, if any."""
    for process in server_processes(served):
        try:
            connections = process.net_connections("tcp")
        except psutil.Error:
            continue
        if any(c.laddr.port == served.port and c.raddr and c.raddr.port == client_port for c in connections):
            return process.pid
    return None


def _app_ready(base: str, page: bool) -> bool:
    """The app answers /health, and its page too unless it serves the backend only."""
    return httpx.get(f"{base}/health").status_code == 200 and (not page or httpx.get(f"{base}/").status_code == 200)


def _wait_until_serving(
    process: subprocess.Popen, base: str, log_path: Path, ready: Callable[[str], bool], what: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if ready(base):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not serve in {timeout_s:.0f} s:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(READY_POLL_S)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


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
