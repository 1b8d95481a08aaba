"""Benchmark: Thompson sampling (the incumbent) against other ways to learn, on the simulation (issue 17, ADR-0008).

Run on demand, never in the suite: ``python benchmarks/learners.py [--personas DIR] [--days 30] [--seed 0]
[--workers 2] [--vw-exploration squarecb|epsilon|both]``. It runs :func:`oo_app.evaluation.simulation.simulate` with
the incumbent, ``epsilon-greedy``, ``greedy`` and ``vw-cb-adf`` (:mod:`benchmarks.learner_policies`) beside the
baselines no-learning, random-agent and oracle, rules writer, and prints per policy its acceptance over the run and
over its last 10 days, its tips in true quiet hours, the milliseconds of each of a learner's choices (and of VW's
learning before it), and the range of the propensities its tips logged: a table, then the same as one JSON line.
Nothing here is a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [entry for entry in sys.path if entry != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OO_ENV", "test")
os.environ.setdefault("OO_TIP_WRITER", "rules")
os.environ.setdefault("OO_TRACING_ENABLED", "false")
os.environ.setdefault("OO_PREPARE_NEXT_TIP", "false")
os.environ.setdefault("OO_SCHEDULER_ENABLED", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# After the settings above: oO reads them when first asked.
from agents import runner  # noqa: E402
from benchmarks.learner_policies import (  # noqa: E402
    EPSILON,
    VW_EXPLORATION,
    VowpalWabbitMissing,
    VowpalWabbitPolicy,
    epsilon_greedy,
    require_vowpalwabbit,
)
from oo_app.bootstrap import bootstrap  # noqa: E402
from oo_app.evaluation.simulation import simulate  # noqa: E402
from oo_app.evaluation.simulation_report import SimulationReport  # noqa: E402
from oo_app.recommender import learning, orchestrator, recommend  # noqa: E402

PERSONAS = ROOT / "tests" / "personas"
INCUMBENT = "incumbent"
VW = "vw-cb-adf"
DEFAULT_EXPLORATION = "squarecb"  # ahead of --epsilon 0.1 over 30 days on the sample personas, within noise (ADR-0008)
PRIOR = "population-prior"  # the ledger's entry for the prior the learner agent read, not a policy


class Ledger:
    """What the policies report beside their tips, ``(policy, measure, value)``, from every process of a run: each
    appends to a file of its own in ``folder`` (forked workers return only the simulation's report)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def note(self, policy: str, measure: str, value: float) -> None:
        with (self.folder / f"{os.getpid()}.jsonl").open("a", encoding="utf-8") as file:
            file.write(json.dumps([policy, measure, value]) + "\n")

    def read(self) -> dict[str, dict[str, list[float]]]:
        """Per policy and measure, every value noted, in no particular order."""
        found: dict[str, dict[str, list[float]]] = {}
        for path in sorted(self.folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                policy, measure, value = json.loads(line)
                found.setdefault(policy, {}).setdefault(measure, []).append(value)
        return found


_writing: ContextVar[str | None] = ContextVar("writing", default=None)


def recorded(name: str, writer: Callable[..., Any], ledger: Ledger) -> Callable[..., Any]:
    """``writer``, its choices timed under ``name`` (inside :func:`timing_choices`) and its tips' propensities noted
    (``propensity``; a tip without one as ``no_propensity``)."""

    def write(session: Any, user: Any, now: Any) -> Any:
        token = _writing.set(name)
        try:
            tip = writer(session, user, now)
        finally:
            _writing.reset(token)
        if tip.propensity is None:
            ledger.note(name, "no_propensity", 1)
        else:
            ledger.note(name, "propensity", tip.propensity)
        return tip

    return write


@contextmanager
def timing_choices(ledger: Ledger) -> Iterator[None]:
    """Inside it, each choice the orchestrator makes (:func:`oo_app.recommender.learning.choose`, overrides included)
    for a :func:`recorded` writer is timed into ``ledger`` (``choice_s``)."""
    untimed = orchestrator.choose

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        choice = untimed(*args, **kwargs)
        elapsed = time.perf_counter() - started
        name = _writing.get()
        if name is not None:
            ledger.note(name, "choice_s", elapsed)
        return choice

    with mock.patch.object(orchestrator, "choose", timed):
        yield


@contextmanager
def noting_prior(ledger: Ledger) -> Iterator[None]:
    """Inside it, the number of keys of the population prior each learner computation reads is noted (under
    :data:`PRIOR`): the simulation's persons of every policy share a database per process, and the prior is cached
    for ten minutes of wall-clock time, so a run that long may hand later policies a prior earlier ones lacked."""

    def provider(session: Any) -> Any:
        prior = learning.population_prior(session)
        ledger.note(PRIOR, "keys", len(prior))
        return prior

    runner.provide_prior(provider)
    try:
        yield
    finally:
        runner.provide_prior(learning.population_prior)


def vw_names(exploration: str) -> dict[str, str]:
    """The VW policies to run, by name: ``vw-cb-adf`` with one exploration, or one per exploration with ``both``."""
    if exploration == "both":
        return {f"{VW}:{variant}": variant for variant in VW_EXPLORATION}
    return {VW: exploration}


def policies(seed: int, exploration: str, ledger: Ledger) -> dict[str, Callable[..., Any]]:
    """The learners compared, as tip writers :func:`recorded` into ``ledger``."""
    writers: dict[str, Callable[..., Any]] = {
        INCUMBENT: recommend,
        "epsilon-greedy": epsilon_greedy("epsilon-greedy", EPSILON, seed),
        "greedy": epsilon_greedy("greedy", 0.0, seed),
    }
    for name, variant in vw_names(exploration).items():
        writers[name] = VowpalWabbitPolicy(name, variant, seed, partial(ledger.note, name))
    return {name: recorded(name, writer, ledger) for name, writer in writers.items()}


def _ms(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"median": round(statistics.median(ordered) * 1000, 3), "p95": round(p95 * 1000, 3), "n": len(ordered)}


def summary(
    report: SimulationReport, notes: dict[str, dict[str, list[float]]], exploration: str, seconds: float
) -> dict[str, Any]:
    """The comparison as the JSON line prints it: per policy the simulation's figures and what the ledger noted."""
    found: dict[str, Any] = {}
    prior = notes.get(PRIOR, {}).get("keys", [])
    for name, result in report.policies.items():
        noted = notes.get(name, {})
        propensities = noted.get("propensity", [])
        found[name] = {
            "delivered": result.delivered,
            "acceptance": result.acceptance,
            "acceptance_last_10_days": report.last_days(name),
            "quiet_hours_violations": result.quiet_violations,
            "lift": report.lift(name),
            "choice_ms": _ms(noted.get("choice_s", [])),
            "learn_ms": _ms(noted.get("learn_s", [])),
            "propensity": {"min": min(propensities), "max": max(propensities), "n": len(propensities)}
            if propensities
            else None,
            "no_propensity": int(sum(noted.get("no_propensity", []))),
            "skipped_learning": int(sum(noted.get("skipped", []))),
        }
    return {
        "days": report.days,
        "seed": report.seed,
        "personas": list(report.personas),
        "vw_exploration": exploration,
        "seconds": round(seconds, 1),
        "policies": found,
        "goals": report.goals(),
        "population_prior": {"reads": len(prior), "non_empty": sum(1 for keys in prior if keys)},
    }


def table(data: dict[str, Any]) -> str:
    """One line per policy: tips, acceptance, last 10 days, quiet-hour tips, choice and learning ms, propensities."""

    def ms(value: dict[str, float] | None) -> str:
        return "-" if value is None else f"{value['median']:.3f}/{value['p95']:.3f}"

    header = ["tips", "accept", "last 10 d", "quiet", "choice ms", "learn ms", "propensity"]
    width = max(len(name) for name in [*data["policies"], "policy"])
    lines = [
        f"{len(data['personas'])} personas x {data['days']} days, seed {data['seed']}, VW {data['vw_exploration']}; "
        "ms = median/p95 per choice (per learning before it, VW)",
        f"{'policy':<{width}}  " + "  ".join(f"{column:>15}" for column in header),
    ]
    for name, figures in data["policies"].items():
        propensity = figures["propensity"]
        cells = [
            figures["delivered"],
            f"{figures['acceptance']:.1%}",
            f"{figures['acceptance_last_10_days']:.1%}",
            figures["quiet_hours_violations"],
            ms(figures["choice_ms"]),
            ms(figures["learn_ms"]),
            "-" if propensity is None else f"{propensity['min']:.3f}-{propensity['max']:.3f}",
        ]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell!s:>15}" for cell in cells))
    return "\n".join(lines)


def compare(personas: list[Path], days: int, seed: int, workers: int, exploration: str) -> dict[str, Any]:
    """Run the simulation with the learners beside the baselines; the :func:`summary` of it."""
    with tempfile.TemporaryDirectory(prefix="oo-learners-") as folder:
        ledger = Ledger(Path(folder))
        started = time.perf_counter()
        with timing_choices(ledger), noting_prior(ledger):
            report = simulate(
                personas, days=days, policies=policies(seed, exploration, ledger), seed=seed, workers=workers
            )
        seconds = time.perf_counter() - started
        print(report.table(), file=sys.stderr)
        return summary(report, ledger.read(), exploration, seconds)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=Path, default=PERSONAS, help="a folder of persona-*.json")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes sharing the simulation's runs")
    parser.add_argument("--vw-exploration", choices=[*VW_EXPLORATION, "both"], default=DEFAULT_EXPLORATION)
    args = parser.parse_args(argv)
    if args.days < 1 or args.workers < 1:
        parser.error("--days and --workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        require_vowpalwabbit()
    except VowpalWabbitMissing as error:
        sys.exit(f"learners: {error}")
    personas = sorted(args.personas.glob("persona-*.json"))
    if not personas:
        sys.exit(f"learners: no persona-*.json in {args.personas}")

    bootstrap()
    data = compare(personas, args.days, args.seed, args.workers, args.vw_exploration)
    print(table(data))
    print(json.dumps(data))


if __name__ == "__main__":
    main()
