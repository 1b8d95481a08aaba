"""Several backend workers on one Redis: a person's live page state belongs to no process, and a reaction is stored
once whichever worker receives it.

Real servers as production runs them (``reflex run --env prod --backend-only``, Granian, production settings, the page
state in Redis) on one fresh PostgreSQL database and one Redis database (``OO_TEST_REDIS_URL``; database 11 of the
local server by default, so keys never mix with a developer's), driven by the page's own protocol
(:mod:`tests.page_socket`). Which process serves a connection is decided by the test, not by the kernel: server A
(two Granian workers) and server B (one) are separate processes on separate ports, so "served by another worker" means
a process that never saw the page before. Skipped only when PostgreSQL or Redis is down.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from sqlmodel import Session, col, select

from benchmarks.load_persons import compute_agent_outputs, fresh_postgres_database, seed_persons
from oo_app import db
from oo_app.models import Event, Tip
from tests.app_server import (
    Served,
    granian_workers,
    production_env,
    redis_unavailable,
    run_server,
    worker_serving,
)
from tests.auth_helpers import csrf_headers
from tests.conftest import clear_caches, postgres_available, service_missing
from tests.page_socket import HYDRATE_AND_LOAD, REACT, TIP_STATE, TOGGLE_WHY, VAR_SUFFIX, PageSocket

REDIS_URL = os.environ.get("OO_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
SECRET = "workers-test-secret-0123456789abcdef"
A_POLL_S = 40.0  # server A's pages look for a newer tip this rarely; B's every second (the test servers' default)
pytestmark = [pytest.mark.postgres]


@dataclass(frozen=True)
class Cluster:
    """Server A (two Granian workers) and server B (one worker, its own process and port) sharing ``database_url``
    and Redis; ``persons`` are seeded persons with open sessions (``{"id", "cookies"}``)."""

    database_url: str
    a: Served
    b: Served
    persons: list[dict[str, Any]]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    reason = postgres_available() or redis_unavailable(REDIS_URL)
    if reason:
        service_missing(reason)
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("workers")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "OO_DATABASE_URL": database_url,
            "OO_SECRET_KEY": SECRET,
            "OO_SCHEDULER_ENABLED": "false",
        }.items():
            env.setenv(name, value)
        clear_caches()
        db.migrate(database_url)
        persons = seed_persons(4, days=30)
        compute_agent_outputs()  # as the scheduler would have: the first tip does not compute them under the lock
        clear_caches()
    # No scheduler: nothing writes a tip behind the test's back.
    common = {"OO_SCHEDULER_ENABLED": "false"}
    a_env = {**production_env(REDIS_URL, workdir / "metrics-a", 2, SECRET), **common, "OO_LIVE_POLL_S": str(A_POLL_S)}
    b_env = {**production_env(REDIS_URL, workdir / "metrics-b", 1, SECRET), **common}
    with (
        run_server(workdir, database_url, a_env, backend_only=True, name="server-a") as a,
        run_server(workdir, database_url, b_env, backend_only=True, name="server-b") as b,
    ):
        yield Cluster(database_url, a, b, persons)


def socket_record_gone(token: str, timeout_s: float = 10.0) -> None:
    """Waits until no backend process claims ``token``'s socket in Redis any more (a closed page lets go of it
    asynchronously); a claimed token would be handed a new one on reconnect."""
    from reflex.utils.token_manager import RedisTokenManager

    client = redis.Redis.from_url(REDIS_URL)
    key = f"{RedisTokenManager._token_socket_record_prefix}{token}"
    deadline = time.monotonic() + timeout_s
    while client.exists(key):
        assert time.monotonic() < deadline, f"the closed page's socket record {key} stayed in Redis"
        time.sleep(0.05)


def move_to_b(cluster: Cluster, page: PageSocket) -> PageSocket:
    """Closes ``page`` (served by A) and opens the same tab (same client token) on B, as a reconnect that a load
    balancer sends to another backend does."""
    token = page.client_token
    page.close()
    socket_record_gone(token)
    moved = PageSocket(cluster.b.base, page.cookies, client_token=token)
    moved.connect()
    return moved


def reaction_events(database_url: str, tip_id: int) -> list[str]:
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            events = session.exec(select(Event).where(col(Event.type).in_(["tip_done", "tip_dismissed"]))).all()
            return [event.type for event in events if (event.payload or {}).get("tip_id") == tip_id]
    finally:
        engine.dispose()


def test_the_page_protocol_speaks_the_apps_names() -> None:
    from reflex.state import State
    from reflex_base.utils.format import format_event_handler

    from oo_app.state.tip import TipState

    assert (
        TipState.get_full_name(),
        format_event_handler(TipState.react),
        format_event_handler(TipState.toggle_why),
        format_event_handler(State.hydrate_and_load),
    ) == (TIP_STATE, REACT, TOGGLE_WHY, HYDRATE_AND_LOAD), "tests/page_socket.py names what the app no longer has"
    assert TipState.tip_id._js_expr.endswith(f".tip_id{VAR_SUFFIX}")
    react_args = list(inspect.signature(TipState.react.fn).parameters)[1:]
    assert react_args == ["reaction", "shown_id"], (
        f"the page's click sends (reaction, shown_id); react takes {react_args}"
    )


def test_the_production_server_runs_two_granian_workers_and_reports_redis(cluster: Cluster) -> None:
    workers = granian_workers(cluster.a)
    seen = {"reflex": cluster.a.process.pid, "workers": {w.pid: w.ppid() for w in workers}}
    assert len({w.pid for w in workers}) == 2, f"expected 2 Granian worker processes serving the port: {seen}"
    assert all(w.ppid() == cluster.a.process.pid for w in workers), f"workers not forked by the supervisor: {seen}"

    report = httpx.get(f"{cluster.a.base}/health", timeout=10).json()
    redis_check = report["checks"]["redis"]
    assert redis_check["status"] == "ok", report
    assert redis_check["target"] == REDIS_URL.removeprefix("redis://"), report


def test_a_persons_live_state_survives_being_served_by_another_worker(cluster: Cluster) -> None:
    page = PageSocket(cluster.a.base, cluster.persons[0]["cookies"])
    page.connect()
    shown = page.tip["tip_id"]
    page.toggle_why()  # the person opened "why this tip?" on a page served by A
    served_by = worker_serving(cluster.a, page.local_port)

    moved = move_to_b(cluster, page)
    try:
        assert moved.new_tokens == 0, "B took the tab for a duplicate and gave it a new token: its state is gone"
        assert (moved.restored.get("tip_id"), moved.restored.get("show_why")) == (shown, True), (
            f"B restored {moved.restored} for the tab that A's worker {served_by} left with tip {shown} and the "
            "why panel open"
        )
        assert moved.tip["tip_id"] == shown, "the page's load on B shows another tip than the unanswered one"
    finally:
        moved.close()


def test_a_reaction_sent_through_another_worker_is_stored_once(cluster: Cluster) -> None:
    page = PageSocket(cluster.a.base, cluster.persons[1]["cookies"])
    page.connect()
    shown = page.tip["tip_id"]
    moved = move_to_b(cluster, page)
    try:
        moved.react("done")
        following = moved.tip["tip_id"]
    finally:
        moved.close()

    assert following not in (0, shown), f"no next tip after reacting through B: {moved.tip}"
    assert reaction_events(cluster.database_url, shown) == ["tip_done"], f"tip {shown}'s reaction events"
    engine = db.make_engine(cluster.database_url)
    with Session(engine) as session:
        assert session.get(Tip, shown).reaction == "done"
    engine.dispose()


def test_a_page_moved_to_another_worker_still_gets_newer_tips(cluster: Cluster) -> None:
    """The live watch runs where the page's socket is: A's stops with the socket (Reflex cancels a page's on_load
    chain when it disconnects, and the watch's ``finally`` gives up the page), so B starts its own. A's pages
    poll every ``A_POLL_S``: a tip arriving sooner came from B's watch."""
    cookies = cluster.persons[2]["cookies"]
    page = PageSocket(cluster.a.base, cookies)
    page.connect()
    moved = move_to_b(cluster, page)
    try:
        newer = httpx.post(
            f"{cluster.b.base}/api/recommend", cookies=cookies, headers=csrf_headers(cookies), timeout=30
        ).json()["tip"]["id"]
        moved.wait_for(lambda: moved.tip.get("tip_id") == newer, f"tip {newer} on the page", timeout_s=A_POLL_S / 2)
    finally:
        moved.close()
