"""``oo bench models``: the personas through each policy (prompt version + alias), measured and logged to MLflow.

For every persona at several moments of one day, every agent computes its snippet from the persona's history (no
database: the agents' pure functions), the policy's prompt is rendered, and the policy's alias writes the tip
through the very function the app uses (:func:`write_tip`: the contract, the grounding check, the near-duplicate
guard, the composer fallback). Each tip is then scored by the ``judge`` alias. Per policy this gives latency, tokens,
the guardrail pass rate (the share of tips the alias itself wrote, its answer accepted), the judge score, and the
count of unfaithful tips that would have been shown (must be 0). Each policy is one MLflow run in ``oo-bench`` with
its per-tip series and plotly figures. Offline the judge is the guardrail checks (``oo-rules/checks``): the results
say so (``judge_stand_in``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.base import UserHistory
from agents.inference import infer_params
from agents.registry import registry
from oo_app.errors import InvalidInput
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.llm.router import embed
from oo_app.models import Policy, PolicyRole
from oo_app.recommender.grounding import is_grounded
from oo_app.recommender.judge import judge
from oo_app.recommender.orchestrator import RECENT_TIPS, write_tip
from oo_app.recommender.prompts import CURRENT_VERSION, SignalLine, facts_of, render
from oo_app.settings import ROOT, get_settings

DEFAULT_PERSONAS = ROOT / "tests" / "personas"
REFERENCE = Policy(
    name="rules", prompt_version=CURRENT_VERSION, alias="tip-generator-fallback", role=PolicyRole.retired
)


@dataclass(frozen=True)
class Moment:
    persona: str
    at: str  # ISO time of the moment
    signals: list[SignalLine]


@dataclass
class TipResult:
    persona: str
    text: str
    model: str
    latency_s: float
    prompt_tokens: int  # the rendered orchestrator prompt (LiteLLM's default encoding, cl100k_base)
    model_prompt_tokens: int  # what the model reported for the call (all its samples); 0 when it reports none
    completion_tokens: int
    by_model: bool  # the alias's own answer passed every guardrail (else the composer wrote it)
    samples_drawn: int | None
    judge_score: float | None
    grounded: bool


@dataclass
class PolicyBench:
    policy: Policy
    models: list[str]
    results: list[TipResult] = field(default_factory=list)
    judge: str = ""
    judge_stand_in: bool = True
    run_id: str | None = None

    def metrics(self) -> dict[str, float]:
        latencies = [r.latency_s for r in self.results]
        judged = [r.judge_score for r in self.results if r.judge_score is not None]
        drawn = [r.samples_drawn for r in self.results if r.samples_drawn is not None]
        figures = {
            "tips": len(self.results),
            "latency_p50_s": statistics.median(latencies),
            "latency_p95_s": _p95(latencies),
            "latency_max_s": max(latencies),
            "prompt_tokens_median": statistics.median(r.prompt_tokens for r in self.results),
            "prompt_tokens_max": max(r.prompt_tokens for r in self.results),
            "model_prompt_tokens_per_tip": statistics.fmean(r.model_prompt_tokens for r in self.results),
            "completion_tokens_per_tip": statistics.fmean(r.completion_tokens for r in self.results),
            "guardrail_pass_rate": sum(r.by_model for r in self.results) / len(self.results),
            "unfaithful_shown": sum(not r.grounded for r in self.results),
            "judged": len(judged),
        }
        if judged:
            figures["judge_score_mean"] = statistics.fmean(judged)
        if drawn:
            figures["samples_per_model_tip"] = statistics.fmean(drawn)
        return figures

    def params(self, personas: int, moments: int) -> dict[str, Any]:
        return {
            "policy": self.policy.name,
            "role": self.policy.role,
            "prompt_version": self.policy.prompt_version,
            "alias": self.policy.alias,
            "models": ", ".join(self.models),
            "personas": personas,
            "moments": moments,
        }


def _p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) >= 2 else values[0]


def load_moments(personas_dir: Path, per_day: int) -> list[Moment]:
    """``per_day`` moments spread over one day for every persona file in ``personas_dir`` (never reading truth)."""
    paths = sorted(personas_dir.glob("persona-*.json"))
    if not paths:
        raise FileNotFoundError(f"no persona-*.json in {personas_dir}")
    moments: list[Moment] = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("truth", None)
        base = UserHistory.from_mapping(data)
        for step in range(per_day):
            now = base.now + timedelta(hours=step * 24 // per_day)
            history = UserHistory(base.events, base.task_completions, base.tz, now)
            signals = []
            for agent_id, agent in registry().items():
                snippet = agent.compute(history, infer_params(agent.manifest, history).params())
                signals.append(SignalLine(agent_id, snippet.text, snippet.data))
            moments.append(Moment(path.stem, now.isoformat(), signals))
    return moments


def _models(policy: Policy) -> list[str]:
    deployments = get_settings().alias_table.get(policy.alias)
    if not deployments:
        raise InvalidInput(f"policy {policy.name!r} uses the alias {policy.alias!r}, which is not configured")
    return [str(deployment.get("model")) for deployment in deployments]


def prompt_tokens(prompt: str) -> int:
    """``prompt``'s tokens in LiteLLM's default encoding (cl100k_base), what ``litellm.token_counter(text=...)``
    counts, read from the encoding itself: the Router turns LiteLLM's counter off unless
    ``OO_LLM_COUNT_TOKENS_LOCALLY`` (docs/adr/0016-lean-web-workers.md), and the bench compares prompts whatever the
    server reports."""
    import litellm

    return len(litellm.encoding.encode(prompt, disallowed_special=()))


def bench_policy(policy: Policy, moments: Iterable[Moment]) -> PolicyBench:
    """Write and judge one tip per moment with ``policy`` (after one untimed warm-up call); each persona's earlier tips
    are its recent tips."""
    bench = PolicyBench(policy=policy, models=_models(policy))
    moments = list(moments)
    if moments:  # warm-up, untimed: loading a local model or opening a connection is not a tip's latency
        first = moments[0]
        write_tip(render(first.signals, [], policy.prompt_version), facts_of(first.signals, []), policy.alias)
        embed(["warm-up"])  # the near-duplicate guard's embedder, first used once a persona has recent tips
    recent: dict[str, list[str]] = {}
    for moment in moments:
        previous = recent.setdefault(moment.persona, [])[:RECENT_TIPS]
        prompt = render(moment.signals, previous, policy.prompt_version)
        lines = [signal.text for signal in moment.signals]
        started = time.perf_counter()
        written = write_tip(prompt, facts_of(moment.signals, previous), policy.alias)
        latency = time.perf_counter() - started
        verdict = judge(written.draft.text, lines, previous)
        if verdict is not None:
            bench.judge, bench.judge_stand_in = verdict.judge, verdict.stand_in
        bench.results.append(
            TipResult(
                persona=moment.persona,
                text=written.draft.text,
                model=written.model,
                latency_s=latency,
                prompt_tokens=prompt_tokens(prompt),
                model_prompt_tokens=written.prompt_tokens,
                completion_tokens=written.completion_tokens,
                by_model=written.model != COMPOSER_MODEL or bench.models == [COMPOSER_MODEL],
                samples_drawn=written.samples_drawn,
                judge_score=verdict.score if verdict else None,
                grounded=is_grounded(written.draft.text, lines),
            )
        )
        recent[moment.persona].insert(0, written.draft.text)
    return bench


def figures(bench: PolicyBench) -> dict[str, Any]:
    """Plotly figures of one policy's run: latency per tip, judge scores, and who wrote the tips per persona."""
    import pandas as pd
    import plotly.express as px

    frame = pd.DataFrame([vars(result) for result in bench.results])
    frame["writer"] = frame["by_model"].map({True: "the alias", False: "composer fallback"})
    name = bench.policy.name
    return {
        "latency": px.histogram(frame, x="latency_s", nbins=30, title=f"{name}: seconds per tip"),
        "judge": px.box(frame, x="persona", y="judge_score", points="all", title=f"{name}: judge score per persona"),
        "writers": px.histogram(frame, x="persona", color="writer", title=f"{name}: who wrote each tip"),
    }


def run_logged(policy: Policy, moments: Sequence[Moment]) -> PolicyBench:
    """:func:`bench_policy` inside an MLflow run of ``oo-bench`` (its LiteLLM calls traced into it), then its
    metrics, per-tip series and figures logged there."""
    from oo_app import tracking

    personas = len({moment.persona for moment in moments})
    placeholder = PolicyBench(policy=policy, models=_models(policy))
    with tracking.benchmark_run(f"bench {policy.name}", placeholder.params(personas, len(moments))) as run_id:
        bench = bench_policy(policy, moments)
        bench.run_id = run_id
        series = {
            "tip_latency_s": [r.latency_s for r in bench.results],
            "tip_judge_score": [r.judge_score for r in bench.results if r.judge_score is not None],
        }
        tags = {"oo.judge": bench.judge, "oo.judge_stand_in": str(bench.judge_stand_in).lower()}
        tracking.log_results(run_id, bench.metrics(), figures(bench), series, tags)
    return bench


def summary(benches: Sequence[PolicyBench]) -> dict[str, Any]:
    """The JSON ``oo bench models`` prints: per policy its params, metrics, MLflow run and a few of its tips."""
    return {
        bench.policy.name: {
            "prompt_version": bench.policy.prompt_version,
            "alias": bench.policy.alias,
            "models": bench.models,
            "judge": bench.judge
            + (" (the guardrail checks stand in for a judge model)" if bench.judge_stand_in else ""),
            "mlflow_run_id": bench.run_id,
            "metrics": {key: round(value, 4) for key, value in bench.metrics().items()},
            "examples": [f"{r.persona}: {r.text} [{r.model}]" for r in bench.results[:3]],
        }
        for bench in benches
    }
