"""What one person's actions on the tip page cost the server, in CPU time and SQL statements, measured in-process.

Run on demand after ``source scripts/_env.sh && export_env && set +eu``:
``python benchmarks/react_path.py [--persons 40] [--rounds 6] [--profile FILE] [--statements]``.

The load test (``benchmarks/load.py``) says how long persons wait; this says what each of their actions costs, without
the queueing and the noise of a shared machine: CPU time is the thread's own (``time.thread_time``), and statements
are counted at the engine. On a fresh PostgreSQL database (the load test's persons: ``benchmarks/load_persons.py``,
synthetic histories, every consent, the agents' outputs a running deployment holds), each person opens the page
(``TipState.load``'s work), then ``--rounds`` times: the page's live check (the tip stands), a reaction and its next
tip (``TipState.react``'s work), and ``POST /api/recommend``'s. Between actions the tips written ahead finish, as
they do while a person reads; their cost is counted apart. Settings are the load test's server's: the rule-based
composer writes, tracing off, tips written ahead, the app's wiring (:func:`oo_app.bootstrap.bootstrap`: open tasks
and busy times read as the server reads them). With ``--profile FILE`` the actions run under cProfile; with
``--statements`` each action's statements are listed, with how many of each an action runs on average.
"""

from __future__ import annotations

import argparse
import cProfile
import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]  # benchmarks/calendar.py would shadow the standard one
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

os.environ.update(OO_TIP_WRITER="rules", OO_TRACING_ENABLED="false", OO_TIP_RATE_PER_MINUTE="6000")
os.environ.update(OO_TIP_BURST="10000", OO_LOG_LEVEL="WARNING")

from sqlalchemy import event  # noqa: E402

from benchmarks.load_persons import (  # noqa: E402
    compute_agent_outputs,
    configure_for,
    fresh_postgres_database,
    seed_persons,
)
from oo_app import db  # noqa: E402


class Ledger:
    """CPU time (ms) and SQL statements per kind of action."""

    def __init__(self) -> None:
        self.cpu_ms: dict[str, list[float]] = defaultdict(list)
        self.statements: dict[str, list[int]] = defaultdict(list)
        self.texts: dict[str, Counter[str]] = defaultdict(Counter)
        self._counting: dict[int, int] = {}
        self._seen: dict[int, Counter[str]] = {}

    def count(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        import threading

        ident = threading.get_ident()
        if ident in self._counting:
            self._counting[ident] += 1
            self._seen[ident][" ".join(statement.split())[:110]] += 1

    @contextmanager
    def action(self, name: str) -> Iterator[None]:
        import threading

        ident = threading.get_ident()
        self._counting[ident], self._seen[ident] = 0, Counter()
        started = time.thread_time()
        try:
            yield
        finally:
            self.cpu_ms[name].append((time.thread_time() - started) * 1000)
            self.statements[name].append(self._counting.pop(ident))
            self.texts[name].update(self._seen.pop(ident))

    def print(self) -> None:
        print(f"{'action':<34} {'count':>6} {'CPU ms mean':>12} {'p50':>7} {'max':>7} {'statements':>11}")
        for name, times in self.cpu_ms.items():
            ordered = sorted(times)
            statements = self.statements[name]
            print(
                f"{name:<34} {len(times):>6} {sum(times) / len(times):>12.2f} {ordered[len(ordered) // 2]:>7.2f}"
                f" {ordered[-1]:>7.2f} {sum(statements) / len(statements):>11.1f}"
            )

    def print_statements(self) -> None:
        for name, texts in self.texts.items():
            actions = len(self.statements[name])
            print(f"\n{name}: {sum(texts.values()) / actions:.1f} statements an action")
            for text, count in texts.most_common():
                print(f"  {count / actions:5.2f}  {text}")


def run(persons: int, rounds: int, profile: Path | None) -> Ledger:
    from oo_app.bootstrap import bootstrap
    from oo_app.recommender import prefetch
    from oo_app.state import tip as page

    bootstrap()  # as the server starts: the open tasks, busy times and population prior through the runner

    with fresh_postgres_database() as url:
        configure_for(url, secrets.token_urlsafe(32))
        db.migrate(url)
        seeded = seed_persons(persons, 90)
        compute_agent_outputs()
        ledger = Ledger()
        event.listen(db.get_engine(), "before_cursor_execute", ledger.count)
        written_ahead = _timed_jobs(ledger)
        profiler = cProfile.Profile() if profile is not None else None

        def act(name: str, work: Callable[[], Any]) -> Any:
            with ledger.action(name):
                if profiler is None:
                    return work()
                profiler.enable()
                try:
                    return work()
                finally:
                    profiler.disable()

        shown: dict[int, int] = {}
        for person in seeded:
            view = act("open the page", lambda p=person: page._opened(p["cookies"])[1])
            shown[person["id"]] = view.id
        prefetch.drain()
        for round_ in range(rounds):
            for person in seeded:
                cookies = person["cookies"]
                act("live check (the tip stands)", lambda c=cookies, p=person: page._replacement(c, shown[p["id"]]))
                reaction = ("done", "dismissed")[round_ % 2]
                view = act(
                    "reaction and its next tip",
                    lambda c=cookies, p=person, r=reaction: page._react_and_next(c, shown[p["id"]], r),
                )
                shown[person["id"]] = view.id
            prefetch.drain()
            for person in seeded:
                act("POST /api/recommend's work", lambda p=person: _api_recommend(p["cookies"]))
            prefetch.drain()
        event.remove(db.get_engine(), "before_cursor_execute", ledger.count)
        written_ahead()
        db.get_engine().dispose()
    if profiler is not None:
        profiler.dump_stats(profile)
        print(f"cProfile of the actions: {profile}")
    return ledger


def _api_recommend(cookies: dict[str, str]) -> Any:
    """What ``POST /api/recommend`` does once its dependencies resolved the person (oo_app/api.py)."""
    from oo_app.api import post_recommend
    from oo_app.recommender.limits import metered
    from oo_app.state.signed_in import as_person

    def answer(session: Any, user: Any) -> Any:
        with metered():
            return post_recommend(session, user)

    return as_person(cookies, answer)


def _timed_jobs(ledger: Ledger) -> Callable[[], None]:
    """Counts the work of the write-ahead thread as actions of their own (the tips written ahead, and the learner
    reading a reaction when it does not on the reaction's path); the undo."""
    from oo_app.recommender import feedback, prefetch

    undo = []
    for module, name, action in (
        (prefetch, "_job", "a tip written ahead (background)"),
        (feedback, "_learning_job", "the learner after a reaction (background)"),
    ):
        original = getattr(module, name, None)
        if original is None:
            continue  # an oO whose learner reads every reaction on its path

        def timed(*args: Any, _original: Callable[..., None] = original, _action: str = action) -> None:
            with ledger.action(_action):
                _original(*args)

        setattr(module, name, timed)
        undo.append((module, name, original))
    return lambda: [setattr(module, name, original) for module, name, original in undo]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--statements", action="store_true", help="list each action's statements")
    arguments = parser.parse_args()
    ledger = run(arguments.persons, arguments.rounds, arguments.profile)
    ledger.print()
    if arguments.statements:
        ledger.print_statements()


if __name__ == "__main__":
    main()
