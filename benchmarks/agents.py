"""Benchmark: synthetic persons x days of history through every registered agent (inference and snippet).

Run on demand, never in the suite: ``python benchmarks/agents.py [--persons 10000] [--days 90] [--workers 2]``.
Histories are in memory as a worker holds them after loading. It prints, side by side in one run: on one process,
the per-person loop against the batch path (:mod:`agents.batch`: histories packed into columns, every agent for all
persons at once) on the same persons, with the batch's share spent packing; on ``--workers`` processes, ``--persons``
persons through the batch (groups of the runner's size) and through the per-person loop; the batch's cost per person
at several numbers of persons and of days (it must grow linearly in both); peak memory and the load average (the
machine may be shared: compare the ratios, which are measured together).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# The checkout in place of this folder: benchmarks/calendar.py would shadow the standard library's (pandas reads it).
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.base import UserHistory
from agents.batch import compute_many
from agents.inference import infer_params
from agents.population import Population
from agents.registry import registry
from agents.runner import BATCH_PERSONS
from oo_app.demo import Habits, synthetic_history

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Marquesas", "UTC"]
PROJECTS = ["Work", "Home", "Health", "Errands", "Learning", "Family"]
ROUNDS = 2  # each comparison runs both sides this many times, alternated, so both see the same load


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


def per_person(histories: Sequence[UserHistory]) -> int:
    """Every agent's inference then snippet, person by person (the path of a single recompute); snippet characters."""
    size = 0
    for history in histories:
        for agent in registry().values():
            size += len(agent.compute(history, infer_params(agent.manifest, history).params()).text)
    return size


def in_batch(histories: Sequence[UserHistory], group: int = BATCH_PERSONS) -> tuple[int, float]:
    """Every agent for ``group`` persons at a time (as the runner's rounds do); snippet characters and the seconds
    spent packing histories into columns."""
    size, packing = 0, 0.0
    for first in range(0, len(histories), group):
        population = Population(histories[first : first + group])
        started = time.perf_counter()
        population.done, population.moods  # noqa: B018  (packs every column the agents read)
        packing += time.perf_counter() - started
        for agent in registry().values():
            size += sum(len(outcome.snippet.text) for outcome in compute_many(agent, population) if outcome.snippet)
    return size, packing


def warm_up() -> None:
    """Import every agent and what the batch path imports on first use, before any clock starts."""
    in_batch([person(0, 30), person(1, 30)])
    per_person([person(0, 30)])


def timed(run, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - started, result


def _shard(indices: range, days: int, barrier: mp.Barrier, results: mp.Queue) -> None:
    histories = [person(i, days) for i in indices]
    warm_up()
    for run in (in_batch, per_person) * ROUNDS:
        barrier.wait()
        started = time.perf_counter()
        run(histories)
        results.put((run.__name__, len(histories), time.perf_counter() - started))


def on_workers(persons: int, days: int, workers: int) -> dict[str, float]:
    """Wall seconds of the batch and of the per-person loop for ``persons`` sharded over ``workers`` processes that
    build their histories first and then start each run together."""
    context = mp.get_context("fork")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    shards = [range(w, persons, workers) for w in range(workers)]
    processes = [context.Process(target=_shard, args=(s, days, barrier, results)) for s in shards]
    for process in processes:
        process.start()
    walls: dict[str, float] = {}
    for name in ("in_batch", "per_person") * ROUNDS:  # alternated; the faster of each counts
        barrier.wait()
        started = time.perf_counter()
        done = sum(results.get()[1] for _ in processes)
        walls[name] = min(walls.get(name, math.inf), time.perf_counter() - started)
        assert done == persons
    for process in processes:
        process.join()
    return walls


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    parser.add_argument("--sample", type=int, default=1_000, help="persons of the one-process comparison")
    args = parser.parse_args()

    print(f"agents: {', '.join(registry())}; load average (1/5/15 min) {load()}")
    warm_up()
    histories = [person(i, args.days) for i in range(args.sample)]
    loop, batch, pack = [], [], []
    for _ in range(ROUNDS):  # alternated, so both see the same load; the faster of each counts
        loop.append(timed(per_person, histories)[0])
        seconds, (_, packing) = timed(in_batch, histories)
        batch.append(seconds)
        pack.append(packing)
    best_loop, best_batch = min(loop), min(batch)
    packing = pack[batch.index(best_batch)]
    print(f"1 process, {args.sample} persons x {args.days} days:")
    print(f"  per-person loop: {best_loop:6.2f} s, {best_loop / args.sample * 1e3:.2f} ms/person")
    print(f"  batch:           {best_batch:6.2f} s, {best_batch / args.sample * 1e3:.2f} ms/person", end="")
    print(f" (packing {packing / best_batch:.0%}, agents {1 - packing / best_batch:.0%})")
    print(f"  ratio loop / batch: {best_loop / best_batch:.1f}x")
    walls = on_workers(args.persons, args.days, args.workers)
    print(f"{args.workers} worker processes, {args.persons} persons x {args.days} days:")
    print(f"  batch:           {walls['in_batch']:6.2f} s, {args.persons / walls['in_batch']:,.0f} persons/s")
    print(f"  per-person loop: {walls['per_person']:6.2f} s, {args.persons / walls['per_person']:,.0f} persons/s")
    print(f"  ratio loop / batch: {walls['per_person'] / walls['in_batch']:.1f}x")
    print(f"peak memory (largest process): {peak_rss_mb():.0f} MB")
    print("batch linearity (1 process, one population each, the faster of two runs):")
    for persons in (250, 1_000, 4_000):
        histories = [person(i, args.days) for i in range(persons)]
        seconds = min(timed(in_batch, histories, persons)[0] for _ in range(2))
        print(f"  {persons:>5} persons x {args.days} days: {seconds:6.2f} s, {seconds / persons * 1e6:5.0f} us/person")
    for days in (30, 90, 180, 360):
        histories = [person(i, days) for i in range(BATCH_PERSONS)]
        seconds = min(timed(in_batch, histories)[0] for _ in range(2))
        per_day = seconds / BATCH_PERSONS / days * 1e6
        print(f"  {BATCH_PERSONS} persons x {days:>3} days: {seconds / BATCH_PERSONS * 1e6:5.0f} us/person,", end=" ")
        print(f"{per_day:5.2f} us/person-day")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
