"""Retention: how long oO keeps what it stores, applied by ``oo purge`` and by a daily round of the scheduler.

Contract of :func:`purge`: every rule deletes what is older than its period (the ``retention_*`` settings, documented
in docs/operations.md "Data retention") in statements of at most ``retention_batch_size`` rows, each committed on its
own so that no lock is held long; a dry run counts the same rows and deletes nothing. Finished procrastinate jobs are
purged only where the job queue exists (PostgreSQL with ``OO_TASK_ENGINE=procrastinate``), MLflow traces only with
tracing on. A part that fails is reported and logged, and the others still run. Domain code: never import Reflex.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import oo_app.models  # noqa: F401  (registers the tables)
from oo_app.db import get_engine, make_engine
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

JOBS = "procrastinate_jobs"
TRACES = "mlflow_traces"
FINISHED_JOB_STATUSES = ("succeeded", "failed", "cancelled", "aborted")


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` whose ``column`` lies more than the setting's days in the past go (with no setting: whose
    ``column`` has passed, as an expired session)."""

    table: str
    column: str
    days_setting: str | None

    def cutoff(self, now: datetime, settings: Settings) -> datetime:
        days = getattr(settings, self.days_setting) if self.days_setting else 0
        return now - timedelta(days=days)


RULES = (
    Rule("sessions", "expires_at", None),
    Rule("events", "at", "retention_events_days"),
    Rule("task_completions", "completed_at", "retention_task_completions_days"),
    Rule("tips", "created_at", "retention_tips_days"),  # a tip's shadows go with it (ON DELETE CASCADE)
    Rule("agent_outputs", "expires_at", "retention_agent_outputs_days"),
    Rule("agent_runs", "started_at", "retention_agent_runs_days"),
    Rule("push_deliveries", "slot", "retention_push_deliveries_days"),
    Rule("audit_events", "at", "retention_audit_events_days"),
)


@dataclass
class PurgeReport:
    """What one purge deleted (in a dry run: would delete) per table, in how many statements, and the parts it
    skipped (why) or that failed (the error)."""

    at: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            "counts": self.counts,
            "statements": self.statements,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def _purge_rows(
    engine: Engine, table: sa.Table, condition: sa.ColumnElement[bool], batch: int, dry_run: bool
) -> tuple[int, int]:
    """Delete the rows of ``table`` meeting ``condition``, ``batch`` at most per statement; (how many, statements).

    The count is taken first, so a dry run and a purge report the same number (rows a cascade takes along, such as a
    tip's shadows, are counted where they match themselves)."""
    with engine.connect() as connection:
        matching = connection.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar_one()
    if dry_run or not matching:
        return matching, 0
    statements = 0
    while True:
        chosen = sa.select(table.c.id).where(condition).order_by(table.c.id).limit(batch).scalar_subquery()
        with engine.begin() as connection:
            deleted = connection.execute(sa.delete(table).where(table.c.id.in_(chosen))).rowcount
        statements += 1
        if not deleted:
            return matching, statements


_FINISHED_JOBS = f"""
    FROM procrastinate_jobs AS job
    WHERE job.status::text IN ({", ".join(f"'{status}'" for status in FINISHED_JOB_STATUSES)})
      AND (SELECT max(event.at) FROM procrastinate_events AS event WHERE event.job_id = job.id) < :cutoff
"""


def _queue_engine(settings: Settings, engine: Engine) -> tuple[Engine | None, str | None]:
    """The engine of the job queue's database, or None and why there is no queue to purge."""
    url = settings.queue_database_url
    if settings.task_engine != "procrastinate" or not url or not url.startswith("postgresql"):
        return None, "no job queue: it needs PostgreSQL and OO_TASK_ENGINE=procrastinate"
    if url != settings.database_url:
        engine = make_engine(
            sa.engine.make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        )
    if not sa.inspect(engine).has_table(JOBS):
        return None, "the job queue has no tables yet (oo migrate creates them)"
    return engine, None


def _purge_jobs(engine: Engine, cutoff: datetime, batch: int, dry_run: bool) -> tuple[int, int]:
    """Finished procrastinate jobs whose last event is older than ``cutoff``, like procrastinate's own
    ``remove_old_jobs`` but in bounded statements (their events go by cascade)."""
    with engine.connect() as connection:
        matching = connection.execute(sa.text(f"SELECT count(*) {_FINISHED_JOBS}"), {"cutoff": cutoff}).scalar_one()
    if dry_run or not matching:
        return matching, 0
    statement = sa.text(f"DELETE FROM procrastinate_jobs WHERE id IN (SELECT job.id {_FINISHED_JOBS} LIMIT :batch)")
    statements = 0
    while True:
        with engine.begin() as connection:
            deleted = connection.execute(statement, {"cutoff": cutoff, "batch": batch}).rowcount
        statements += 1
        if not deleted:
            return matching, statements


def _log(report: PurgeReport, name: str, since: datetime) -> None:
    verb = "would delete" if report.dry_run else "deleted"
    log.info(
        "retention: %s %d %s older than %s (%d statements)",
        verb,
        report.counts[name],
        name,
        since.isoformat(),
        report.statements.get(name, 0),
    )


def purge(
    engine: Engine | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> PurgeReport:
    """Apply every retention period at ``now`` (default: now) to the database behind ``engine`` (default: the app's),
    the job queue and the MLflow store; see the module for the contract."""
    settings = settings or get_settings()
    engine = engine or get_engine()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    batch = settings.retention_batch_size
    report = PurgeReport(at=now, dry_run=dry_run)
    for rule in RULES:
        table = SQLModel.metadata.tables[rule.table]
        cutoff = rule.cutoff(now, settings)
        try:
            report.counts[rule.table], report.statements[rule.table] = _purge_rows(
                engine, table, table.c[rule.column] < cutoff, batch, dry_run
            )
        except sa.exc.SQLAlchemyError as error:
            log.exception("retention: purging %s failed", rule.table)
            report.failed[rule.table] = f"{type(error).__name__}: {error}"[:300]
            continue
        _log(report, rule.table, cutoff)

    queue, reason = _queue_engine(settings, engine)
    if queue is None:
        report.skipped[JOBS] = reason or ""
    else:
        cutoff = now - timedelta(days=settings.retention_jobs_days)
        try:
            report.counts[JOBS], report.statements[JOBS] = _purge_jobs(queue, cutoff, batch, dry_run)
            _log(report, JOBS, cutoff)
        except sa.exc.SQLAlchemyError as error:
            log.exception("retention: purging the finished jobs failed")
            report.failed[JOBS] = f"{type(error).__name__}: {error}"[:300]
        finally:
            if queue is not engine:
                queue.dispose()

    if not settings.tracing_enabled:
        report.skipped[TRACES] = "tracing is switched off here, so oO does not open its trace store"
    else:
        cutoff = now - timedelta(days=settings.retention_traces_days)
        try:
            from oo_app import trace_deletion  # imports mlflow: only when tracing

            report.counts[TRACES] = trace_deletion.delete_traces_before(cutoff, batch, dry_run=dry_run)
            _log(report, TRACES, cutoff)
        except Exception as error:
            log.warning("retention: the MLflow traces were not purged (%s: %s)", type(error).__name__, error)
            report.failed[TRACES] = f"{type(error).__name__}: {error}"[:300]
    return report
