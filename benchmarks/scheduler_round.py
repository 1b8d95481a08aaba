"""What a scheduler round with nothing due costs the process that runs it, in CPU time and SQL statements.

Run on demand after ``source scripts/_env.sh && export_env && set +eu``:
``python benchmarks/scheduler_round.py [--persons 200] [--rounds 7]``.

Every web worker runs a round every minute (:func:`oo_app.tasks.scheduler.run_round`), in a thread holding the GIL
while it works: what it costs with nothing to compute is taken from the requests that worker serves meanwhile. On a
fresh PostgreSQL database, the load test's persons (``benchmarks/load_persons.py``: synthetic histories, every
consent), every other one with a context (so the context in effect is read); a first round computes every agent for
everyone, then ``--rounds`` rounds find nothing due. CPU time is the process's (``time.process_time``), statements
are counted at the engine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]  # benchmarks/calendar.py would shadow the standard one
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

os.environ.update(OO_LOG_LEVEL="WARNING")

from sqlalchemy import event  # noqa: E402

from benchmarks.load_persons import configure_for, fresh_postgres_database, seed_persons  # noqa: E402
from oo_app import db  # noqa: E402
from oo_app.models import Context  # noqa: E402
from oo_app.tasks.scheduler import run_round  # noqa: E402

WORK = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}


def measure(persons: int, rounds: int) -> None:
    with fresh_postgres_database() as url:
        configure_for(url, "benchmark-secret-" + "x" * 48)
        db.migrate(url)
        seeded = seed_persons(persons, days=14)
        with db.session_scope() as session:
            session.add_all(
                Context(user_id=person["id"], name="work", active=index % 4 == 1, schedules=[WORK])
                for index, person in enumerate(seeded)
                if index % 2
            )
        started = time.perf_counter()
        print(f"first round: {run_round()} outputs in {time.perf_counter() - started:.1f} s")
        statements: list[str] = []
        event.listen(db.get_engine(), "before_cursor_execute", lambda *args: statements.append(args[2]))
        cpu, wall, counts = [], [], []
        for _ in range(rounds):
            statements.clear()
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            written = run_round()
            cpu.append(time.process_time() - cpu_started)
            wall.append(time.perf_counter() - wall_started)
            counts.append(len(statements))
            if written:
                sys.exit(f"a round wrote {written} outputs: something was due")
        print(
            f"{persons} persons, nothing due, {rounds} rounds: CPU median {statistics.median(cpu) * 1000:.0f} ms "
            f"(min {min(cpu) * 1000:.0f}, max {max(cpu) * 1000:.0f}), wall median "
            f"{statistics.median(wall) * 1000:.0f} ms, {max(counts)} statements a round"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    measure(args.persons, args.rounds)


if __name__ == "__main__":
    main()
