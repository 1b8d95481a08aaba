"""MLflow tracking against a real SQLite MLflow store per test: prompt registry, tip-generation traces, benchmark runs.

Each test gets its own tracking URI, so the once-per-URI configuration of :mod:`oo_app.tracking` starts afresh. A new
MLflow database costs about 6 s of migrations, so tests start from a copy of one migrated, still empty database.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from string import Template

import mlflow
import plotly.graph_objects as go
import pytest

from oo_app import settings, tracking
from oo_app.llm.router import get_router
from oo_app.recommender import prompt_registry
from oo_app.recommender.prompts import CURRENT_VERSION, PROMPTS_DIR

FACTS_ONLY_PROMPT = 'Write one tip.\nFacts (JSON): {"signals": {}, "recent_tips": []}'


def point_oo_at(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv("OO_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("OO_TIP_WRITER", "rules")  # the rule-based composer answers tip-generator
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; monkeypatch restores it at teardown.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings.get_settings.cache_clear()
    get_router.cache_clear()


@pytest.fixture
def mlflow_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template_db: Path) -> Iterator[Path]:
    """The folder of this test's own SQLite MLflow store, the tracking store of oO for the test."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    shutil.copy(mlflow_template_db, folder / "mlflow.db")
    point_oo_at(monkeypatch, f"sqlite:///{folder / 'mlflow.db'}")
    yield folder
    mlflow.litellm.autolog(disable=True)  # later tests' LiteLLM calls must not trace into this store
    settings.get_settings.cache_clear()
    get_router.cache_clear()


def test_configure_creates_the_folder_of_a_new_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "not-yet" / "mlflow.db"
    point_oo_at(monkeypatch, f"sqlite:///{database}")

    tracking.configure()

    assert database.is_file()
    assert mlflow.get_experiment_by_name(tracking.TRACES_EXPERIMENT) is not None
    mlflow.litellm.autolog(disable=True)


def test_registering_the_prompts_twice_adds_no_version(mlflow_dir: Path) -> None:
    first = prompt_registry.register_prompts()
    second = prompt_registry.register_prompts()

    assert sorted(first) == sorted(path.stem for path in PROMPTS_DIR.glob("*.txt"))
    assert second == first
    client = mlflow.MlflowClient()
    for name in {prompt_registry.prompt_name(version) for version in first}:
        versions = client.search_prompt_versions(name)
        mine = sorted(v for k, v in first.items() if prompt_registry.prompt_name(k) == name)
        assert sorted(v.version for v in versions) == mine, f"a second registration added versions of {name}"
    assert {prompt_registry.prompt_name(version) for version in first} == {"oo-orchestrator", "oo-judge"}


def test_a_registered_prompt_renders_exactly_like_its_repo_file(mlflow_dir: Path) -> None:
    registered = prompt_registry.register_prompts()

    client = mlflow.MlflowClient()
    for repo_version, mlflow_version in registered.items():
        text = (PROMPTS_DIR / f"{repo_version}.txt").read_text(encoding="utf-8")
        prompt = client.get_prompt_version(prompt_registry.prompt_name(repo_version), mlflow_version)
        values = {name: f"<{name} of {repo_version}>" for name in prompt.variables}
        assert prompt.template == prompt_registry.mlflow_template(text)
        assert prompt.format(**values) == Template(text).substitute(values), f"{repo_version} renders differently"
        assert prompt.tags[prompt_registry.PROMPT_VERSION_TAG] == repo_version


def test_the_hub_links_a_registered_prompt_version_and_nothing_for_an_unknown_one(mlflow_dir: Path) -> None:
    registered = prompt_registry.register_prompts()

    assert prompt_registry.prompt_uri(CURRENT_VERSION) == (
        f"{settings.get_settings().mlflow_ui_url}/#/prompts/oo-orchestrator?promptVersion={registered[CURRENT_VERSION]}"
    )
    assert prompt_registry.prompt_uri("orchestrator-v0") is None


# One generation as the app makes it, in a process of its own: LiteLLM's callbacks (MLflow's autolog among them) are
# process-wide, and earlier tests of this session leave them in states a fresh app process never has.
GENERATION = f"""
from oo_app import tracking
from oo_app.bootstrap import bootstrap
from oo_app.llm.aliases import TIP_GENERATOR
from oo_app.llm.router import get_router

bootstrap()
with tracking.traced_generation(
    42, prompt_version="orchestrator-v1", policy="incumbent", shadow=True, inputs={{"agents": ["momentum"]}}
) as gen:
    response = get_router().completion(
        model=TIP_GENERATOR, messages=[{{"role": "user", "content": {FACTS_ONLY_PROMPT!r}}}]
    )
    gen.text, gen.kind, gen.model = "Finish one task.", "todo", response.model
    gen.latency_ms, gen.prompt_tokens, gen.completion_tokens = 12.5, 0, 0
    gen.grounded, gen.fallback = True, False
tracking.flush()
print(gen.trace_id)
"""


def test_a_traced_generation_records_its_context_outcome_and_the_litellm_call(mlflow_dir: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", GENERATION], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    trace_id = done.stdout.strip().splitlines()[-1]
    mlflow.set_tracking_uri(os.environ["OO_MLFLOW_TRACKING_URI"])

    experiment = mlflow.get_experiment_by_name(tracking.TRACES_EXPERIMENT)
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert [trace.info.trace_id for trace in traces] == [trace_id]
    trace = traces[0]
    root = next(span for span in trace.data.spans if span.parent_id is None)
    assert root.name == "tip-generation"
    expected = {
        "oo.user_id": 42,
        "oo.alias": "tip-generator",
        "oo.prompt_version": "orchestrator-v1",
        "oo.policy": "incumbent",
        "oo.shadow": True,
        "oo.model": "oo-rules/composer",
        "oo.latency_ms": 12.5,
        "oo.grounded": True,
        "oo.fallback": False,
    }
    assert {key: root.attributes.get(key) for key in expected} == expected
    assert root.outputs == {"text": "Finish one task.", "kind": "todo"}
    assert root.inputs == {"agents": ["momentum"]}
    assert trace.info.tags["oo.policy"] == "incumbent"
    assert trace.info.trace_metadata["mlflow.trace.user"] == "42"
    children = [span for span in trace.data.spans if span.parent_id == root.span_id]
    assert [span.name for span in children] == ["litellm-completion"], "LiteLLM autolog added no child span"
    assert children[0].attributes["model"] == "composer"
    assert children[0].outputs["model"] == "oo-rules/composer"


def test_an_error_inside_a_traced_generation_reaches_the_caller_and_fails_the_trace(mlflow_dir: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="model down"),
        tracking.traced_generation(7, prompt_version=CURRENT_VERSION, policy="incumbent") as gen,
    ):
        raise RuntimeError("model down")
    tracking.flush()

    assert mlflow.get_trace(gen.trace_id).info.state == "ERROR"


def export_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "MLflowTraceLoggingConsumer"}


def test_a_flush_writes_the_queued_traces_and_leaves_mlflows_export_running(mlflow_dir: Path) -> None:
    """MLflow's own flush stops its export thread and waits for that thread's one-second poll to notice (1 to 2 s a
    flush, which every account deletion paid); oO's waits for the queue to drain, and the thread keeps running."""
    traced = []
    for name in ("first", "second"):
        with tracking.person_span(7, name) as trace_id:
            pass
        traced.append(trace_id)
        running = export_threads()  # after the first flush: the export started with the first trace
        tracking.flush()

    experiment = mlflow.get_experiment_by_name(tracking.TRACES_EXPERIMENT)
    written = mlflow.MlflowClient().search_traces(locations=[experiment.experiment_id])
    assert sorted(trace.info.trace_id for trace in written) == sorted(traced), (
        "a flush returned before its trace was written"
    )
    assert running, "the traces went through MLflow's asynchronous export"
    assert export_threads() == running, "the flush stopped MLflow's export thread (and waited for it to notice)"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("store", ["sqlite under a file", "http on a closed port"])
def test_an_unusable_store_never_breaks_tip_generation(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if store == "http on a closed port":
        uri = "http://127.0.0.1:9"
        for name in tracking.HTTP_BOUNDS:
            monkeypatch.delenv(name, raising=False)  # configure sets them; restored at teardown
    else:
        (tmp_path / "a-file").write_text("not a folder")
        uri = f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}"
    point_oo_at(monkeypatch, uri)

    with caplog.at_level(logging.WARNING, logger="oo_app.tracking"):
        with tracking.traced_generation(7, prompt_version=CURRENT_VERSION, policy="incumbent") as gen:
            gen.text = "Finish one task."
        with tracking.traced_generation(7, prompt_version=CURRENT_VERSION, policy="incumbent") as again:
            again.text = "Finish one task."

    assert gen.trace_id is None
    assert again.trace_id is None
    assert caplog.text.count("tips are not traced") == 1, "the failure is logged once, then not retried at once"


def test_a_benchmark_run_keeps_its_params_metrics_and_figures(mlflow_dir: Path) -> None:
    figure = go.Figure(go.Bar(x=["composer"], y=[1.5]))

    run_id = tracking.log_benchmark_run(
        "recommend-latency", {"persons": 3}, {"p50_ms": 12.5, "p95_ms": 20}, {"latency": figure, "memory": figure}
    )

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "recommend-latency"
    assert client.get_experiment(run.info.experiment_id).name == tracking.BENCH_EXPERIMENT
    assert run.data.params == {"persons": "3"}
    assert run.data.metrics == {"p50_ms": 12.5, "p95_ms": 20.0}
    assert sorted(a.path for a in client.list_artifacts(run_id, "figures")) == [
        "figures/latency.html",
        "figures/memory.html",
    ]
    assert run.info.artifact_uri.startswith(mlflow_dir.resolve().as_uri()), "artifacts belong beside the store"


def test_recommend_traces_each_generation_when_tracing_is_on(
    mlflow_dir: Path, monkeypatch: pytest.MonkeyPatch, session, demo_user
) -> None:
    from oo_app.recommender import recommend
    from tests.conftest import NOW

    monkeypatch.setenv("OO_TRACING_ENABLED", "true")
    settings.get_settings.cache_clear()
    tip = recommend(session, demo_user, NOW)
    tracking.flush()
    experiment = mlflow.get_experiment_by_name(tracking.TRACES_EXPERIMENT)
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert len(traces) == 1
    root = next(span for span in traces[0].data.spans if span.parent_id is None)
    assert root.attributes["oo.user_id"] == demo_user.id
    assert root.attributes["oo.prompt_version"] == CURRENT_VERSION
    assert root.attributes["oo.model"] == tip.model
    assert root.inputs == {"policy": tip.policy, "prompt_version": CURRENT_VERSION, "agents": tip.agent_ids}
