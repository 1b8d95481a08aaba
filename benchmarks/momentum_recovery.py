"""Benchmark: how often the momentum agent recovers a planted rising, steady or falling week.

Run on demand: ``python benchmarks/momentum_recovery.py [--persons 200] [--first-seed 2000]``. For each planted trend
it prints the share of generated people whose ``engagement_trend`` equals the planted one, over three populations:
everyone (1 to 6 completions a day, the trend strengths of the synthetic persona tests), low-activity people (1 to 3
a day), and bursty steady people (day-to-day variance 1.5 to 3 times the mean, which the persona generator never
makes).
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.base import UserHistory
from agents.inference import run_inference
from agents.registry import get_agent
from oo_app.demo import Habits, synthetic_history

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAYS = 90
TRENDS = ("rising", "steady", "falling")
MOMENTUM = get_agent("momentum").manifest


def planted_habits(seed: int, trend: str, low: float, high: float) -> Habits:
    """A person completing ``low``-``high`` tasks a day with a weekly shape and ``trend`` planted in the last week.

    Trend strengths are those of ``tests/agents/test_synthetic_personas.py``: x2.2-2.8 rising, x0.05-0.25 falling.
    """
    rng = random.Random(seed)
    shape = rng.choice(("flat", "weekend-off", "peaks"))
    if shape == "weekend-off":
        weekly: dict = {"weekend_factor": rng.uniform(0.05, 0.2)}
    elif shape == "peaks":
        peaks = rng.sample(range(7), rng.choice((1, 2)))
        weekly = {"weekday_weights": tuple(rng.uniform(4.0, 6.0) if day in peaks else 1.0 for day in range(7))}
    else:
        weekly = {"weekday_weights": tuple(rng.uniform(0.85, 1.15) for _ in range(7))}
    factor = {"rising": rng.uniform(2.2, 2.8), "steady": 1.0, "falling": rng.uniform(0.05, 0.25)}[trend]
    return Habits(
        tz=rng.choice(("Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham")),
        completions_per_day=rng.uniform(low, high),
        recent_factor=factor,
        **weekly,
    )


def inferred_trend(history: UserHistory) -> str:
    return str(run_inference(MOMENTUM, history)["engagement_trend"])


def recovery(trend: str, seeds: range, low: float, high: float) -> float:
    """The share of people planted with ``trend`` (one per seed) whose inferred trend is ``trend``."""
    hits = 0
    for seed in seeds:
        habits = planted_habits(seed, trend, low, high)
        history = UserHistory.from_mapping(synthetic_history(habits, days=DAYS, now=NOW, seed=seed))
        hits += inferred_trend(history) == trend
    return hits / len(seeds)


def bursty_steady_recovery(seeds: range) -> float:
    """The share of steady people with negative-binomial daily counts (variance 1.5-3 x the mean) read as steady."""
    hits = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        mean, dispersion = rng.uniform(1.0, 6.0), rng.uniform(1.5, 3.0)
        counts = rng.negative_binomial(mean / (dispersion - 1), 1 / dispersion, size=DAYS)
        today = NOW.replace(hour=0)
        moments = [
            today - timedelta(days=DAYS - day) + timedelta(hours=12) for day, n in enumerate(counts) for _ in range(n)
        ]
        history = UserHistory.build([], [(m, None, "Work") for m in moments], "UTC", NOW)
        hits += inferred_trend(history) == "steady"
    return hits / len(seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=200, help="people per planted trend and population")
    parser.add_argument("--first-seed", type=int, default=2000)
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.persons)
    print(f"momentum {MOMENTUM.version}, {args.persons} people per cell, seeds from {args.first_seed}")
    for label, low, high in (("1-6 a day", 1.0, 6.0), ("1-3 a day", 1.0, 3.0)):
        figures = ", ".join(f"{trend} {recovery(trend, seeds, low, high):.1%}" for trend in TRENDS)
        print(f"{label}: {figures}")
    print(f"bursty steady (variance 1.5-3 x mean), 1-6 a day: steady {bursty_steady_recovery(seeds):.1%}")


if __name__ == "__main__":
    main()
