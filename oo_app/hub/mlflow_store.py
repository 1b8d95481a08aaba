"""The hub's window on MLflow: benchmark runs of ``oo bench models``, the latest ``oo simulate`` run, and links into
the MLflow UI (experiments, tip traces, prompts). Never raises for the store: an empty or unreachable one gives a
message without its credentials.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from sqlalchemy.engine import make_url

from oo_app.recommender.prompts import PROMPTS_DIR
from oo_app.settings import get_settings

log = logging.getLogger(__name__)


BENCH_COLUMNS = [
    "run_id",
    "name",
    "status",
    "started",
    "policy",
    "prompt_version",
    "alias",
    "tips",
    "judge_score_mean",
    "guardrail_pass_rate",
    "latency_p50_s",
    "latency_p95_s",
    "url",
]


def redacted(uri: str) -> str:
    """``uri`` without its credentials, fit for a message on screen."""
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return make_url(uri).render_as_string(hide_password=True) if "://" in uri else uri


def unavailable(uri: str, error: Exception) -> str:
    """Why the MLflow store at ``uri`` could not be read, with no credential of ``uri`` in it."""
    said = f"{type(error).__name__}: {error}"
    userinfo = urlsplit(uri).netloc.rpartition("@")[0] if uri.startswith(("http://", "https://")) else ""
    if userinfo:
        said = said.replace(f"{userinfo}@", "")
    message = f"MLflow store {redacted(uri)} unavailable ({said})."
    log.warning("the hub cannot read MLflow: %s", message)
    return message


def mlflow_client(uri: str) -> Any:
    """A client of the MLflow store at ``uri``; raises FileNotFoundError for a SQLite store that does not exist (a
    client would create it). HTTP stores get the bounded retries of :mod:`oo_app.tracking`."""
    if uri.startswith("sqlite:"):
        database = make_url(uri).database
        if not database or not Path(database).exists():
            raise FileNotFoundError(f"no MLflow store at {database} yet")
    from oo_app import tracking  # imports mlflow: seconds

    if uri.startswith(("http://", "https://")):
        for name, value in tracking.HTTP_BOUNDS.items():
            os.environ.setdefault(name, value)
    return tracking.mlflow.MlflowClient(tracking_uri=uri)


@dataclass(frozen=True)
class BenchRuns:
    """The runs of MLflow's ``oo-bench`` experiment (columns :data:`BENCH_COLUMNS`), newest first; ``message`` says
    why there are none (no store, no experiment, no run, store unreachable) and is None when there are."""

    runs: pd.DataFrame
    message: str | None
    experiment_url: str | None = None


def bench_runs(tracking_uri: str | None = None, limit: int = 50) -> BenchRuns:
    """The latest ``limit`` benchmark runs of ``oo bench models`` in the store at ``tracking_uri`` (default: the
    configured one). Never raises for the store: an empty or unreachable one gives no run and a message."""
    from oo_app.tracking import BENCH_EXPERIMENT

    settings = get_settings()
    uri = tracking_uri or settings.mlflow_tracking_uri
    ui = settings.mlflow_ui_url.rstrip("/")
    empty = pd.DataFrame(columns=BENCH_COLUMNS)
    try:
        client = mlflow_client(uri)
        experiment = client.get_experiment_by_name(BENCH_EXPERIMENT)
        runs = (
            client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=limit)
            if experiment is not None
            else []
        )
    except Exception as error:  # the hub shows the message; the store's failure must not take the notebook down
        return BenchRuns(empty, unavailable(uri, error))
    if experiment is None:
        return BenchRuns(empty, f"No `{BENCH_EXPERIMENT}` experiment in {redacted(uri)} yet: run `oo bench models`.")
    experiment_url = f"{ui}/#/experiments/{experiment.experiment_id}"
    if not runs:
        return BenchRuns(
            empty, f"The `{BENCH_EXPERIMENT}` experiment has no run yet: run `oo bench models`.", experiment_url
        )
    rows = [
        (
            run.info.run_id,
            run.info.run_name,
            run.info.status,
            pd.Timestamp(run.info.start_time, unit="ms", tz=UTC),
            run.data.params.get("policy"),
            run.data.params.get("prompt_version"),
            run.data.params.get("alias"),
            run.data.metrics.get("tips"),
            run.data.metrics.get("judge_score_mean"),
            run.data.metrics.get("guardrail_pass_rate"),
            run.data.metrics.get("latency_p50_s"),
            run.data.metrics.get("latency_p95_s"),
            f"{experiment_url}/runs/{run.info.run_id}",
        )
        for run in runs
    ]
    return BenchRuns(pd.DataFrame(rows, columns=BENCH_COLUMNS), None, experiment_url)


@dataclass(frozen=True)
class MlflowLinks:
    """Where the MLflow UI shows oO's experiments, tip traces and prompts; ``message`` says why a link is missing."""

    ui: str
    experiments: dict[str, str]  # experiment name -> page (the experiment list when it does not exist yet)
    traces: str
    prompts: dict[str, str | None]  # repo prompt version -> its registry page, None when not registered
    message: str | None = None


def mlflow_links() -> MlflowLinks:
    """Links into the MLflow UI (``settings.mlflow_ui_url``) for the configured store: the ``oo-tips`` and
    ``oo-bench`` experiments, the tip traces and every repo prompt version
    (:func:`oo_app.recommender.prompt_registry.prompt_uri`). A missing or unreachable store gives the UI's list pages
    and a message; it never raises."""
    settings = get_settings()
    ui = settings.mlflow_ui_url.rstrip("/")
    versions = sorted(path.stem for path in PROMPTS_DIR.glob("*.txt"))
    experiments = {name: f"{ui}/#/experiments" for name in ("oo-tips", "oo-bench")}
    fallback = MlflowLinks(ui, experiments, f"{ui}/#/experiments", dict.fromkeys(versions))
    try:
        client = mlflow_client(settings.mlflow_tracking_uri)
        from oo_app import tracking
        from oo_app.recommender import prompt_registry

        found = {
            name: client.get_experiment_by_name(name)
            for name in (tracking.TRACES_EXPERIMENT, tracking.BENCH_EXPERIMENT)
        }
        prompts = {version: prompt_registry.prompt_uri(version) for version in versions}
    except Exception as error:  # links to the list pages still help; say why the others are missing
        return replace(fallback, message=unavailable(settings.mlflow_tracking_uri, error))
    for name, experiment in found.items():
        if experiment is not None:
            experiments[name] = f"{ui}/#/experiments/{experiment.experiment_id}"
    tips = found[tracking.TRACES_EXPERIMENT]
    traces = f"{ui}/#/experiments/{tips.experiment_id}/traces" if tips is not None else fallback.traces
    return MlflowLinks(ui, experiments, traces, prompts)


SIMULATION_COLUMNS = ["day", "policy", "acceptance"]


@dataclass(frozen=True)
class SimulationRun:
    """The latest run of MLflow's ``oo-simulation`` experiment (``oo simulate``): acceptance per simulated day and
    policy (columns :data:`SIMULATION_COLUMNS`) and its figures per policy (``summary``); ``message`` says why there
    is none."""

    by_day: pd.DataFrame
    summary: pd.DataFrame
    message: str | None
    url: str | None = None


def latest_simulation(tracking_uri: str | None = None) -> SimulationRun:
    """The newest ``oo simulate`` run in the store at ``tracking_uri`` (default: the configured one). Never raises for
    the store: an empty or unreachable one gives a message."""
    from oo_app.evaluation.simulation_report import SIMULATION_EXPERIMENT

    settings = get_settings()
    uri = tracking_uri or settings.mlflow_tracking_uri
    empty = SimulationRun(pd.DataFrame(columns=SIMULATION_COLUMNS), pd.DataFrame(), None)
    try:
        client = mlflow_client(uri)
        experiment = client.get_experiment_by_name(SIMULATION_EXPERIMENT)
        runs = (
            client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
            if experiment is not None
            else []
        )
        if not runs:
            return replace(empty, message="No simulation run yet: run `oo simulate --days 30`.")
        run = runs[0]
        series = {key.split(".", 1)[1]: key for key in run.data.metrics if key.startswith("acceptance_by_day.")}
        rows = [
            (metric.step + 1, policy, metric.value)
            for policy, key in series.items()
            for metric in client.get_metric_history(run.info.run_id, key)
        ]
    except Exception as error:  # the hub shows the message; the store's failure must not take the notebook down
        return replace(empty, message=unavailable(uri, error))
    figures = ("acceptance", "acceptance_last_10_days", "quiet_hours_violations", "delivered")
    summary = pd.DataFrame(
        [{"policy": policy, **{f: run.data.metrics.get(f"{f}.{policy}") for f in figures}} for policy in series]
    )
    url = f"{settings.mlflow_ui_url.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    by_day = pd.DataFrame(rows, columns=SIMULATION_COLUMNS).sort_values(["policy", "day"], ignore_index=True)
    return SimulationRun(by_day, summary, None, url)
