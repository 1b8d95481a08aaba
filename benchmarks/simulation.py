"""Benchmark: how long the offline simulation takes (issue 17 asks 28 personas x 30 days x 4 policies in under 5
minutes on 2 cores).

Run on demand, never in the suite: ``python benchmarks/simulation.py [--generated 21] [--days 30] [--workers 2]``.
It writes ``--generated`` personas of the independent set ``--set-seed`` (:mod:`oo_app.evaluation.persona_set`) into
a temporary folder beside the sample personas of ``--personas``, runs :func:`oo_app.evaluation.simulation.simulate`
on all of them (the rules writer, no MLflow run) and prints the seconds (wall clock, and CPU of this process and its
workers, which another load on the machine does not inflate), the tips per second, and the report's table. Nothing
here is a test: the figures depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OO_ENV", "test")
os.environ.setdefault("OO_SCHEDULER_ENABLED", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "personas"


def cpu_seconds() -> float:
    """User and system time of this process and of its children that ended (the simulation's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=Path, default=SAMPLES, help="folder of persona-*.json to include")
    parser.add_argument("--generated", type=int, default=21, help="personas of the independent set to add")
    parser.add_argument("--set-seed", type=int, default=1, help="the independent set's seed")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the simulation's seed")
    args = parser.parse_args()

    from oo_app.bootstrap import bootstrap
    from oo_app.evaluation.persona_set import write_persona_set
    from oo_app.evaluation.simulation import simulate

    bootstrap()
    with tempfile.TemporaryDirectory(prefix="oo-bench-simulation-") as folder:
        for sample in sorted(args.personas.glob("persona-*.json")):
            shutil.copy(sample, folder)
        write_persona_set(Path(folder), count=args.generated, seed=args.set_seed)
        personas = sorted(Path(folder).glob("persona-*.json"))
        started, cpu = time.perf_counter(), cpu_seconds()
        report = simulate(personas, days=args.days, seed=args.seed, workers=args.workers)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    tips = sum(result.delivered for result in report.policies.values())
    print(report.table())
    print(
        f"{len(personas)} personas x {args.days} days x {len(report.policies)} policies, {args.workers} workers on "
        f"{os.cpu_count()} cores: {tips} tips in {wall:.1f} s ({tips / wall:.1f} tips/s), CPU {cpu:.1f} s "
        f"({tips / cpu:.1f} tips per CPU second)"
    )


if __name__ == "__main__":
    main()
