"""``oo bench models`` and ``oo policy``: the personas through each policy, one MLflow run per policy, and the
evidence it leaves for promotion. The commands run in this process (tests/conftest.py's ``oo``) on a real SQLite
database and a real SQLite MLflow store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from click.testing import Result
from sqlmodel import Session

from oo_app.db import make_engine
from oo_app.llm.aliases import CHECKS_MODEL, COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import Policy

PERSONAS = Path(__file__).parent / "personas"


@dataclass(frozen=True)
class Workspace:
    """Two personas, a migrated oO database and an MLflow store of the test's own."""

    personas: Path
    database_url: str
    mlflow_uri: str
    oo: Callable[..., Result]

    def run(self, *args: str, **env: str) -> Result:
        """``oo *args`` on this workspace's database and MLflow store, with the composer writing tips."""
        store = {"OO_MLFLOW_TRACKING_URI": self.mlflow_uri, "OO_TIP_WRITER": "rules"}
        return self.oo(*args, database_url=self.database_url, **store, **env)


@pytest.fixture
def workspace(
    tmp_path: Path,
    sqlite_url: str,
    mlflow_template_db: Path,
    oo: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Workspace]:
    personas = tmp_path / "personas"
    personas.mkdir()
    for name in ("persona-7-00.json", "persona-7-01.json"):
        shutil.copy(PERSONAS / name, personas / name)
    store = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template_db, store)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield Workspace(personas, sqlite_url, f"sqlite:///{store}", oo)
    # The commands ran in this process: later tests' LiteLLM calls must not trace into this store.
    mlflow.litellm.autolog(disable=True)


def _bench(workspace: Workspace, *args: str, **env: str) -> dict[str, dict]:
    result = workspace.run("bench", "models", "--personas", str(workspace.personas), *args, **env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_policy_is_one_mlflow_run_with_metrics_series_figures_and_traces(workspace: Workspace) -> None:
    summary = _bench(workspace, "--per-day", "2")

    assert set(summary) == {"incumbent", "rules"}, "the incumbent and the composer-only reference"
    client = mlflow.MlflowClient(tracking_uri=str(workspace.mlflow_uri))
    experiment = client.get_experiment_by_name("oo-bench")
    for name, result in summary.items():
        metrics = result["metrics"]
        assert metrics["tips"] == 4, "2 personas x 2 moments"
        assert metrics["unfaithful_shown"] == 0
        assert 0 < metrics["prompt_tokens_median"] <= metrics["prompt_tokens_max"] <= 450  # recommender/prompts.py
        assert "guardrail checks stand in" in result["judge"]
        run = client.get_run(result["mlflow_run_id"])
        assert (run.info.run_name, run.info.status, run.info.experiment_id) == (
            f"bench {name}",
            "FINISHED",
            experiment.experiment_id,
        )
        assert run.data.metrics["judge_score_mean"] == pytest.approx(metrics["judge_score_mean"], abs=1e-4)
        assert run.data.metrics["guardrail_pass_rate"] == metrics["guardrail_pass_rate"]
        assert run.data.params["prompt_version"] == result["prompt_version"]
        assert run.data.tags["oo.judge"] == CHECKS_MODEL
        assert run.data.tags["oo.judge_stand_in"] == "true"
        assert len(client.get_metric_history(run.info.run_id, "tip_latency_s")) == 4
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert artifacts == {"figures/latency.html", "figures/judge.html", "figures/writers.html"}
        traces = client.search_traces(locations=[experiment.experiment_id], max_results=100)
        linked = [t for t in traces if t.info.request_metadata.get("mlflow.sourceRun") == run.info.run_id]
        assert len(linked) >= 4, "every tip-generator call of the run is traced into it"

    engine = make_engine(str(workspace.database_url))
    with Session(engine) as session:
        stored = session.get(Policy, "incumbent")
        assert stored is not None, "the built-in incumbent keeps its offline figures"
        assert stored.offline_run_id == summary["incumbent"]["mlflow_run_id"]
        assert stored.offline_judge_score == pytest.approx(summary["incumbent"]["metrics"]["judge_score_mean"])
        assert session.get(Policy, "rules") is None, "the reference is not a policy"
    engine.dispose()


def test_a_candidate_answering_garbage_passes_no_guardrail_and_cannot_be_promoted(
    workspace: Workspace,
) -> None:
    aliases = {
        "tip-generator": [{"model": COMPOSER_MODEL}],
        "tip-generator-fallback": [{"model": COMPOSER_MODEL}],
        "tip-generator-candidate": [{"model": "openai/chatty", "mock_response": "Sure! Drink water.", "api_key": "x"}],
        "embedder": [{"model": LOCAL_EMBEDDING_MODEL}],
        "judge": [{"model": CHECKS_MODEL}],
    }
    env = {"OO_LLM_ALIASES": json.dumps(aliases), "OO_LLM_RETRIES": "0"}
    added = workspace.run(
        "policy", "add", "chatty", "--prompt", "orchestrator-v2", "--alias", "tip-generator-candidate", **env
    )
    assert added.exit_code == 0, added.stderr

    summary = _bench(workspace, "--per-day", "1", "--no-mlflow", "--no-reference", **env)

    assert set(summary) == {"incumbent", "chatty"}
    chatty = summary["chatty"]
    assert chatty["mlflow_run_id"] is None
    assert chatty["metrics"]["guardrail_pass_rate"] == 0.0
    assert chatty["metrics"]["unfaithful_shown"] == 0, "the composer covered every rejected answer"
    assert all(example.endswith(f"[{COMPOSER_MODEL}]") for example in chatty["examples"])

    refused = workspace.run("policy", "promote", "chatty", "--by", "ops@example.com", **env)
    assert refused.exit_code == 1
    assert "cannot be promoted yet" in refused.stderr
    assert "0 shadow tips online" in refused.stderr
    assert "Traceback" not in refused.stderr
    report = json.loads(workspace.run("policy", "report", "chatty", **env).stdout)
    assert report["offline_judge_candidate"] == pytest.approx(chatty["metrics"]["judge_score_mean"])
    assert any("shadow tips online" in blocker for blocker in report["blockers"])
    listed = json.loads(workspace.run("policy", "list", **env).stdout)
    assert [(row["name"], row["role"]) for row in listed] == [("incumbent", "incumbent"), ("chatty", "shadow")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy", "promote", "nobody", "--by", "ops"], "no policy 'nobody'"),
        (["policy", "add", "Bad Name", "--prompt", "orchestrator-v2", "--alias", "tip-generator"], "policy name"),
        (["bench", "models", "--policy", "nobody", "--no-mlflow"], "no policy 'nobody'"),
    ],
)
def test_operator_mistakes_are_messages_not_stack_traces(workspace: Workspace, args: list[str], message: str) -> None:
    result = workspace.run(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_oo_simulate_prints_the_table_and_the_report(workspace: Workspace) -> None:
    result = workspace.run("simulate", "--days", "2", "--personas", str(workspace.personas))

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert set(report["policies"]) == {"incumbent", "no-learning", "random-agent", "oracle"}
    for name, figures in report["policies"].items():
        assert figures["quiet_hours_violations"] == 0, name
        assert figures["delivered"] > 0, name
        assert 0 <= figures["acceptance_last_10_days"] <= 1, name
        assert len(figures["acceptance_by_day"]) == 2, name
    assert "quiet-hours" in result.stderr
    # One run of MLflow's oo-simulation with the figure of acceptance per day and each policy's series.
    client = mlflow.MlflowClient(tracking_uri=str(workspace.mlflow_uri))
    run = client.get_run(report["mlflow_run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "oo-simulation"
    assert run.data.metrics["acceptance.oracle"] == pytest.approx(report["policies"]["oracle"]["acceptance"])
    history = client.get_metric_history(run.info.run_id, "acceptance_by_day.incumbent")
    assert [metric.step for metric in history] == [0, 1]
    assert "figures/acceptance_by_day.html" in [item.path for item in client.list_artifacts(run.info.run_id, "figures")]
