"""Benchmark: synthetic persons x days of history through every registered agent (inference and snippet).

Run on demand, never in the suite: ``python benchmarks/agents.py [--persons 10000] [--days 90] [--workers 2]``.
The persons are written into a SQLite file first (kept in ``--data``, reused by the next run), and every pass reads
them from it, as the scheduler's round does. It prints, side by side in one run: on one process, the per-person path
(each person's history read, inferred and written into snippets alone, as a single recompute does) against the batch
(:mod:`agents.group_reads` reads a group of the runner's size in a few queries, as numbers; :mod:`agents.batch`
computes every agent for the group at once) on the same persons, with the batch's share spent reading; the same two
on histories already in memory; on ``--workers`` processes, ``--persons`` persons through both (wall seconds, and
the CPU seconds of the busiest worker, which a shared machine moves less); the batch's cost per
person at several numbers of persons and of days (it must grow linearly in both); peak memory and the load average
(the machine may be shared: compare the ratios, which are measured together).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# The checkout in place of this folder: benchmarks/calendar.py would shadow the standard library's (pandas reads it).
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, create_engine, select

from agents.base import UserHistory
from agents.batch import compute_many, cyclic_gc_paused
from agents.inference import infer_params
from agents.population import Population
from agents.registry import registry
from agents.runner import BATCH_PERSONS, agent_history, one_history_per_moment, read_together
from oo_app.demo import DEMO_CONSENTS, Habits, synthetic_history
from oo_app.models import User

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Marquesas", "UTC"]
PROJECTS = ["Work", "Home", "Health", "Errands", "Learning", "Family"]
ROUNDS = 2  # each comparison runs both sides this many times, alternated, so both see the same load
DISTINCT = 2_000  # distinct synthetic persons in a file; more persons repeat their histories (writing stays quick)
COPIED = {
    "events": ("user_id", "type", "at", "payload"),
    "task_completions": ("user_id", "source_key", "completed_at", "due_at", "project"),
    "consents": ("user_id", "key", "granted", "text_version", "at"),
}


def synthetic(index: int, days: int) -> tuple[str, dict]:
    """Person ``index``'s zone and history: habits drawn from a generator seeded by the index (the same every run)."""
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
    return habits.tz, synthetic_history(habits, days=days, now=NOW, seed=index)


def person(index: int, days: int) -> UserHistory:
    return UserHistory.from_mapping(synthetic(index, days)[1])


def _stored(moment: str | None) -> str | None:
    """A moment as the app stores it in SQLite (UTC, microseconds)."""
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if moment else None


def database(folder: Path, persons: int, days: int) -> sa.Engine:
    """A SQLite file of ``persons`` persons with ``days`` of history each (written once, then reused)."""
    path = folder / f"agents-{persons}x{days}.sqlite"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        distinct = min(persons, DISTINCT)
        base = folder / f"agents-{distinct}x{days}.sqlite"
        if distinct < persons and base.exists():
            shutil.copyfile(base, partial)  # its persons are the first ones of this file
        engine = create_engine(f"sqlite:///{partial}")
        SQLModel.metadata.create_all(engine)
        started = time.perf_counter()
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            for index in range(distinct if not raw.execute("SELECT 1 FROM users").fetchone() else 0):
                tz, history = synthetic(index, days)
                uid = index + 1
                raw.execute(
                    "INSERT INTO users (id, email, display_name, tz, role, created_at) VALUES (?, ?, ?, ?, 'user', ?)",
                    (uid, f"p{index}@example.com", f"P{index}", tz, _stored(NOW.isoformat())),
                )
                raw.executemany(
                    "INSERT INTO events (user_id, type, at, payload) VALUES (?, ?, ?, '{}')",
                    [(uid, event["type"], _stored(event["at"])) for event in history["events"]],
                )
                raw.executemany(
                    "INSERT INTO task_completions (user_id, source_key, completed_at, due_at, project) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (uid, f"bench:{n}", _stored(c["completed_at"]), _stored(c.get("due_at")), c.get("project", ""))
                        for n, c in enumerate(history["task_completions"])
                    ],
                )
                raw.executemany(
                    "INSERT INTO consents (user_id, key, granted, text_version, at) VALUES (?, ?, 1, 'v1', ?)",
                    [(uid, key, _stored(NOW.isoformat())) for key in DEMO_CONSENTS],
                )
            for copy in range(1, -(-persons // distinct)):  # the same histories again, under other persons
                shift, last = copy * distinct, min(distinct, persons - copy * distinct)
                for table, columns in COPIED.items():
                    listed = ", ".join(columns)
                    raw.execute(
                        f"INSERT INTO {table} ({listed}) SELECT {listed.replace('user_id', f'user_id + {shift}')} "
                        f"FROM {table} WHERE user_id <= ?",
                        (last,),
                    )
                raw.execute(
                    f"INSERT INTO users (id, email, display_name, tz, role, created_at) SELECT id + {shift}, "
                    f"'{copy}.' || email, display_name, tz, role, created_at FROM users WHERE id <= ?",
                    (last,),
                )
        engine.dispose()
        partial.rename(path)
        print(f"  (wrote {persons} persons x {days} days ({distinct} distinct) to {path}", end=" ")
        print(f"in {time.perf_counter() - started:.0f} s)")
    return create_engine(f"sqlite:///{path}")


def persons_of(session: Session, count: int | None = None, shard: tuple[int, int] = (0, 1)) -> list[User]:
    users = session.exec(select(User).order_by(User.id).limit(count)).all()
    return list(users[shard[0] :: shard[1]])


def per_person(session: Session, users: Sequence[User]) -> int:
    """Every agent for one person after another, each reading the person's history alone (the path of a single
    recompute, one reading per person); snippet characters."""
    size = 0
    for user in users:
        with one_history_per_moment():
            for agent in registry().values():
                history = agent_history(session, user, agent.manifest, NOW)
                size += len(agent.compute(history, infer_params(agent.manifest, history).params()).text)
    return size


def in_batch(session: Session, users: Sequence[User], group: int = BATCH_PERSONS) -> tuple[int, float]:
    """Every agent for ``group`` persons at a time, read together (as the runner's rounds do); snippet characters and
    the seconds spent reading."""
    size, reading, agents = 0, 0.0, list(registry().values())
    for first in range(0, len(users), group):
        persons = users[first : first + group]
        with one_history_per_moment(), cyclic_gc_paused():
            started = time.perf_counter()
            read_together(session, persons, {user.id: agents for user in persons}, NOW)
            reading += time.perf_counter() - started
            populations: dict[tuple[int, ...], Population] = {}
            for agent in agents:
                histories = [agent_history(session, user, agent.manifest, NOW) for user in persons]
                population = populations.setdefault(tuple(map(id, histories)), Population(histories))
                size += sum(len(outcome.snippet.text) for outcome in compute_many(agent, population) if outcome.snippet)
    return size, reading


def per_person_in_memory(histories: Sequence[UserHistory]) -> int:
    size = 0
    for history in histories:
        for agent in registry().values():
            size += len(agent.compute(history, infer_params(agent.manifest, history).params()).text)
    return size


def in_batch_in_memory(histories: Sequence[UserHistory]) -> int:
    size = 0
    for first in range(0, len(histories), BATCH_PERSONS):
        population = Population(histories[first : first + BATCH_PERSONS])
        for agent in registry().values():
            size += sum(len(outcome.snippet.text) for outcome in compute_many(agent, population) if outcome.snippet)
    return size


def timed(run, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - started, result


def _shard(
    url: str, shard: tuple[int, int], persons: int, barrier: mp.Barrier, results: mp.Queue, batch_only: bool
) -> None:
    with Session(create_engine(url)) as session:
        users = persons_of(session, persons, shard)
        in_batch(session, users[:20]), per_person(session, users[:2])  # warm up
        for run in ((in_batch,) if batch_only else (in_batch, per_person)) * ROUNDS:
            barrier.wait()
            started, cpu = time.perf_counter(), time.process_time()
            run(session, users)
            results.put((run.__name__, len(users), time.perf_counter() - started, time.process_time() - cpu))


def on_workers(
    url: str, persons: int, workers: int, batch_only: bool = False
) -> tuple[dict[str, float], dict[str, float]]:
    """Wall seconds of the batch and of the per-person path (not with ``batch_only``) for ``persons`` sharded over
    ``workers`` processes that start each run together, and the CPU seconds of each run's busiest worker (on a
    quiet machine with a core per worker the wall cannot go below them; on a shared one they move less)."""
    context = mp.get_context("fork")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(target=_shard, args=(url, (w, workers), persons, barrier, results, batch_only))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    walls: dict[str, float] = {}
    cpus: dict[str, float] = {}
    for name in (("in_batch",) if batch_only else ("in_batch", "per_person")) * ROUNDS:  # alternated; the faster counts
        barrier.wait()
        started = time.perf_counter()
        shards = [results.get() for _ in processes]
        walls[name] = min(walls.get(name, math.inf), time.perf_counter() - started)
        cpus[name] = min(cpus.get(name, math.inf), max(shard[3] for shard in shards))
        assert sum(shard[1] for shard in shards) == persons
    for process in processes:
        process.join()
    return walls, cpus


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def _side_by_side(label: str, persons: int, loop: float, batch: float, reading: float | None = None) -> None:
    print(f"{label}:")
    print(f"  per-person path: {loop:6.2f} s, {loop / persons * 1e3:.2f} ms/person")
    print(f"  batch:           {batch:6.2f} s, {batch / persons * 1e3:.2f} ms/person", end="")
    print(f" (reading {reading / batch:.0%})" if reading is not None else "")
    print(f"  ratio per-person / batch: {loop / batch:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    parser.add_argument("--sample", type=int, default=1_000, help="persons of the one-process comparison")
    parser.add_argument("--data", type=Path, default=Path("/tmp/oo-agents-benchmark"), help="where the files stay")
    parser.add_argument(
        "--batch-on-workers-only",
        action="store_true",
        help="only the batch on --workers processes (the 10,000 x 90 days figure; the per-person path there takes"
        " minutes)",
    )
    args = parser.parse_args()

    print(f"agents: {', '.join(registry())}; load average (1/5/15 min) {load()}")
    engine = database(args.data, args.persons, args.days)
    if args.batch_on_workers_only:
        walls, cpus = on_workers(str(engine.url), args.persons, args.workers, batch_only=True)
        print(f"{args.workers} worker processes, {args.persons} persons x {args.days} days, read from SQLite:")
        print(f"  batch: {walls['in_batch']:6.2f} s, {args.persons / walls['in_batch']:,.0f} persons/s", end="")
        print(f" (CPU of the busiest worker: {cpus['in_batch']:.2f} s)")
        print(f"load average at the end: {load()}")
        return
    with Session(engine) as session:
        users = persons_of(session, args.sample)
        in_batch(session, users[:20]), per_person(session, users[:2])  # warm up
        loop, batch, reading, sizes = [], [], [], set()
        for _ in range(ROUNDS):  # alternated, so both see the same load; the faster of each counts
            seconds, size = timed(per_person, session, users)
            loop.append(seconds)
            sizes.add(size)
            seconds, (size, read) = timed(in_batch, session, users)
            batch.append(seconds)
            reading.append(read)
            sizes.add(size)
        assert len(sizes) == 1, "the batch wrote other snippets than the per-person path"
        best = min(batch)
        _side_by_side(
            f"1 process, {args.sample} persons x {args.days} days, read from SQLite",
            args.sample,
            min(loop),
            best,
            reading[batch.index(best)],
        )
        histories = [person(i, args.days) for i in range(args.sample)]
        memory = [timed(run, histories)[0] for _ in range(ROUNDS) for run in (per_person_in_memory, in_batch_in_memory)]
        _side_by_side(
            "1 process, the same persons already in memory (no reading)",
            args.sample,
            min(memory[::2]),
            min(memory[1::2]),
        )
    walls, cpus = on_workers(str(engine.url), args.persons, args.workers)
    print(f"{args.workers} worker processes, {args.persons} persons x {args.days} days, read from SQLite:")
    print(f"  batch:           {walls['in_batch']:6.2f} s, {args.persons / walls['in_batch']:,.0f} persons/s", end="")
    print(f" (CPU of the busiest worker: {cpus['in_batch']:.2f} s)")
    print(f"  per-person path: {walls['per_person']:6.2f} s, {args.persons / walls['per_person']:,.0f} persons/s")
    print(f"  ratio per-person / batch: {walls['per_person'] / walls['in_batch']:.1f}x")
    print(f"peak memory (largest process): {peak_rss_mb():.0f} MB")
    print("batch linearity (1 process, read from SQLite, one group per size, the faster of two runs):")
    with Session(engine) as session:
        for count in (250, 1_000, 4_000):
            users = persons_of(session, count)
            seconds = min(timed(in_batch, session, users, count)[0] for _ in range(2))
            print(f"  {count:>5} persons x {args.days} days: {seconds:6.2f} s, {seconds / count * 1e6:5.0f} us/person")
    for days in (30, 90, 180, 360):
        with Session(database(args.data, BATCH_PERSONS, days)) as session:
            users = persons_of(session)
            seconds = min(timed(in_batch, session, users)[0] for _ in range(2))
        per_day = seconds / BATCH_PERSONS / days * 1e6
        print(f"  {BATCH_PERSONS} persons x {days:>3} days: {seconds / BATCH_PERSONS * 1e6:5.0f} us/person,", end=" ")
        print(f"{per_day:5.2f} us/person-day")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
