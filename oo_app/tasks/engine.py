"""The procrastinate app (PostgreSQL): built at first use from the domains that have jobs, one worker per process.

Each domain of :data:`oo_app.tasks.domains.DOMAINS` has a ``register(app)`` that adds its tasks and periodic tasks;
adding a domain of jobs (e.g. a sync) is adding one entry there. Task names never change: jobs already in a queue must
still find their task. procrastinate and the domains are imported on first use, so reading :func:`conninfo`
(``/health``) stays cheap. Never import Reflex.
"""

from __future__ import annotations

import logging
import os
import socket
from functools import lru_cache
from typing import TYPE_CHECKING

import sqlalchemy as sa

from oo_app.bootstrap import bootstrap
from oo_app.settings import EVERY_MINUTE, get_settings

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)


class JobQueueUnavailable(RuntimeError):
    """The job queue has no PostgreSQL database, or its tables are missing."""


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@lru_cache
def _build_app(queue_conninfo: str, max_connections: int, agents_tick: str = EVERY_MINUTE) -> App:
    """``agents_tick`` is in the key because :func:`oo_app.tasks.agent_jobs.register` reads it from the settings."""
    from procrastinate import App, PsycopgConnector

    from oo_app.tasks.domains import DOMAINS

    app = App(connector=PsycopgConnector(conninfo=queue_conninfo, min_size=1, max_size=max_connections))
    for domain in DOMAINS:
        domain.register(app)
    return app


def get_app() -> App:
    """The procrastinate app of the configured queue database (one per database, built at first use, not opened)."""
    settings = get_settings()
    url = settings.queue_database_url
    if url is None or not url.startswith("postgresql"):
        raise JobQueueUnavailable(
            "agent jobs need PostgreSQL: set OO_JOBS_DATABASE_URL (or OO_DATABASE_URL) to a postgresql:// URL"
        )
    # The worker's pool: one listening connection, one fetching, and one per running job to record its end.
    return _build_app(conninfo(url), settings.worker_concurrency + 2, settings.jobs_tick_cron)


def apply_schema() -> bool:
    """Create procrastinate's tables in the queue database unless they exist (idempotent); True when created.

    Run it once per deployment (with the migrations), not from every worker: two first runs at once would race.
    """
    with get_app().open() as app:
        if app.check_connection():
            return False
        app.schema_manager.apply_schema()
        return True


def run_worker(concurrency: int | None = None) -> None:
    """Run one worker until SIGINT or SIGTERM, ``concurrency`` jobs at once (default: OO_WORKER_CONCURRENCY).

    The workers run the jobs of every domain of :data:`oo_app.tasks.domains.DOMAINS`: agent jobs, and the periodic
    jobs (each once across the fleet), among them the every-minute one that defers due pairs and retries the jobs of
    workers whose heartbeat stopped. Raises :class:`JobQueueUnavailable` before :func:`apply_schema` has run.
    """
    bootstrap()
    settings = get_settings()
    app = get_app()
    with app.open():
        if not app.check_connection():
            raise JobQueueUnavailable("the job queue has no tables yet: apply procrastinate's schema first")
    if settings.runs_inprocess_scheduler:
        log.warning("OO_TASK_ENGINE is not procrastinate: the app's in-process scheduler computes agents too")
    app.run_worker(
        concurrency=concurrency or settings.worker_concurrency,
        name=f"oo-worker@{socket.gethostname()}:{os.getpid()}",
        # Several heartbeats per stall window, so that a live worker never looks dead.
        update_heartbeat_interval=settings.stalled_after_s / 4,
        stalled_worker_timeout=settings.stalled_after_s,
    )
