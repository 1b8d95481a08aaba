"""Momentum agent: is the person's engagement rising, steady or falling, said in z-score terms.

Done per local day: the last 7 full days against the 28 before, z = (mean7 - mean28) / stdev28; |z| >= 0.5 is a trend.
A history under 35 days observed, or with under 14 done in them, infers nothing: the default says "steady".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from agents.base import Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.history_arrays import LocalDone, local_done, per_history

WEEK = 7
BASELINE_DAYS = 28
MIN_DONE = 14  # done moments in the 35 days below which a trend is noise
MIN_STDEV = 0.5  # a baseline that barely varies is read as varying by half a task a day, so z stays finite
TREND_Z = 0.5  # |z| from which the last week is a trend rather than an ordinary week


@dataclass(frozen=True)
class Momentum:
    done_last_week: int
    baseline: float  # mean done moments per day over the 28 baseline days
    stdev: float  # population stdev of those 28 daily counts


def z_score(per_day: float, baseline: float, stdev: float) -> float:
    return (per_day - baseline) / max(stdev, MIN_STDEV)


def trend_of(z: float) -> str:
    return "rising" if z >= TREND_Z else "falling" if z <= -TREND_Z else "steady"


def done_last_week(done: LocalDone) -> int:
    return int(done.on_days(done.today - WEEK, done.today).sum())


@per_history
def measure(history: UserHistory) -> Momentum | None:
    """The last week and its baseline, or None while the history is too short or too thin to tell."""
    done = local_done(history)
    start = done.today - WEEK - BASELINE_DAYS
    in_window = done.on_days(start, done.today)
    if done.first_day > start or in_window.sum() < MIN_DONE:
        return None
    counts = np.bincount(done.day[in_window] - start, minlength=BASELINE_DAYS + WEEK)
    baseline = counts[:BASELINE_DAYS]
    return Momentum(int(counts[BASELINE_DAYS:].sum()), float(baseline.mean()), float(baseline.std()))


def infer_engagement_trend(history: UserHistory) -> str | None:
    momentum = measure(history)
    if momentum is None:
        return None
    return trend_of(z_score(momentum.done_last_week / WEEK, momentum.baseline, momentum.stdev))


def infer_baseline(history: UserHistory) -> float | None:
    momentum = measure(history)
    return round(momentum.baseline, 2) if momentum else None


def infer_stdev(history: UserHistory) -> float | None:
    momentum = measure(history)
    return round(momentum.stdev, 2) if momentum else None


def _relation(z: float) -> str:
    if z >= 1.5:
        return "well above"
    if z >= TREND_Z:
        return "above"
    if z > -TREND_Z:
        return "in line with"
    return "below" if z > -1.5 else "well below"


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    done = local_done(history)
    count = done_last_week(done)
    things = done.noun if count != 1 else done.noun[:-1]
    trend = str(params["engagement_trend"])
    if measure(history) is None:
        text = f"Too little history to read momentum yet ({count} {things} done in the last 7 days); call it {trend}."
        return Snippet(text, {"trend": trend, "days": WEEK, "done_last_7_days": count, "cold_start": True})
    baseline, stdev = float(params["baseline_completions_per_day"]), float(params["stdev"])
    z = round(z_score(count / WEEK, baseline, stdev), 1)
    data = {
        "trend": trend,
        "days": WEEK,
        "done_last_7_days": count,
        "per_day_last_7_days": round(count / WEEK, 1),
        "baseline_per_day": round(baseline, 1),
        "stdev": round(stdev, 1),
        "z": z,
    }
    text = (
        f"Completed {count} {things} in the last 7 days ({data['per_day_last_7_days']}/day), {_relation(z)} their "
        f"usual {data['baseline_per_day']}/day (z={z:+.1f}): momentum is {trend}."
    )
    return Snippet(text, data)


AGENT = Agent(
    manifest=AgentManifest(
        id="momentum",
        version="1.0.0",
        description="Says whether the person's last week of done tasks is above, in line with or below their usual.",
        ttl=timedelta(hours=6),
        schedule=timedelta(hours=1),
        consents=("activity", "tasks"),
        params=(
            InferredParam("engagement_trend", "steady", infer_engagement_trend, description="rising|steady|falling"),
            InferredParam(
                "baseline_completions_per_day", 0.0, infer_baseline, description="mean done per day, 28-day baseline"
            ),
            InferredParam("stdev", 0.0, infer_stdev, description="population stdev of the baseline's daily counts"),
        ),
    ),
    compute=compute,
)
