"""Benchmark: what learning from reactions adds to a tip, and what a reaction and the population prior cost.

Run on demand, never in the suite: ``python benchmarks/learning.py [--tips 200] [--answered 5000]``. In a temporary
SQLite database with the demo person (90 days of history, every consent) and ``--answered`` reacted tips of other
people, it prints:
- the choice alone (:func:`~oo_app.recommender.learning.choose` on the composer's options), learning on and off;
- a whole tip (:func:`~oo_app.recommender.recommend`, rules writer) with learning on and with ``learning_off()``, and
  the difference: the time learning adds to a tip;
- the learner agent recomputed after a reaction, and the population prior computed afresh (then cached 10 minutes).
Nothing here is a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OO_ENV", "test")
os.environ.setdefault("OO_TIP_WRITER", "rules")
os.environ.setdefault("OO_TRACING_ENABLED", "false")
os.environ.setdefault("OO_PREPARE_NEXT_TIP", "false")
os.environ.setdefault("OO_SCHEDULER_ENABLED", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:.3f} ms, p95 {p95 * 1000:.3f} ms (n={len(ordered)})"


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=200, help="tips written per setting")
    parser.add_argument("--answered", type=int, default=5000, help="other people's answered tips in the database")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        os.environ["OO_DATABASE_URL"] = f"sqlite:///{Path(folder) / 'oo.db'}"
        run(args.tips, args.answered)


def run(tips: int, answered: int) -> None:
    from sqlmodel import Session

    from agents.registry import get_agent
    from agents.runner import compute_output
    from oo_app import db
    from oo_app.bootstrap import bootstrap
    from oo_app.demo import seed_demo
    from oo_app.models import Reaction, Tip, TipKind, User
    from oo_app.recommender import react, recommend
    from oo_app.recommender.composer import options
    from oo_app.recommender.learning import (
        choose,
        compute_prior,
        forget_priors,
        learning_off,
        population_prior,
        posterior_of,
    )
    from oo_app.recommender.orchestrator import Inputs, choose_lead, freshest_outputs, own_tastes, recent_tip_texts
    from oo_app.recommender.prompts import facts_of
    from tests.conftest import NOW

    bootstrap()
    db.migrate(os.environ["OO_DATABASE_URL"])
    rng = random.Random(0)
    leads = [None, "time-of-day", "momentum", "overdue-task", "focus-area", "recent-patterns", "calendar"]
    with Session(db.get_engine(), expire_on_commit=False) as session:
        person = seed_demo(session, "demo@example.com", now=NOW)
        other = User(email="other@example.com", display_name="Other", tz="UTC")
        session.add(other)
        session.flush()
        base = {"user_id": other.id, "text": "t", "prompt_version": "v", "model_alias": "a", "model": "m"}
        session.add_all(
            Tip(
                **base,
                policy="p",
                lead_agent=rng.choice(leads),
                kind=rng.choice(list(TipKind)),
                reaction=rng.choice(list(Reaction)),
                reacted_at=NOW,
                created_at=NOW,
            )
            for _ in range(answered)
        )
        session.commit()
        # The demo person answers a few tips, so the learner has something of theirs too.
        for step in range(6):
            at = NOW + timedelta(minutes=5 * step)
            tip = recommend(session, person, at)
            react(session, person, tip.id, rng.choice(["done", "dismissed", "snoozed"]), at)
        session.commit()
        moment = NOW + timedelta(hours=1)
        inputs = Inputs(freshest_outputs(session, person, moment), recent_tip_texts(session, person.id), [])
        facts = facts_of(inputs.signals, inputs.recent)
        drafts = options(facts)
        posterior = posterior_of(facts["signals"])
        print(f"options: {len(drafts)} drafts, {len({d.lead for d in drafts})} leads; posterior keys: {len(posterior)}")
        choose_on = _timed(lambda: choose(drafts, posterior, rng, facts["recent_tips"]), 1000)
        with learning_off():
            choose_off = _timed(lambda: choose(drafts, posterior, rng, facts["recent_tips"]), 1000)
        print(f"choose, learning on:  {_ms(choose_on)}")
        print(f"choose, learning off: {_ms(choose_off)}")

        def tip_with(setting: Callable[[], AbstractContextManager[None]], at) -> float:
            with setting():
                started = time.perf_counter()
                recommend(session, person, at)
                elapsed = time.perf_counter() - started
            session.rollback()  # every tip from the same state
            return elapsed

        on, off, differences = [], [], []
        tip_with(nullcontext, moment)  # warm the caches and the imports
        for step in range(tips):
            at = moment + timedelta(minutes=step)
            # Paired at the same moment, in alternating order: the difference is learning's, not the moment's.
            pair = (nullcontext, learning_off) if step % 2 == 0 else (learning_off, nullcontext)
            first, second = tip_with(pair[0], at), tip_with(pair[1], at)
            with_learning, without = (first, second) if step % 2 == 0 else (second, first)
            on.append(with_learning)
            off.append(without)
            differences.append(with_learning - without)
        print(f"a whole tip, learning on:  {_ms(on)}")
        print(f"a whole tip, learning off: {_ms(off)}")
        print(f"learning adds per tip (median of paired differences): {statistics.median(differences) * 1000:.3f} ms")
        own = _timed(lambda: choose_lead(facts, rng, own_tastes(session, person.id)), 1000)
        print(f"learning's own work in a tip (the person's tastes read, options, choice): {_ms(own)}")

        learner = get_agent("learner")
        recompute = _timed(
            lambda: compute_output(session, person, learner, moment, fresh_data=str(time.perf_counter_ns())), 50
        )
        print(f"the learner recomputed after a reaction: {_ms(recompute)}")
        prior_fresh = _timed(lambda: compute_prior(session), 20)
        print(f"population prior over {answered + 6} answered tips, computed afresh: {_ms(prior_fresh)}")
        forget_priors()
        population_prior(session)
        print(f"population prior, cached: {_ms(_timed(lambda: population_prior(session), 1000))}")


if __name__ == "__main__":
    main()
