"""The learners' comparison (``benchmarks/learners.py``, ADR-0008), bounded: two personas for three days through every
learner and baseline, read from its JSON line; Vowpal Wabbit's examples as it learns them; the message without it.
No timing is asserted: the figures are the benchmark's own runs'."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.learner_policies import VW_ARGS, VW_EXPLORATION, decide, require_vowpalwabbit
from oo_app.models import TipKind
from oo_app.recommender.composer import TipDraft

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "learners.py"
PERSONAS = ROOT / "tests" / "personas"
LEARNERS = ("incumbent", "epsilon-greedy", "greedy", "vw-cb-adf")
BASELINES = ("no-learning", "random-agent", "oracle")


def _benchmark(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OO_TIP_WRITER": "rules", "OO_TRACING_ENABLED": "false", **env}
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300, check=False)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    personas = tmp_path_factory.mktemp("personas")
    for name in ("persona-7-00.json", "persona-7-01.json"):
        shutil.copy(PERSONAS / name, personas / name)
    result = _benchmark("--personas", str(personas), "--days", "3", "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_every_learner_and_baseline_reports_its_acceptance_as_a_share(comparison: dict[str, Any]) -> None:
    policies = comparison["policies"]
    assert set(policies) == {*LEARNERS, *BASELINES}
    for name, figures in policies.items():
        assert figures["delivered"] > 0, name
        assert 0.0 <= figures["acceptance"] <= 1.0, name
        assert 0.0 <= figures["acceptance_last_10_days"] <= 1.0, name


def test_every_tip_of_a_learner_logs_a_propensity_in_zero_one(comparison: dict[str, Any]) -> None:
    for name in LEARNERS:
        figures = comparison["policies"][name]
        propensity = figures["propensity"]
        assert figures["no_propensity"] == 0, name
        assert propensity["n"] == figures["delivered"], name
        assert 0.0 < propensity["min"] <= propensity["max"] <= 1.0, name


def test_greedy_never_explores_and_epsilon_greedy_does(comparison: dict[str, Any]) -> None:
    greedy, explorer = comparison["policies"]["greedy"]["propensity"], comparison["policies"]["epsilon-greedy"]
    assert greedy["min"] == greedy["max"] == 1.0
    assert explorer["propensity"]["max"] < 1.0, "the greedy lead keeps (1 - e) + e/k, less than 1 among several leads"


def test_no_learner_tips_in_quiet_hours(comparison: dict[str, Any]) -> None:
    violations = {name: figures["quiet_hours_violations"] for name, figures in comparison["policies"].items()}
    assert violations == dict.fromkeys(violations, 0)


@pytest.mark.parametrize("exploration", sorted(VW_EXPLORATION))
def test_vowpal_wabbit_learns_to_lead_with_what_is_taken_up(exploration: str) -> None:
    """The examples VW learns from carry the cost on the action taken: after momentum tips are done and focus-area
    tips dismissed, it gives momentum most of its probability."""
    workspace = require_vowpalwabbit().Workspace(f"{VW_ARGS} {VW_EXPLORATION[exploration]}")
    drafts = [
        TipDraft(text="Keep going.", kind=TipKind.advice, lead="momentum"),
        TipDraft(text="Your area.", kind=TipKind.advice, lead="focus-area"),
        TipDraft(text="Breathe.", kind=TipKind.advice, lead=None),
    ]
    rng = random.Random(0)
    for _ in range(60):
        decision, index = decide(workspace, "shared |U part=morning", drafts, rng)
        workspace.learn(decision.labelled(0.0 if drafts[index].lead == "momentum" else 1.0))
    decision, _ = decide(workspace, "shared |U part=morning", drafts, rng)
    pmf = workspace.predict(list(decision.lines))
    assert pmf[0] == max(pmf), pmf
    assert pmf[0] > 0.6, pmf


def test_without_vowpalwabbit_the_benchmark_says_how_to_install_it(tmp_path: Path) -> None:
    blocked = tmp_path / "vowpalwabbit"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('not installed here')\n")
    result = _benchmark("--days", "1", PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    assert result.returncode != 0
    assert "needs Vowpal Wabbit" in result.stderr, result.stderr[-2000:]
    assert "requirements.lock" in result.stderr, "it says how to install it"
