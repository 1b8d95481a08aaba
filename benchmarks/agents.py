"""Benchmark: synthetic persons x days of history through every registered agent (inference and snippet).

Run on demand, never in the suite: ``python benchmarks/agents.py [--persons 10000] [--days 90] [--workers 2]``.
It prints persons/s of the batch (persons sharded over worker processes, histories already in memory, as a worker
holds them after loading), the same for a straightforward per-person loop in one process, their ratio, peak memory,
and the per-person cost at several history lengths (cost must grow linearly with the number of days).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.base import UserHistory
from agents.inference import run_inference
from agents.registry import registry
from oo_app.demo import Habits, synthetic_history

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Marquesas", "UTC"]
PROJECTS = ["Work", "Home", "Health", "Errands", "Learning", "Family"]


def person(index: int, days: int) -> UserHistory:
    """Person ``index``: habits drawn from a generator seeded by the index, so every run sees the same people."""
    rng = random.Random(index)
    quiet_start = rng.choice([21, 22, 23, 0, 1])
    habits = Habits(
        tz=rng.choice(ZONES),
        preferred_hour=rng.randrange(8, 20),
        quiet_start=quiet_start,
        quiet_end=(quiet_start + rng.randrange(6, 9)) % 24,
        projects=tuple((name, rng.random() + 0.1) for name in rng.sample(PROJECTS, 4)),
        completions_per_day=rng.uniform(1.5, 5.0),
        lateness_days=rng.uniform(0.0, 3.0),
    )
    return UserHistory.from_mapping(synthetic_history(habits, days=days, now=NOW, seed=index))


def run_agents(history: UserHistory) -> int:
    """Every agent's inference then snippet for one person; the number of snippet characters (so work is used)."""
    size = 0
    for agent in registry().values():
        params = run_inference(agent.manifest, history)
        size += len(agent.compute(history, params).text)
    return size


def _shard(indices: range, days: int, barrier: mp.Barrier, results: mp.Queue) -> None:
    histories = [person(i, days) for i in indices]
    registry()  # import every agent before the clock starts
    barrier.wait()
    started = time.perf_counter()
    for history in histories:
        run_agents(history)
    results.put((len(histories), time.perf_counter() - started))


def batch(persons: int, days: int, workers: int) -> tuple[float, float]:
    """(wall seconds, persons/s) with ``persons`` sharded over ``workers`` processes that start together."""
    context = mp.get_context("fork")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    shards = [range(w, persons, workers) for w in range(workers)]
    processes = [context.Process(target=_shard, args=(s, days, barrier, results)) for s in shards]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    done = sum(results.get()[0] for _ in processes)
    wall = time.perf_counter() - started
    for process in processes:
        process.join()
    return wall, done / wall


def per_person_loop(persons: int, days: int) -> float:
    """Persons/s of a plain loop in this process."""
    histories = [person(i, days) for i in range(persons)]
    started = time.perf_counter()
    for history in histories:
        run_agents(history)
    return persons / (time.perf_counter() - started)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    parser.add_argument("--loop-sample", type=int, default=1_000, help="persons in the per-person loop")
    args = parser.parse_args()

    print(f"agents: {', '.join(registry())}")
    wall, rate = batch(args.persons, args.days, args.workers)
    print(f"batch: {args.persons} persons x {args.days} days on {args.workers} workers in {wall:.1f} s", end=": ")
    print(f"{rate:,.0f} persons/s")
    loop = per_person_loop(args.loop_sample, args.days)
    print(f"per-person loop (1 process, {args.loop_sample} persons): {loop:,.0f} persons/s")
    print(f"ratio batch / loop: {rate / loop:.2f}x")
    print(f"peak memory (largest process): {peak_rss_mb():.0f} MB")
    print("linearity (1 process, 200 persons):")
    for days in (30, 90, 180, 360):
        seconds_per_person = 1 / per_person_loop(200, days)
        per_day_us = seconds_per_person / days * 1e6
        print(f"  {days:>3} days: {seconds_per_person * 1e3:7.2f} ms/person, {per_day_us:6.1f} us/day")


if __name__ == "__main__":
    main()
