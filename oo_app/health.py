"""GET /health: every dependency checked on its own, all at once, each within ``OO_HEALTH_TIMEOUT_S``.

Contract of :func:`health_report`: ``{"status", "database", "checks": {"database", "redis", "llm", "task_engine"}}``.
A check is ``{"status": "ok" | "degraded" | "error" | "disabled", "latency_ms", ...its facts, "detail" when not ok}``.
Overall ``error`` (HTTP 503) only when the database is down, since nothing works without it; ``degraded`` (200) when
any other check is not ok: tips keep coming (the rule-based composer writes them, agents are computed when a tip needs
them); else ``ok``. ``database`` repeats the database's state as ``ok`` or ``unreachable`` for older probes. A report
never shows a password, a token or a whole URL, and never calls a model.

The ``llm`` check adds, when some alias has a model server, ``breakers``: ``{alias: {model: {"state": "closed" |
"open" | "half-open", "open_for_s" (while open), "failure" (what opened it)}}}`` (:mod:`oo_app.llm.breaker`); any
``open`` makes the check ``degraded``: the alias's fallback writes until the cooldown ends and a probe succeeds.
With ``OO_MODEL_SERVER_URL`` (the host's one model process, ``oo models serve``) the local models are reported as that
process reports them (``model_server``: ``{model: "loaded" | "not loaded yet"}``, asked within the check's timeout); a
process that does not answer makes the check ``degraded``: the composer writes the tips and the embedder waits.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

Report = dict[str, Any]
OK, DEGRADED, ERROR, DISABLED = "ok", "degraded", "error", "disabled"
LATE_ROUNDS = 3  # the in-process scheduler is late after this many intervals (plus a minute) without a round
# Hung checks hold a thread until their own timeouts end; a few probes' worth, then checks wait and time out.
_checks_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="oo-health")
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
_SECRET_PARAM = re.compile(r"(?i)(password|passwd|pwd|token|secret|key)=\S+")


def describe(error: BaseException) -> str:
    """One line about ``error`` that is safe to show: its class and first line, credentials in URLs masked."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = _SECRET_PARAM.sub(r"\1=***", _CREDENTIALS.sub(r"\1***@", text))
    return f"{type(error).__name__}: {text}"[:240]


def database_target(url: str) -> str:
    """``host:port/database`` of a SQLAlchemy URL (the backend alone for SQLite): no user, no password."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "sqlite"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def redis_target(url: str) -> str:
    """``host:port/db`` of a Redis URL (``unix:path`` for a socket): no user, no password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{parts.path.lstrip('/') or '0'}"


def check_database(settings: Settings) -> Report:
    from oo_app.db import check_database as select_one
    from oo_app.db import get_engine

    engine = get_engine()
    select_one(engine)
    return {"status": OK, "backend": engine.dialect.name}


def check_redis(settings: Settings) -> Report:
    if not settings.redis_url:
        return {"status": DISABLED, "detail": "no OO_REDIS_URL (or REFLEX_REDIS_URL): states live in each process"}
    import redis

    report: Report = {"target": redis_target(settings.redis_url)}
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=settings.health_timeout_s, socket_timeout=settings.health_timeout_s
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return {"status": ERROR, **report, "detail": describe(error)}
    finally:
        client.close()
    return {"status": OK, **report}


def _imported(module: str) -> bool:
    """``module`` is in this process and done importing (not midway, in another thread)."""
    loaded = sys.modules.get(module)
    return loaded is not None and not getattr(loaded.__spec__, "_initializing", False)


def check_llm(settings: Settings) -> Report:
    """The ``tip-generator`` alias is configured and, once LiteLLM is loaded, the Router builds; an in-process model
    is reported loaded or not. Nothing is imported, loaded or asked to generate here: on a fresh start LiteLLM and the
    local model take seconds to load (``warm_llm`` does it), and an idle model is not a broken one."""
    from oo_app.llm.aliases import LOCAL_TIP_MODEL, TIP_GENERATOR
    from oo_app.llm.local import ModelServerUnavailable, local_llama, model_server_state
    from oo_app.llm.router import get_router

    fallback_note = "; the rule-based composer writes every tip meanwhile"
    aliases = settings.alias_table

    def models(alias: str) -> list[str]:
        return [str(deployment["model"]) for deployment in aliases.get(alias) or []]

    report: Report = {"alias": TIP_GENERATOR, "models": models(TIP_GENERATOR)}
    report["fallback"] = models(f"{TIP_GENERATOR}-fallback")
    if not report["models"]:
        return {"status": ERROR, **report, "detail": f"OO_LLM_ALIASES has no {TIP_GENERATOR}{fallback_note}"}
    if _imported("litellm"):
        try:
            get_router()
        except Exception as error:
            detail = f"the LLM router does not build: {describe(error)}{fallback_note}"
            return {"status": ERROR, **report, "detail": detail}
    else:
        report["router"] = "not built yet"
    if settings.model_server_url is not None:
        try:
            report["model_server"] = (model_server_state(settings.health_timeout_s) or {}).get("models", {})
        except ModelServerUnavailable as error:
            return {"status": DEGRADED, **report, "model_server": "unreachable", "detail": f"{error}{fallback_note}"}
    elif LOCAL_TIP_MODEL in report["models"]:
        report["local_model"] = "loaded" if local_llama.cache_info().currsize else "not loaded yet"
    return breakers_checked(settings, report)


def breakers_checked(settings: Settings, report: Report) -> Report:
    """``report`` with the breaker of every model server in the alias table; degraded while one is open."""
    from oo_app.llm.breaker import OPEN
    from oo_app.llm.router import breaker_readings

    breakers: dict[str, dict[str, Report]] = {}
    try:
        for alias in settings.alias_table:
            readings = breaker_readings(settings, alias)
            if readings:
                breakers[alias] = {
                    model: {key: value for key, value in asdict(reading).items() if value is not None}
                    for model, reading in readings.items()
                }
    except Exception as error:  # Redis down: its own check reports it; tips pass as if every breaker were closed
        log.warning("health: the LLM breakers are unknown: %s", describe(error))
        return {"status": OK, **report, "breakers": f"unknown: {describe(error)}"}
    if not breakers:
        return {"status": OK, **report}
    report["breakers"] = breakers
    tripped = [
        f"{model} ({alias})"
        for alias, models in breakers.items()
        for model, breaker in models.items()
        if breaker["state"] == OPEN
    ]
    if tripped:
        detail = f"breaker open for {', '.join(tripped)}: the fallback writes until a probe gets an answer"
        return {"status": DEGRADED, **report, "detail": detail}
    return {"status": OK, **report}


def check_task_engine(settings: Settings) -> Report:
    if settings.task_engine == "procrastinate":
        return check_job_queue(settings)
    return check_scheduler(settings)


def check_scheduler(settings: Settings) -> Report:
    """The in-process scheduler of this process: running, and a round ended within a few intervals."""
    from oo_app.tasks.scheduler import PULSE

    report: Report = {"engine": "inprocess"}
    if not settings.runs_inprocess_scheduler:
        return {"status": DISABLED, **report, "detail": "OO_SCHEDULER_ENABLED is off: agents run when a tip needs them"}
    last = PULSE.last_round_at
    report |= {"interval_s": PULSE.interval_s, "last_round_at": last.isoformat() if last else None}
    if PULSE.started_at is None:
        return {"status": DEGRADED, **report, "scheduler": "not started", "detail": "no scheduler runs in this process"}
    if PULSE.stopped_at is not None:
        return {"status": DEGRADED, **report, "scheduler": "stopped", "detail": "the scheduler of this process stopped"}
    report["scheduler"] = "running"
    silent_s = (datetime.now(UTC) - (last or PULSE.started_at)).total_seconds()
    if PULSE.last_round_failed:
        return {"status": DEGRADED, **report, "detail": "the last round failed (see the logs)"}
    if silent_s > LATE_ROUNDS * (PULSE.interval_s or settings.scheduler_interval_s) + 60:
        return {"status": DEGRADED, **report, "detail": f"no round has ended for {silent_s:.0f} s"}
    return {"status": OK, **report}


def check_job_queue(settings: Settings) -> Report:
    """procrastinate: the queue database answers, procrastinate's schema is there, and workers beat."""
    report: Report = {"engine": "procrastinate"}
    url = settings.queue_database_url
    if url is None or not url.startswith("postgresql"):
        return {"status": ERROR, **report, "detail": "the job queue needs PostgreSQL: set OO_JOBS_DATABASE_URL"}
    import psycopg

    from oo_app.tasks.engine import conninfo

    report["target"] = database_target(url)
    timeout_ms = int(settings.health_timeout_s * 1000)
    try:
        with psycopg.connect(
            conninfo(url),
            connect_timeout=max(2, math.ceil(settings.health_timeout_s)),  # libpq's minimum is 2 s
            options=f"-c statement_timeout={timeout_ms}",
        ) as connection:
            schema = connection.execute("SELECT to_regclass('procrastinate_workers') IS NOT NULL").fetchone()[0]
            if not schema:
                return {
                    "status": ERROR,
                    **report,
                    "schema": False,
                    "detail": "procrastinate's schema is missing: run `oo migrate` with OO_TASK_ENGINE=procrastinate",
                }
            workers = connection.execute(
                "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => %s)",
                [settings.stalled_after_s],
            ).fetchone()[0]
    except psycopg.Error as error:
        return {"status": ERROR, **report, "detail": describe(error)}
    report |= {"schema": True, "workers": workers}
    if not workers:
        detail = f"no worker has beaten in the last {settings.stalled_after_s:g} s: start `oo worker`"
        return {"status": DEGRADED, **report, "detail": detail}
    return {"status": OK, **report}


CHECKS: dict[str, Callable[[Settings], Report]] = {
    "database": check_database,
    "redis": check_redis,
    "llm": check_llm,
    "task_engine": check_task_engine,
}


def _timed(check: Callable[[Settings], Report], settings: Settings) -> Report:
    started = time.perf_counter()
    try:
        report = check(settings)
    except Exception as error:
        report = {"status": ERROR, "detail": describe(error)}
    return {**report, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def overall(checks: dict[str, Report]) -> str:
    if checks["database"]["status"] == ERROR:
        return ERROR
    return DEGRADED if any(check["status"] in (ERROR, DEGRADED) for check in checks.values()) else OK


def health_report(settings: Settings | None = None) -> Report:
    """Run every check at once; a check that has not answered when ``health_timeout_s`` is over is an error."""
    settings = settings or get_settings()
    futures = {name: _checks_pool.submit(copy_context().run, _timed, check, settings) for name, check in CHECKS.items()}
    deadline = time.monotonic() + settings.health_timeout_s
    checks: dict[str, Report] = {}
    for name, future in futures.items():
        try:
            checks[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            checks[name] = {
                "status": ERROR,
                "detail": f"no answer within {settings.health_timeout_s:g} s",
                "latency_ms": round(settings.health_timeout_s * 1000, 1),
            }
        if checks[name]["status"] == ERROR:
            log.warning("health: %s: %s", name, checks[name].get("detail"))
    status = overall(checks)
    return {
        "status": status,
        "database": "ok" if checks["database"]["status"] == OK else "unreachable",
        "checks": checks,
    }
