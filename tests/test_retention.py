"""Retention, on SQLite and PostgreSQL: ``oo purge`` and the daily round delete what is past its period, nothing more.

Each table gets a row just past its period and one just within it; the purge must take exactly the first. Batches
are checked on the statements the database ran; finished procrastinate jobs on a real job queue (PostgreSQL), MLflow
traces in a real SQLite store.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select

from oo_app import db, housekeeping, settings
from oo_app.cli import main
from oo_app.models import (
    AgentOutput,
    AgentRun,
    AuditEvent,
    Event,
    PushDelivery,
    TaskCompletion,
    Tip,
    User,
)
from oo_app.models import Session as SignIn
from oo_app.retention import JOBS, RULES, TRACES, purge
from oo_app.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _tip(user_id: int, at: datetime, **fields: object) -> Tip:
    return Tip(
        user_id=user_id, text="Finish one task.", prompt_version="v", model_alias="a", model="m", policy="p",
        created_at=at, **fields,
    )  # fmt: skip


def _rows_at(user_id: int, at: Callable[[str], datetime], tag: str) -> list[SQLModel]:
    """One row per retention rule, its rule's column set by ``at(table)``."""
    return [
        SignIn(user_id=user_id, token_hash=f"hash-{tag}", expires_at=at("sessions")),
        Event(user_id=user_id, type="app_open", at=at("events")),
        TaskCompletion(user_id=user_id, source_key=f"todoist:{tag}", completed_at=at("task_completions")),
        _tip(user_id, at("tips")),
        AgentOutput(
            user_id=user_id,
            agent_id="momentum",
            agent_version="1",
            job_key=f"key-{tag}",
            snippet="s",
            computed_at=at("agent_outputs") - DAY,
            expires_at=at("agent_outputs"),
        ),
        AgentRun(user_id=user_id, agent_id="momentum", agent_version="1", status="ok", started_at=at("agent_runs")),
        PushDelivery(user_id=user_id, slot=at("push_deliveries"), claimed_at=at("push_deliveries")),
        AuditEvent(actor="ops@example.com", action="recompute", target=f"person:{user_id}", at=at("audit_events")),
    ]


def _cutoffs(now: datetime, config: Settings) -> dict[str, datetime]:
    return {rule.table: rule.cutoff(now, config) for rule in RULES}


@pytest.fixture
def person(any_database: Session) -> User:
    user = User(email="kept@example.com")
    any_database.add(user)
    any_database.commit()
    return user


def _seed(session: Session, user: User, now: datetime) -> None:
    """For every rule: a row a minute past its period ("old") and one a minute within it ("recent")."""
    cutoffs = _cutoffs(now, settings.get_settings())
    session.add_all(_rows_at(user.id, lambda table: cutoffs[table] - timedelta(minutes=1), "old"))
    session.add_all(_rows_at(user.id, lambda table: cutoffs[table] + timedelta(minutes=1), "recent"))
    session.commit()


def _count(session: Session, table: str) -> int:
    session.commit()  # see what the purge's own connections committed
    return session.exec(sa.select(sa.func.count()).select_from(SQLModel.metadata.tables[table])).scalar_one()


def test_old_rows_go_and_recent_rows_stay_in_every_table(any_database: Session, person: User) -> None:
    _seed(any_database, person, NOW)

    report = purge(now=NOW)

    assert report.counts == {rule.table: 1 for rule in RULES}, report.as_dict()
    assert {rule.table: _count(any_database, rule.table) for rule in RULES} == {rule.table: 1 for rule in RULES}
    assert any_database.get(User, person.id) is not None, "a person is never purged"
    assert report.failed == {}


def test_the_default_periods_are_those_of_the_operations_guide() -> None:
    days = {rule.table: (NOW - rule.cutoff(NOW, Settings())).days for rule in RULES}

    assert days == {
        "sessions": 0,
        "events": 180,
        "task_completions": 180,
        "tips": 180,
        "agent_outputs": 30,
        "agent_runs": 30,
        "push_deliveries": 90,
        "audit_events": 730,
    }
    assert (Settings().retention_jobs_days, Settings().retention_traces_days) == (7, 90)
    assert Settings().retention_batch_size == 1000


def test_a_dry_run_counts_the_same_rows_and_deletes_nothing(any_database: Session, person: User) -> None:
    _seed(any_database, person, NOW)

    dry = purge(now=NOW, dry_run=True)

    assert dry.counts == {rule.table: 1 for rule in RULES}
    assert {rule.table: _count(any_database, rule.table) for rule in RULES} == {rule.table: 2 for rule in RULES}
    assert purge(now=NOW).counts == dry.counts


def test_the_periods_are_settings(any_database: Session, person: User, configure: Callable[..., None]) -> None:
    configure(OO_RETENTION_EVENTS_DAYS="10")
    any_database.add_all([Event(user_id=person.id, type="mood", at=NOW - 11 * DAY)])
    any_database.add_all([Event(user_id=person.id, type="mood", at=NOW - 9 * DAY)])
    any_database.commit()

    assert purge(now=NOW).counts["events"] == 1
    assert any_database.exec(select(Event.at)).all() == [NOW - 9 * DAY]


def test_batches_never_delete_more_rows_than_the_bound(
    any_database: Session, person: User, configure: Callable[..., None]
) -> None:
    configure(OO_RETENTION_BATCH_SIZE="2")
    any_database.add_all([Event(user_id=person.id, type="app_open", at=NOW - 200 * DAY - i * DAY) for i in range(5)])
    any_database.add(Event(user_id=person.id, type="app_open", at=NOW))
    any_database.commit()
    engine = db.get_engine()  # the purge's engine: configure() replaced the session's
    deletes: list[int] = []

    def watch(_conn, _cursor, statement: str, _params, _context, _many) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM EVENTS"):
            deletes.append(_cursor.rowcount)

    sa.event.listen(engine, "after_cursor_execute", watch)
    try:
        report = purge(now=NOW)
    finally:
        sa.event.remove(engine, "after_cursor_execute", watch)

    assert (report.counts["events"], _count(any_database, "events")) == (5, 1)
    assert deletes == [2, 2, 1, 0], "at most 2 rows per statement, looped until none is left"
    assert report.statements["events"] == len(deletes)


def test_a_tips_shadows_go_with_it_and_later_rows_only_lose_their_link(any_database: Session, person: User) -> None:
    old = _tip(person.id, NOW - 200 * DAY)
    any_database.add(old)
    any_database.flush()
    shadow = _tip(person.id, NOW - 200 * DAY, shadow=True, shadow_of=old.id)
    follower = _tip(person.id, NOW - DAY, follows=old.id)
    pushed = PushDelivery(user_id=person.id, slot=NOW - DAY, tip_id=old.id)
    any_database.add_all([shadow, follower, pushed])
    any_database.commit()
    follower_id, pushed_id = follower.id, pushed.id

    purge(now=NOW)

    any_database.expire_all()
    assert any_database.exec(select(Tip.id)).all() == [follower_id]
    assert any_database.get(Tip, follower_id).follows is None
    assert any_database.get(PushDelivery, pushed_id).tip_id is None


def test_finished_jobs_are_skipped_without_a_job_queue(any_database: Session, person: User) -> None:
    report = purge(now=NOW)

    assert JOBS not in report.counts
    assert "no job queue" in report.skipped[JOBS]


@pytest.fixture
def job_queue(migrated_postgres_url: str, configure: Callable[..., None]) -> Iterator[sa.Engine]:
    """A migrated PostgreSQL database with procrastinate's tables, configured as the app's and the queue's."""
    from oo_app.db import get_engine
    from oo_app.tasks.engine import apply_schema

    configure(OO_DATABASE_URL=migrated_postgres_url, OO_TASK_ENGINE="procrastinate")
    assert apply_schema()
    engine = get_engine()
    yield engine
    engine.dispose()


STEPS = {"todo": (), "doing": ("doing",), "succeeded": ("doing", "succeeded"), "failed": ("doing", "failed"),
         "cancelled": ("cancelled",)}  # fmt: skip


def _job(connection: sa.Connection, status: str, last_event: datetime) -> int:
    """A job deferred and taken to ``status`` the way workers do (procrastinate's triggers log each step as an
    event), its events then dated ``last_event``."""
    job_id = connection.execute(
        sa.text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
            "VALUES ('default', 'oo.compute_agent_output', '{}', 'todo') RETURNING id"
        )
    ).scalar_one()
    for step in STEPS[status]:
        connection.execute(
            sa.text("UPDATE procrastinate_jobs SET status = CAST(:status AS procrastinate_job_status) WHERE id = :id"),
            {"status": step, "id": job_id},
        )
    connection.execute(
        sa.text("UPDATE procrastinate_events SET at = :at WHERE job_id = :id"), {"at": last_event, "id": job_id}
    )
    return job_id


def test_finished_jobs_go_a_week_after_their_last_event_and_unfinished_ones_stay(job_queue: sa.Engine) -> None:
    with job_queue.begin() as connection:
        old_done = [_job(connection, status, NOW - 8 * DAY) for status in ("succeeded", "failed", "cancelled")]
        kept = [
            _job(connection, "succeeded", NOW - 6 * DAY),
            _job(connection, "todo", NOW - 30 * DAY),
            _job(connection, "doing", NOW - 30 * DAY),
        ]

    dry = purge(now=NOW, dry_run=True)
    report = purge(now=NOW)

    assert (dry.counts[JOBS], report.counts[JOBS]) == (3, 3)
    with job_queue.connect() as connection:
        left = connection.execute(sa.text("SELECT id FROM procrastinate_jobs ORDER BY id")).scalars().all()
        events = connection.execute(
            sa.text("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(:ids)"), {"ids": old_done}
        ).scalar_one()
    assert left == kept
    assert events == 0, "a deleted job's events go with it"


# MLflow traces


@pytest.fixture
def traced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template_db: Path, configure: Callable[..., None]
) -> Iterator[str]:
    """A real SQLite MLflow store with tracing on, holding one trace in oo-tips and one in the Default experiment."""
    from oo_app import tracking

    shutil.copy(mlflow_template_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    configure(OO_MLFLOW_TRACKING_URI=uri, OO_TRACING_ENABLED="true")
    with tracking.person_span(7, "tip-generation"):
        pass
    with mlflow.start_span("untagged", trace_destination=mlflow.entities.MlflowExperimentLocation("0")):
        pass
    tracking.flush()
    yield uri
    mlflow.litellm.autolog(disable=True)
    settings.get_settings.cache_clear()


def _trace_count(uri: str) -> int:
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiments = client.search_experiments(view_type=mlflow.entities.ViewType.ALL)
    return sum(len(client.search_traces(locations=[e.experiment_id], max_results=1000)) for e in experiments)


def test_traces_older_than_ninety_days_go_from_every_experiment(traced: str, session: Session) -> None:
    today = datetime.now(UTC)

    assert purge(now=today + 89 * DAY).counts[TRACES] == 0
    assert purge(now=today + 91 * DAY, dry_run=True).counts[TRACES] == 2
    assert _trace_count(traced) == 2
    assert purge(now=today + 91 * DAY).counts[TRACES] == 2
    assert _trace_count(traced) == 0


def test_traces_are_left_alone_with_tracing_off(session: Session) -> None:
    report = purge(now=NOW)

    assert TRACES not in report.counts
    assert "tracing is switched off" in report.skipped[TRACES]


# The command and the schedule


def test_oo_purge_prints_counts_per_table_and_its_dry_run_deletes_nothing(session: Session, demo_user: User) -> None:
    today = datetime.now(UTC)
    session.add_all([Event(user_id=demo_user.id, type="mood", at=today - 181 * DAY) for _ in range(3)])
    session.commit()
    events = _count(session, "events")
    cli = CliRunner()

    dry = cli.invoke(main, ["purge", "--dry-run"])

    assert dry.exit_code == 0, dry.output
    printed = json.loads(dry.stdout)
    assert printed["dry_run"] is True
    assert printed["counts"]["events"] == 3
    assert set(printed["counts"]) >= {rule.table for rule in RULES}
    assert "events: 3 would be deleted" in dry.stderr
    assert _count(session, "events") == events

    done = cli.invoke(main, ["purge"])

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["counts"]["events"] == 3
    assert _count(session, "events") == events - 3


def test_the_daily_round_purges_unless_switched_off(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    session.add(Event(user_id=demo_user.id, type="mood", at=datetime.now(UTC) - 181 * DAY))
    session.commit()
    before = _count(session, "events")
    configure(OO_RETENTION_DAILY="false")
    assert housekeeping.purge_round(0) == 0
    assert _count(session, "events") == before

    configure(OO_RETENTION_DAILY="true")
    assert housekeeping.purge_round(0) >= 1
    assert _count(session, "events") == before - 1


def test_the_workers_purge_once_a_day() -> None:
    from oo_app.tasks.engine import _build_app

    app = _build_app("postgresql://nobody@127.0.0.1:9/none", 3)  # built, never opened

    periodic = {task.task.name: (task.cron, task.task.func) for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic[housekeeping.PURGE_TASK] == ("17 3 * * *", housekeeping.purge_round)


def test_the_inprocess_scheduler_finishes_deletions_and_purges_at_start(
    configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    configure(OO_SCHEDULER_ENABLED="true", OO_TASK_ENGINE="inprocess")
    ran: list[str] = []
    monkeypatch.setattr(housekeeping, "finish_deletions_round", lambda: ran.append("finish") or 0)
    monkeypatch.setattr(housekeeping, "purge_round", lambda: ran.append("purge") or 0)

    async def stop(_seconds: float) -> None:
        raise asyncio.CancelledError  # the app shutting down after the first round

    monkeypatch.setattr(housekeeping.asyncio, "sleep", stop)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(housekeeping.housekeeping_scheduler())

    assert ran == ["finish", "purge"]


def test_the_inprocess_rounds_stay_off_when_the_scheduler_is(configure: Callable[..., None]) -> None:
    import asyncio

    configure(OO_SCHEDULER_ENABLED="false")
    asyncio.run(asyncio.wait_for(housekeeping.housekeeping_scheduler(), timeout=5))
