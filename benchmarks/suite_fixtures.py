"""What the suite's shared set-up costs: a test's database migrated and seeded in the test against a copy of the
session's template (tests/conftest.py), and a page server that builds the page against one that serves the page an
earlier one built (tests/page_build.py), side by side in one run.

``python -m benchmarks.suite_fixtures [--runs N] [--servers N]``, in scripts/_env.sh's environment (``export_env``)
for the servers; ``--servers 0`` times the databases only. Prints the mean wall and CPU time of each way.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests import page_build
from tests.app_server import seeded_database, serve_app
from tests.conftest import migrated_sqlite, restamp_demo_person, seed_demo_person


def timed(label: str, runs: int, step: Callable[[int], None]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    for run in range(runs):
        step(run)
    wall, cpu = (time.perf_counter() - wall) / runs, (time.process_time() - cpu) / runs
    print(f"{label:44s} wall {wall:7.3f} s   cpu (this process) {cpu:6.3f} s", flush=True)


def databases(workdir: Path, runs: int) -> None:
    template = Path(migrated_sqlite(workdir / "template.db").removeprefix("sqlite:///"))
    demo = workdir / "demo.db"
    shutil.copy(template, demo)
    seed_demo_person(f"sqlite:///{demo}")

    def copied(source: Path, name: str, restamp: bool) -> Callable[[int], None]:
        def step(run: int) -> None:
            shutil.copy(source, workdir / f"{name}{run}.db")
            if restamp:
                restamp_demo_person(f"sqlite:///{workdir / f'{name}{run}.db'}")

        return step

    timed("sqlite_url: migrate in the test", runs, lambda run: migrated_sqlite(workdir / f"m{run}.db"))
    timed("sqlite_url: copy the template", runs, copied(template, "c", restamp=False))
    timed(
        "demo_user: migrate and seed in the test",
        runs,
        lambda run: seed_demo_person(migrated_sqlite(workdir / f"s{run}.db")),
    )
    timed("demo_user: copy the seeded template, restamp", runs, copied(demo, "d", restamp=True))


def servers(workdir: Path, runs: int) -> None:
    """Page servers until they answer (the server's own CPU is not counted: it is another process)."""
    database_url = seeded_database(workdir)
    web = page_build.web_dir({})

    def serve(build: bool) -> Callable[[int], None]:
        def step(_run: int) -> None:
            if build:
                (web / page_build.STAMP).unlink(missing_ok=True)
            with serve_app(workdir, database_url):
                pass

        return step

    for _ in range(runs):  # alternated, so the machine's load falls on both alike
        timed("page server: compile and build, then serve", 1, serve(build=True))
        timed("page server: serve the earlier build", 1, serve(build=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6, help="databases made each way")
    parser.add_argument("--servers", type=int, default=2, help="servers started each way")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="oo-suite-fixtures-"))
    try:
        databases(workdir, args.runs)
        if args.servers:
            servers(workdir, args.servers)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
