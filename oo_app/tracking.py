"""MLflow for oO: the store, tip-generation traces, spans of a person's LLM work, benchmark runs.

The repo's prompts go to MLflow's prompt registry through :mod:`oo_app.recommender.prompt_registry`.

Everything goes to ``settings.mlflow_tracking_uri`` (a SQLite file by default, no server). Tracing is best effort:
:func:`traced_generation` logs any MLflow failure and lets the tip be written untraced, it never raises one.
Registering prompts and logging benchmark runs do raise: a person is waiting for their result. Importing this module
imports mlflow (seconds): import it only where tracking happens, never at app import.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from oo_app.llm.aliases import TIP_GENERATOR
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from mlflow.entities import LiveSpan
    from plotly.graph_objects import Figure

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # read when mlflow is imported, so set before
import mlflow

log = logging.getLogger(__name__)

TRACES_EXPERIMENT = "oo-tips"
BENCH_EXPERIMENT = "oo-bench"
SPAN_NAME = "tip-generation"
LITELLM_LOGGING_WAIT_S = 0.5  # at most, per traced generation, for LiteLLM's callbacks to log its child spans
RETRY_AFTER_S = 60.0  # an unreachable store is tried again after this long, not on every tip
# Unbounded, one call to a server that is down retries for about four minutes (seen: 245 s on a closed port).
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


@dataclass(frozen=True)
class _Store:
    traces_experiment_id: str
    bench_experiment_id: str


_stores: dict[str, _Store] = {}  # configured once per tracking URI
_unreachable_since: dict[str, float] = {}  # tracking URI -> time.monotonic() of its last failure
_lock = threading.RLock()  # held while connecting: threads waiting for a failing store then see its cooldown


def configure() -> None:
    """Point MLflow at the configured store and make it ready: once per tracking URI, then a no-op.

    Creates the folder of a SQLite store, the experiments (their artifacts beside a SQLite file, not in ./mlruns),
    and turns on LiteLLM autologging, so Router calls inside a traced generation become its child spans. HTTP stores
    get bounded retries (``HTTP_BOUNDS``, unless set in the environment). Raises ``MlflowException`` or ``OSError``
    when the store cannot be used.
    """
    _store()


def _store() -> _Store:
    uri = get_settings().mlflow_tracking_uri
    with _lock:
        if uri not in _stores:
            _stores[uri] = _connect(uri)
        if mlflow.get_tracking_uri() != uri:
            mlflow.set_tracking_uri(uri)
        return _stores[uri]


def _connect(uri: str) -> _Store:
    if uri.startswith(("http://", "https://")):
        for name, value in HTTP_BOUNDS.items():
            os.environ.setdefault(name, value)
    if database := sqlite_store_file(uri):
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    store = _Store(
        traces_experiment_id=_experiment_id(TRACES_EXPERIMENT, database),
        bench_experiment_id=_experiment_id(BENCH_EXPERIMENT, database),
    )
    _forget_litellm_mlflow_loggers()
    mlflow.litellm.autolog(silent=True)
    return store


def _forget_litellm_mlflow_loggers() -> None:
    """Drop the MLflow loggers LiteLLM made for an earlier store, so it makes one for this store.

    LiteLLM builds its MLflow logger once per process, and the logger's client keeps the tracking URI of that moment.
    A process that moves to another store would otherwise write its LiteLLM spans into the old one. The app uses one
    store; the in-process `oo` commands and the suite use several."""
    import litellm
    from litellm.integrations.mlflow import MlflowLogger
    from litellm.litellm_core_utils import litellm_logging

    for entries in (litellm_logging._in_memory_loggers, *(getattr(litellm, name) for name in _LITELLM_CALLBACK_LISTS)):
        entries[:] = [entry for entry in entries if not isinstance(entry, MlflowLogger)]


_LITELLM_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


def sqlite_store_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` tracking URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database).resolve() if database and database != ":memory:" else None


def _experiment_id(name: str, database: Path | None) -> str:
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = (database.parent / "mlartifacts" / name).as_uri() if database else None
    try:
        return client.create_experiment(name, artifact_location=artifacts)
    except mlflow.exceptions.MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id  # another process created it meanwhile


# Tracing


@dataclass
class TipGeneration:
    """One tip generation as its trace records it: the caller sets the outcome inside the ``with`` block.

    Unset (None) fields are left out of the trace. ``trace_id`` is set on entry when the generation is traced.
    """

    text: str | None = None
    kind: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    grounded: bool | None = None
    fallback: bool | None = None
    trace_id: str | None = None

    def outcome(self) -> dict[str, Any]:
        """The span attributes of the outcome (``oo.model``, ``oo.latency_ms``, ...)."""
        fields = ("model", "latency_ms", "prompt_tokens", "completion_tokens", "grounded", "fallback")
        return {f"oo.{name}": getattr(self, name) for name in fields if getattr(self, name) is not None}


@contextmanager
def traced_generation(
    user_id: int,
    *,
    prompt_version: str,
    policy: str,
    shadow: bool = False,
    alias: str = TIP_GENERATOR,
    inputs: dict[str, Any] | None = None,
) -> Iterator[TipGeneration]:
    """Trace the block as one ``tip-generation`` trace in the ``oo-tips`` experiment; yields its :class:`TipGeneration`.

    The root span and the trace tags carry ``oo.user_id`` (the id, never the email), ``oo.alias``,
    ``oo.prompt_version``, ``oo.policy`` and ``oo.shadow``; LiteLLM calls inside the block are its child spans.
    MLflow failures are logged and swallowed (the block runs untraced); the block's own errors propagate, and mark
    the trace as failed.
    """
    generation = TipGeneration()
    context: dict[str, Any] = {
        "oo.user_id": user_id,
        "oo.alias": alias,
        "oo.prompt_version": prompt_version,
        "oo.policy": policy,
        "oo.shadow": shadow,
    }
    opened = _open_span(SPAN_NAME, context, inputs)
    generation.trace_id = opened.trace_id if opened else None
    try:
        yield generation
    except BaseException as error:
        _close_span(opened, error)
        raise
    _close_span(opened, None, {"text": generation.text, "kind": generation.kind}, generation.outcome())


@contextmanager
def person_span(user_id: int, name: str, attributes: dict[str, Any] | None = None) -> Iterator[str | None]:
    """Trace the block as LLM work of person ``user_id``: a span ``name`` tagged like a tip generation (``oo.user_id``
    on the span, the trace tags and the trace user), so that :func:`delete_user_traces` finds it; yields its trace id
    (None when untraced). A root span goes to the ``oo-tips`` experiment; inside another span it is a child.

    LiteLLM calls outside any span land untagged in MLflow's Default experiment: run every LLM call made for a person
    (judging, embedding) inside this or :func:`traced_generation`. Failures are handled as there.
    """
    opened = _open_span(name, {"oo.user_id": user_id, **(attributes or {})}, None)
    try:
        yield opened.trace_id if opened else None
    except BaseException as error:
        _close_span(opened, error)
        raise
    _close_span(opened, None)


def _tracing_store() -> _Store | None:
    uri = get_settings().mlflow_tracking_uri
    with _lock:
        failed_at = _unreachable_since.get(uri)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER_S:
            return None
        try:
            store = _store()
        except Exception as error:
            _unreachable_since[uri] = time.monotonic()
            log.warning(
                "MLflow store unavailable, tips are not traced for the next %.0f s (%s: %s)",
                RETRY_AFTER_S,
                type(error).__name__,
                error,
            )
            return None
        _unreachable_since.pop(uri, None)
        return store


@dataclass(frozen=True)
class _OpenSpan:
    context: AbstractContextManager[LiveSpan]
    span: LiveSpan
    trace_id: str | None


def _open_span(name: str, context: dict[str, Any], inputs: dict[str, Any] | None) -> _OpenSpan | None:
    store = _tracing_store()
    if store is None:
        return None
    try:
        # A root span goes to oo-tips; a child span's trace already has its place (MLflow ignores it there, noisily).
        root = mlflow.get_current_active_span() is None
        destination = mlflow.entities.MlflowExperimentLocation(store.traces_experiment_id) if root else None
        span_context = mlflow.start_span(
            name, span_type=mlflow.entities.SpanType.CHAIN, attributes=context, trace_destination=destination
        )
        span = span_context.__enter__()
    except Exception as error:
        log.warning("could not open the %s trace (%s: %s)", name, type(error).__name__, error)
        return None
    opened = _OpenSpan(span_context, span, None if isinstance(span, mlflow.entities.NoOpSpan) else span.trace_id)
    try:
        if inputs is not None:
            span.set_inputs(inputs)
        mlflow.update_current_trace(
            tags={key: str(value) for key, value in context.items()}, user=str(context["oo.user_id"])
        )
    except Exception as error:
        log.warning("could not tag the %s trace (%s: %s)", name, type(error).__name__, error)
    return opened


def _close_span(
    opened: _OpenSpan | None,
    error: BaseException | None,
    outputs: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
) -> None:
    if opened is None:
        return
    _await_litellm_logging()
    if error is None:
        try:
            if outputs is not None:
                opened.span.set_outputs(outputs)
            if attributes:
                opened.span.set_attributes(attributes)
        except Exception as mlflow_error:
            log.warning("could not record the outcome in its trace (%s: %s)", type(mlflow_error).__name__, mlflow_error)
    try:
        opened.context.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)
    except Exception as mlflow_error:
        if mlflow_error is not error:
            log.warning("could not close the trace (%s: %s)", type(mlflow_error).__name__, mlflow_error)


def _await_litellm_logging(timeout_s: float = LITELLM_LOGGING_WAIT_S) -> None:
    """Give LiteLLM's logging threads a moment to record the calls of this generation as its child spans.

    LiteLLM runs success callbacks (MLflow's autolog among them) on a background executor; a root span closed first
    would lose them under load. Waits, bounded, until that executor has nothing pending; best effort: when LiteLLM's
    executor changes shape, it does not wait at all.
    """
    import litellm.utils

    executor = getattr(litellm.utils, "executor", None)
    slots, limit = getattr(executor, "_pending_slots", None), getattr(executor, "_max_pending_tasks", None)
    if not isinstance(limit, int) or not hasattr(slots, "_value"):
        return
    deadline = time.monotonic() + timeout_s
    while slots._value < limit and time.monotonic() < deadline:
        time.sleep(0.005)


def flush() -> None:
    """Write the traces still queued for asynchronous export: trace deletion calls it before it searches (a queued
    trace would escape), tests and short scripts before they read. Waits for what is queued, no longer
    (:func:`oo_app.trace_export.wait_until_exported`)."""
    from oo_app.trace_export import wait_until_exported

    wait_until_exported()


# Benchmarks


@contextmanager
def benchmark_run(name: str, params: dict[str, Any]) -> Iterator[str]:
    """An active run named ``name`` in ``oo-bench`` with ``params``; yields its id. LiteLLM calls inside the block are
    traced into the run. The run ends FINISHED, or FAILED when the block raises."""
    store = _store()
    with mlflow.start_run(experiment_id=store.bench_experiment_id, run_name=name) as run:
        mlflow.log_params({key: str(value) for key, value in params.items()})
        yield run.info.run_id


def log_results(
    run_id: str,
    metrics: dict[str, float],
    figures: dict[str, Figure] | None = None,
    series: dict[str, list[float]] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Log into run ``run_id``: ``metrics``, each ``series`` as a metric with one step per value (MLflow charts it),
    each plotly figure as ``figures/<key>.html``, and ``tags``."""
    client = mlflow.MlflowClient()
    for key, value in (tags or {}).items():
        client.set_tag(run_id, key, value)
    now_ms = int(time.time() * 1000)
    batch = [mlflow.entities.Metric(key, float(value), now_ms, 0) for key, value in metrics.items()]
    batch += [
        mlflow.entities.Metric(key, float(value), now_ms, step)
        for key, values in (series or {}).items()
        for step, value in enumerate(values)
    ]
    for start in range(0, len(batch), 1000):  # MLflow takes at most 1000 metrics per batch
        client.log_batch(run_id, metrics=batch[start : start + 1000])
    for key, figure in (figures or {}).items():
        client.log_figure(run_id, figure, f"figures/{key}.html")


def log_benchmark_run(
    name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, Figure] | None = None,
    series: dict[str, list[float]] | None = None,
) -> str:
    """One finished run named ``name`` in ``oo-bench`` with params, metrics, series and figures (see
    :func:`log_results`). Returns the run id; a failure marks the run FAILED and raises."""
    with benchmark_run(name, params) as run_id:
        log_results(run_id, metrics, figures, series)
    return run_id


def log_experiment_run(
    experiment: str,
    name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, Figure] | None = None,
    series: dict[str, list[float]] | None = None,
) -> str:
    """One finished run named ``name`` in the experiment ``experiment`` (created beside the others when missing),
    with params, metrics, series and figures (see :func:`log_results`). Returns the run id; raises on failure."""
    _store()
    experiment_id = _experiment_id(experiment, sqlite_store_file(get_settings().mlflow_tracking_uri))
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.log_params({key: str(value) for key, value in params.items()})
        log_results(run.info.run_id, metrics, figures, series)
    return run.info.run_id
