"""The load test, bounded for CI: 50 simulated persons for 20 s on the tip page's websocket and ``POST /api/recommend``
against the production shape (two Granian workers, PostgreSQL, the Redis state manager), run by
``benchmarks/load.py`` (locust, loopback only). Nothing here measures speed: figures are the benchmark's business.
What must hold under load: no request fails, every person gets tips over both paths, every acknowledged reaction is
stored exactly once, and the server is healthy after. Skipped only when PostgreSQL or Redis is down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.load import REDIS_URL, LoadPlan, LoadReport, phases, run_load
from benchmarks.load_persons import fresh_postgres_database
from tests.app_server import redis_unavailable
from tests.conftest import clear_caches, postgres_available, service_missing

SECRET = "load-test-secret-0123456789abcdefgh"
PLAN = LoadPlan(persons=50, seconds=20, spawn_rate=10, history_days=30, backend_only=True)
pytestmark = [pytest.mark.postgres]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadReport]:
    """One run of :data:`PLAN` on a fresh database, shared by this module's checks."""
    reason = postgres_available() or redis_unavailable(REDIS_URL)
    if reason:
        service_missing(reason)
    with fresh_postgres_database() as database_url, pytest.MonkeyPatch.context() as env:
        env.setenv("OO_DATABASE_URL", database_url)
        env.setenv("OO_SECRET_KEY", SECRET)
        env.setenv("OO_SCHEDULER_ENABLED", "false")
        clear_caches()
        try:
            yield run_load(PLAN, database_url, tmp_path_factory.mktemp("load"), SECRET)
        finally:
            clear_caches()


def test_no_request_fails_under_load(report: LoadReport) -> None:
    ran = {row.name: row.count for row in report.requests}
    assert len(ran) == 3, f"the page's two round trips and the API should all have run: {ran}"
    assert all(ran.values()), f"every kind of request should have run: {ran}"
    assert report.total.failures == 0, f"{report.total.failures} of {report.total.count} failed: {report.failures}"


def test_every_person_gets_tips_on_the_page_and_from_the_api(report: LoadReport) -> None:
    got = (report.persons_with_page_tips, report.persons_with_api_tips)
    assert got == (PLAN.persons, PLAN.persons), f"persons with (page, API) tips, of {PLAN.persons}: {got}"


def test_every_acknowledged_reaction_is_stored_exactly_once(report: LoadReport) -> None:
    assert sum(report.acknowledged.values()) > 0, "no reaction was acknowledged: the check below would be empty"
    assert not report.duplicate_reactions, f"tips with more than one reaction event: {report.duplicate_reactions}"
    assert not report.mismatches, (
        f"stored {dict(report.stored)} against acknowledged {dict(report.acknowledged)}; per person, the (tip, "
        f"reaction) pairs that differ: {report.mismatches}"
    )


def test_the_server_is_healthy_after_the_load(report: LoadReport) -> None:
    checks = {name: check["status"] for name, check in report.health_after["checks"].items()}
    assert (report.health_after["database"], checks["redis"]) == ("ok", "ok"), report.health_after
    failures = {kind: n for kind, n in report.server_warnings.items() if "held too long" not in kind}
    assert not failures, f"the server logged failures under load: {failures}; see its log"


def test_the_report_says_who_used_the_machine_while_the_persons_ran(report: LoadReport) -> None:
    """The load generator shares the cores with the server: its CPU, PostgreSQL's and the machine's are reported."""
    cpu = report.neighbours_cpu_s
    assert set(cpu) == {"locust", "PostgreSQL", "Redis", "machine"}
    assert cpu["locust"] > 0, cpu
    assert cpu["PostgreSQL"] > 0, cpu
    assert cpu["machine"] >= report.server_cpu_s + cpu["locust"], (report.server_cpu_s, cpu)
    assert report.window_s >= PLAN.seconds


def test_every_person_is_there_for_the_plans_seconds_after_they_all_arrived(report: LoadReport) -> None:
    arriving, there = report.phases
    assert (arriving.name, there.name) == ("while they arrived", "all of them there")
    assert arriving.total.count + there.total.count == report.total.count, "each request in one part"
    assert all(entry["arrived"] is not None for entry in report.ledger), "every person opened the page"
    assert there.seconds >= PLAN.seconds - 1, f"all {PLAN.persons} persons for {PLAN.seconds} s: {there.seconds}"
    assert report.window_s >= PLAN.arrival_s + PLAN.seconds


def test_a_request_belongs_to_the_part_of_the_run_it_started_in() -> None:
    samples = [
        ["ws open page", 100.0, 50.0, None],
        ["ws TipState.react", 103.0, 20.0, None],  # a person reacts while another still arrives
        ["ws open page", 104.0, 900.0, None],
        ["ws TipState.react", 106.0, 30.0, "timeout"],
        ["POST /api/recommend", 110.0, 10.0, None],
    ]
    persons = [{"arrived": 101.0}, {"arrived": 105.5}, {"arrived": None}]  # the third never opened the page

    arriving, there = phases(samples, persons)

    assert [row.name for row in arriving.requests] == ["ws TipState.react", "ws open page"]
    assert (arriving.total.count, arriving.total.max, arriving.seconds) == (3, 900.0, 5.5)
    assert (there.total.count, there.total.failures, there.seconds) == (2, 1, 110.01 - 105.5)
