"""Agent jobs on procrastinate: a retried job writes nothing twice, and a fleet that loses a worker still computes
every due (person, agent) exactly once. Real PostgreSQL, real worker processes; skipped only when PostgreSQL is down.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from agents.registry import registry
from oo_app import db
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.models import AgentOutput, User
from oo_app.settings import ROOT, Settings
from oo_app.tasks import agent_jobs, recovery
from oo_app.tasks import engine as task_engine
from tests.conftest import NOW

JOBS = 1000
DEADLINE_S = 240.0
STALLED_AFTER_S = 5.0
TICK_CRON = "* * * * * */2"  # the periodic job every 2 s, where a test waits for it (every minute in production)
WORKER = (
    "import logging; logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s'); "
    "from oo_app.tasks.engine import run_worker; run_worker()"
)


def all_consents() -> tuple[str, ...]:
    """Every consent some registered agent needs, so that every agent speaks for the test's persons."""
    return tuple(sorted({key for agent in registry().values() for key in agent.manifest.consents}))


def add_persons(session: Session, count: int, now: datetime, days: int) -> list[int]:
    """``count`` persons with every consent and ``days`` of synthetic history ending at ``now``; their ids."""
    users = [User(email=f"person{index}@example.com", tz=Habits().tz) for index in range(count)]
    session.add_all(users)
    session.flush()
    for index, user in enumerate(users):
        grant_consents(session, user, all_consents())
        store_history(session, user, synthetic_history(Habits(), days=days, now=now, seed=index))
    session.flush()
    return [user.id for user in users if user.id is not None]


@pytest.fixture
def queue(migrated_postgres_url: str, configure: Callable[..., None]) -> int:
    """A migrated PostgreSQL with the queue's tables and one person with every consent; the person's id."""
    configure(OO_DATABASE_URL=migrated_postgres_url)
    task_engine.apply_schema()
    with db.session_scope() as session:
        [user_id] = add_persons(session, 1, NOW, days=30)
    return user_id


def test_the_procrastinate_engine_switches_off_the_inprocess_scheduler() -> None:
    assert Settings(task_engine="inprocess", scheduler_enabled=True).runs_inprocess_scheduler
    assert not Settings(task_engine="procrastinate", scheduler_enabled=True).runs_inprocess_scheduler


@pytest.mark.postgres
def test_a_retried_job_writes_no_duplicate_output(queue: int) -> None:
    first = agent_jobs.compute_agent_output(queue, "time-of-day", NOW.isoformat())
    agent_jobs.compute_agent_output(queue, "time-of-day", NOW.isoformat())

    with db.session_scope() as session:
        outputs = session.exec(select(AgentOutput.id).where(AgentOutput.user_id == queue)).all()
    assert outputs == [first], f"one output expected after a retry, found ids {outputs} (first run wrote {first})"


@pytest.mark.postgres
def test_applying_the_queue_schema_twice_is_harmless(postgres_url: str, configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL=postgres_url)
    assert task_engine.apply_schema(), "a fresh database should get procrastinate's tables"
    assert not task_engine.apply_schema(), "a second run should find the tables and leave them alone"


async def take_as_a_dead_worker() -> int:
    """The next job, taken by a worker that then stops beating (as if SIGKILLed); the job's id."""
    async with task_engine.get_app().open_async() as app:
        worker_id = await app.job_manager.register_worker()
        job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
    assert job is not None, "no job to take"
    assert job.id is not None
    with db.get_engine().begin() as connection:
        connection.execute(
            sa.text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = :id"),
            {"id": worker_id},
        )
    return job.id


async def recover_stalled_jobs() -> int:
    async with task_engine.get_app().open_async() as app:
        return await recovery.retry_stalled_jobs(app, STALLED_AFTER_S)


def job_status(job_id: int) -> str:
    with db.get_engine().connect() as connection:
        query = sa.text("SELECT status::text FROM procrastinate_jobs WHERE id = :id")
        return connection.execute(query, {"id": job_id}).scalar_one()


@pytest.mark.postgres
def test_a_running_pair_is_not_deferred_again(queue: int) -> None:
    assert agent_jobs.enqueue_due(task_engine.get_app(), NOW) == len(registry())
    asyncio.run(take_as_a_dead_worker())
    assert agent_jobs.enqueue_due(task_engine.get_app(), NOW) == 0, (
        "waiting pairs hit their queueing lock; the running one must be skipped"
    )


@pytest.mark.postgres
def test_a_stalled_job_with_a_waiting_twin_ends_and_frees_its_pair(queue: int) -> None:
    lock = agent_jobs.pair_lock(queue, "time-of-day")

    def defer() -> int:
        with task_engine.get_app().open() as app:
            task = app.tasks[agent_jobs.COMPUTE_TASK].configure(lock=lock, queueing_lock=lock)
            return task.defer(user_id=queue, agent_id="time-of-day", at=NOW.isoformat())

    stalled = defer()
    asyncio.run(take_as_a_dead_worker())
    twin = defer()  # a tick racing with the first job's fetch can defer such a twin

    assert asyncio.run(recover_stalled_jobs()) == 0
    assert (job_status(stalled), job_status(twin)) == ("aborted", "todo"), "the twin alone should hold the pair"


@pytest.mark.postgres
def test_a_stalled_job_goes_back_to_the_queue(queue: int) -> None:
    assert agent_jobs.enqueue_due(task_engine.get_app(), NOW) == len(registry())
    job_id = asyncio.run(take_as_a_dead_worker())

    assert asyncio.run(recover_stalled_jobs()) == 1
    assert job_status(job_id) == "todo"


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(ready: Callable[[], bool], deadline: float, worker: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` until it holds; fail, showing the worker's log, if the deadline passes or the worker dies."""
    while not ready():
        assert worker.poll() is None, f"the worker died\n{tail(log)}"
        assert time.monotonic() < deadline, f"not done after {DEADLINE_S:.0f} s\n{tail(log)}"
        time.sleep(0.1)


def job_statuses(connection: sa.Connection) -> dict[str, int]:
    rows = connection.execute(sa.text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status"))
    return dict(rows.tuples().all())


@pytest.mark.postgres
@pytest.mark.timeout(DEADLINE_S + 60)
def test_the_workers_periodic_job_recovers_a_dead_workers_job(
    queue: int, migrated_postgres_url: str, tmp_path: Path
) -> None:
    """A real worker whose periodic job runs every 2 s: a job held by a dead worker runs again, by the tick alone."""
    agent_jobs.enqueue_due(task_engine.get_app(), NOW)
    stalled = asyncio.run(take_as_a_dead_worker())
    env = {
        **os.environ,
        "OO_DATABASE_URL": migrated_postgres_url,
        "OO_TASK_ENGINE": "procrastinate",
        "OO_STALLED_AFTER_S": str(STALLED_AFTER_S),
        "OO_JOBS_TICK_CRON": TICK_CRON,
        "OO_SCHEDULER_ENABLED": "false",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_until(lambda: job_status(stalled) == "succeeded", time.monotonic() + DEADLINE_S, worker, log)
    finally:
        worker.kill()
        worker.wait()
    assert "retried 1 jobs of stalled workers" in log.read_text(), tail(log)


@pytest.mark.postgres
@pytest.mark.timeout(DEADLINE_S + 60)
def test_a_thousand_jobs_survive_a_killed_worker(
    postgres_url: str, configure: Callable[..., None], tmp_path: Path
) -> None:
    configure(OO_DATABASE_URL=postgres_url, OO_TASK_ENGINE="procrastinate", OO_STALLED_AFTER_S=str(STALLED_AFTER_S))
    db.migrate(postgres_url)
    task_engine.apply_schema()
    agent_count = len(registry())
    now = datetime.now(UTC)  # the workers' periodic job looks at the real clock too
    with db.session_scope() as session:
        user_ids = add_persons(session, math.ceil(JOBS / agent_count), now, days=14)
    expected = len(user_ids) * agent_count
    assert agent_jobs.enqueue_due(task_engine.get_app(), now) == expected, (
        "every (person, agent) pair should be due once"
    )

    env = {
        **os.environ,
        "OO_DATABASE_URL": postgres_url,
        "OO_TASK_ENGINE": "procrastinate",
        "OO_STALLED_AFTER_S": str(STALLED_AFTER_S),
        "OO_WORKER_CONCURRENCY": "4",
        "OO_SCHEDULER_ENABLED": "false",
    }
    engine = db.get_engine()
    started = time.monotonic()
    deadline = started + DEADLINE_S
    victim_log, survivor_log = tmp_path / "worker-killed.log", tmp_path / "worker-survivor.log"
    workers: list[subprocess.Popen[bytes]] = []
    last: dict[str, int] = {}
    killed: list[float] = []  # when the victim was killed, then when its jobs had all left `doing`

    def scalar(query: str, **params: object) -> int:
        with engine.connect() as connection:
            return connection.execute(sa.text(query), params).scalar() or 0

    def finished() -> bool:
        """All outputs written and no job waiting or running; ``last`` keeps the figures that decided it."""
        with engine.connect() as connection:
            statuses = job_statuses(connection)
        if len(killed) == 1 and not held_by_victim():
            killed.append(time.monotonic())
        last.clear()
        last.update(statuses, outputs=scalar("SELECT count(*) FROM agent_outputs"))
        return last["outputs"] >= expected and not last.keys() & {"todo", "doing"}

    try:
        # The first worker registers alone, so the oldest row of procrastinate_workers is the one to kill.
        workers.append(start_worker(env, victim_log))
        wait_until(lambda: scalar("SELECT min(id) FROM procrastinate_workers") > 0, deadline, workers[0], victim_log)
        victim_id = scalar("SELECT min(id) FROM procrastinate_workers")
        workers.append(start_worker(env, survivor_log))
        wait_until(
            lambda: scalar("SELECT count(*) FROM agent_outputs") >= expected // 10, deadline, workers[0], victim_log
        )

        def held_by_victim() -> list[int]:
            with engine.connect() as connection:
                return list(
                    connection.execute(
                        sa.text("SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = :id"),
                        {"id": victim_id},
                    ).scalars()
                )

        # A job takes milliseconds, so a kill at a random moment may fall between two jobs and test nothing: freeze
        # the victim, and kill it only once it is seen holding jobs (else let it run a moment and look again).
        for _ in range(500):
            workers[0].send_signal(signal.SIGSTOP)
            if held_by_victim():
                break
            workers[0].send_signal(signal.SIGCONT)
            time.sleep(0.005)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        killed.append(time.monotonic())
        stalled = held_by_victim()
        assert stalled, "the killed worker held no job: nothing tested the recovery of stalled jobs"
        # The recovery the workers' periodic job runs every minute (test_the_workers_periodic_job_recovers_a_dead_
        # workers_job waits for that tick), called as soon as the victim's heartbeat is old enough to call it dead.

        def recovered() -> bool:
            """Run the recovery (runs that overlap the workers' own are harmless): is the victim holding none?"""
            asyncio.run(recover_stalled_jobs())
            return not held_by_victim()

        time.sleep(STALLED_AFTER_S)
        wait_until(recovered, deadline, workers[1], survivor_log)
        wait_until(finished, deadline, workers[1], survivor_log)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()

    with Session(engine) as session:
        per_pair = session.exec(
            select(AgentOutput.user_id, AgentOutput.agent_id, func.count()).group_by(
                AgentOutput.user_id, AgentOutput.agent_id
            )
        ).all()
    with engine.connect() as connection:
        aborted = set(
            connection.execute(sa.text("SELECT id FROM procrastinate_jobs WHERE status = 'aborted'")).scalars()
        )
    print(
        f"\n{expected} jobs ({len(user_ids)} persons x {agent_count} agents), 2 workers x 4, one SIGKILLed: "
        f"{elapsed:.1f} s, {expected / elapsed:.0f} jobs/s; {len(stalled)} stalled jobs recovered "
        f"({len(aborted)} of them ended for a waiting twin) {killed[-1] - killed[0]:.1f} s after the kill; "
        f"final {last}"
    )
    assert {(user_id, agent_id) for user_id, agent_id, _ in per_pair} == {
        (user_id, agent_id) for user_id in user_ids for agent_id in registry()
    }, "every (person, agent) should have an output"
    assert [row for row in per_pair if row[2] != 1] == [], "no (person, agent) may have two outputs"
    assert last.keys() <= {"succeeded", "aborted", "outputs"}, f"jobs left waiting, running or failed: {last}"
    assert aborted <= set(stalled), "only a stalled job may end aborted (superseded by its waiting twin)"
