"""Momentum agent: is the person's last week of done moments rising, steady or falling against their usual?

Contract: the last 7 full local days against the up to 11 full weeks before them (at least 4); a history under 35 days
observed, or with under 14 done moments in its last 35 days, infers nothing (the default says "steady").

The test, chosen for counts: given the n done moments of the last week and its baseline weeks, the last week holds k
of them, Binomial(n, 1/(weeks + 1)) when nothing changed (the conditional test of two Poisson rates). k departs from
that when the signed root of the binomial deviance, divided by the person's dispersion, passes 2.33 either way (2%
two-sided) *and* the last week's rate is at least 1.25 times (rising) or at most 0.8 times (falling) the baseline's,
so a trivially small but significant change in a very active person stays steady. The dispersion is the Pearson
variance-to-mean ratio of the baseline's daily counts around their weekday means (at least 0.5): a bursty person
needs a bigger change, and a weekly rhythm is not mistaken for burstiness (whole weeks are compared, so it cancels).
Up to 11 baseline weeks rather than 4 cut the baseline's own variance by nearly two thirds and estimate the
dispersion from up to 70 degrees of freedom instead of 21: on 4 weeks alone the same test found 94.5-95.5% of falls
(89-93% at 1-3 a day) and missed the sample persona-7-01's rise (x1.4 over 28 days that ran high).

Measured (``benchmarks/momentum_recovery.py``, seeds 2000, 3000, 5000 and 7000, 200 people per cell, x2.2-2.8 rises
and x0.05-0.25 falls as the persona tests plant them): at 1-6 done a day, rising 96-98.5% (97.1% over all 800),
steady 96-99% (97.4%), falling 96.5-98.5% (97.5%); at 1-3 a day, rising 91.5-96.5% (94.3%), steady 95.5-99% (97.9%),
falling 93-97% (95.4%); bursty steady people (variance 1.5-3 x mean) 96.5-97.5% steady. The old z rule (|z| >= 0.5 on
28 days) read 13% of steady people, and 26% of bursty ones, as a trend. At 3% significance steady loses about a point
(95% on one seed set) for a point more of the low-activity trends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist
from typing import Any

import numpy as np

from agents.base import Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.history_arrays import LocalDone, local_done, per_history
from agents.population import Batched, Population, ragged_sums

WEEK = 7
MIN_BASELINE_WEEKS = 4
MAX_BASELINE_WEEKS = 11
MIN_DONE = 14  # done moments in the last 5 weeks below which a trend is noise
SIGNIFICANCE = 0.02  # two-sided: the share of steady Poisson people read as rising or falling by chance
TREND_Z = NormalDist().inv_cdf(1 - SIGNIFICANCE / 2)
MIN_RATIO = 1.25  # the last week's rate against the baseline's from which a significant change is a trend
# A baseline more regular than Poisson sharpens the test, but a few weeks can look regular by chance.
MIN_DISPERSION = 0.5


@dataclass(frozen=True)
class Momentum:
    done_last_week: int
    baseline_done: int  # done moments in the baseline weeks
    baseline_weeks: int
    stdev: float  # population stdev of the baseline's daily counts
    dispersion: float  # variance-to-mean ratio of the baseline's daily counts around their weekday means

    @property
    def baseline(self) -> float:
        """Mean done moments per day over the baseline weeks."""
        return self.baseline_done / (self.baseline_weeks * WEEK)

    @property
    def rate_ratio(self) -> float:
        """The last week's rate over the baseline's (infinite when the baseline holds nothing)."""
        return self.done_last_week / WEEK / self.baseline if self.baseline_done else math.inf

    @property
    def z(self) -> float:
        """How far the last week's share of all done moments is from its share under no change, in standard units.

        The signed root of the binomial deviance, scaled by the dispersion; about standard normal for a steady person.
        """
        done, last = self.baseline_done + self.done_last_week, self.done_last_week
        expected = done / (self.baseline_weeks + 1)
        deviance = 2 * (_xlogy(last, expected) + _xlogy(done - last, done - expected))
        return math.copysign(math.sqrt(max(deviance, 0.0) / self.dispersion), last - expected)

    @property
    def trend(self) -> str:
        z, ratio = self.z, self.rate_ratio
        if z >= TREND_Z and ratio >= MIN_RATIO:
            return "rising"
        if z <= -TREND_Z and ratio <= 1 / MIN_RATIO:
            return "falling"
        return "steady"


def _xlogy(x: float, y: float) -> float:
    return x * math.log(x / y) if x > 0 else 0.0


def dispersion_of(baseline: np.ndarray) -> float:
    """Pearson's variance-to-mean ratio of daily counts (whole weeks) around their weekday means: 1 for Poisson."""
    weeks = baseline.reshape(-1, WEEK)
    means = weeks.mean(axis=0)
    active = means > 0
    degrees = (len(weeks) - 1) * int(active.sum())
    if degrees == 0:
        return 1.0
    pearson = float((((weeks[:, active] - means[active]) ** 2) / means[active]).sum())
    return max(pearson / degrees, MIN_DISPERSION)


def done_last_week(done: LocalDone) -> int:
    return int(done.on_days(done.today - WEEK, done.today).sum())


@per_history
def measure(history: UserHistory) -> Momentum | None:
    """The last week and its baseline, or None while the history is too short or too thin to tell."""
    done = local_done(history)
    recent_start = done.today - WEEK * (MIN_BASELINE_WEEKS + 1)
    if done.first_day > recent_start or done.on_days(recent_start, done.today).sum() < MIN_DONE:
        return None
    weeks = min(MAX_BASELINE_WEEKS, (done.today - WEEK - done.first_day) // WEEK)
    start = done.today - WEEK * (weeks + 1)
    in_window = done.on_days(start, done.today)
    counts = np.bincount(done.day[in_window] - start, minlength=WEEK * (weeks + 1))
    baseline = counts[:-WEEK]
    return Momentum(
        done_last_week=int(counts[-WEEK:].sum()),
        baseline_done=int(baseline.sum()),
        baseline_weeks=weeks,
        stdev=float(baseline.std()),
        dispersion=dispersion_of(baseline),
    )


def infer_engagement_trend(history: UserHistory) -> str | None:
    momentum = measure(history)
    return momentum.trend if momentum else None


def infer_baseline(history: UserHistory) -> float | None:
    momentum = measure(history)
    return round(momentum.baseline, 2) if momentum else None


def infer_stdev(history: UserHistory) -> float | None:
    momentum = measure(history)
    return round(momentum.stdev, 2) if momentum else None


def _relation(momentum: Momentum) -> str:
    trend = momentum.trend
    if trend == "rising":
        return "well above" if momentum.rate_ratio >= 2 else "above"
    if trend == "falling":
        return "well below" if momentum.rate_ratio <= 0.5 else "below"
    return "in line with"


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    done = local_done(history)
    count = done_last_week(done)
    things = done.noun if count != 1 else done.noun[:-1]
    trend = str(params["engagement_trend"])
    momentum = measure(history)
    if momentum is None:
        text = f"Too little history to read momentum yet ({count} {things} done in the last 7 days); call it {trend}."
        data = {"trend": trend, "days": WEEK, "done_last_7_days": count, "noun": done.noun, "cold_start": True}
        return Snippet(text, data)
    baseline, stdev = float(params["baseline_completions_per_day"]), float(params["stdev"])
    z = round(momentum.z, 1)
    data = {
        "trend": trend,
        "days": WEEK,
        "done_last_7_days": count,
        "noun": done.noun,  # what was done: tasks, or oO's tips when no task integration feeds any
        "per_day_last_7_days": round(count / WEEK, 1),
        "baseline_per_day": round(baseline, 1),
        "baseline_weeks": momentum.baseline_weeks,
        "stdev": round(stdev, 1),
        "dispersion": round(momentum.dispersion, 2),
        "z": z,
    }
    text = (
        f"Completed {count} {things} in the last 7 days ({data['per_day_last_7_days']}/day), {_relation(momentum)} "
        f"their usual {data['baseline_per_day']}/day (z={z:+.1f}): momentum is {trend}."
    )
    return Snippet(text, data)


def measure_many(population: Population) -> list[Momentum | None]:
    """:func:`measure` of every person of ``population`` at once (the same numbers to the last bit)."""
    done, size = population.done, population.size
    today, first_day = done.today, done.first_day
    recent_start = today - WEEK * (MIN_BASELINE_WEEKS + 1)
    mine_today = today[done.person]
    recent = np.bincount(done.person[(done.day >= recent_start[done.person]) & (done.day < mine_today)], minlength=size)
    measured = (first_day <= recent_start) & (recent >= MIN_DONE)
    weeks = np.where(measured, np.minimum(MAX_BASELINE_WEEKS, (today - WEEK - first_day) // WEEK), MIN_BASELINE_WEEKS)
    # counts[p, k]: person p's done moments k days before their last week ends (k = 0: yesterday).
    back = mine_today - 1 - done.day
    span = WEEK * (MAX_BASELINE_WEEKS + 1)
    counted = measured[done.person] & (back >= 0) & (back < WEEK * (weeks[done.person] + 1))
    counts = np.bincount(done.person[counted] * span + back[counted], minlength=size * span).reshape(size, span)
    last_week = counts[:, :WEEK].sum(axis=1)
    # Each person's baseline days, oldest first, one after another (as measure() slices them).
    lengths = np.where(measured, WEEK * weeks, 0)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    rows = np.repeat(np.arange(size), lengths)
    position = np.arange(starts[-1]) - starts[rows]
    baseline = counts[rows, WEEK * (weeks[rows] + 1) - 1 - position]
    baseline_done = np.bincount(rows, weights=baseline, minlength=size)
    mean = baseline_done / np.maximum(lengths, 1)
    stdev = np.sqrt(ragged_sums((baseline - mean[rows]) ** 2, starts) / np.maximum(lengths, 1))
    dispersions = _dispersions(baseline, rows, position, weeks, measured)
    return [
        Momentum(int(last), int(total), int(w), float(sd), float(dispersion)) if ok else None
        for ok, last, total, w, sd, dispersion in zip(
            measured.tolist(),
            last_week.tolist(),
            baseline_done.tolist(),
            weeks.tolist(),
            stdev.tolist(),
            dispersions.tolist(),
            strict=True,
        )
    ]


def _dispersions(
    baseline: np.ndarray, rows: np.ndarray, position: np.ndarray, weeks: np.ndarray, measured: np.ndarray
) -> np.ndarray:
    """:func:`dispersion_of` of every measured person's baseline (``baseline[rows == p]``), summed in its order."""
    size = len(weeks)
    weekday = position % WEEK
    sums = np.bincount(rows * WEEK + weekday, weights=baseline, minlength=size * WEEK).reshape(size, WEEK)
    means = sums / np.maximum(weeks, 1)[:, None]
    active = means > 0
    degrees = (weeks - 1) * active.sum(axis=1)
    # The Pearson terms of the active weekdays only, weekday by weekday (then week by week): the order in which
    # dispersion_of() sums them, as ``weeks[:, active]`` lays them out in memory (column by column).
    kept = np.flatnonzero(active[rows, weekday])
    kept = kept[np.argsort(rows[kept] * WEEK + weekday[kept], kind="stable")]
    terms = (baseline[kept] - means[rows[kept], weekday[kept]]) ** 2 / means[rows[kept], weekday[kept]]
    pearson = ragged_sums(terms, np.searchsorted(rows[kept], np.arange(size + 1)))
    dispersion = np.maximum(pearson / np.maximum(degrees, 1), MIN_DISPERSION)
    return np.where(measured & (degrees > 0), dispersion, 1.0)


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population`` at once; ``prime`` hands compute its measure."""
    measured = measure_many(population)
    done = population.done

    def prime(index: int) -> None:
        history = population.histories[index]
        local_done.prime(history, done.of(index))
        measure.prime(history, measured[index])

    return Batched(
        {
            "engagement_trend": [m.trend if m else None for m in measured],
            "baseline_completions_per_day": [round(m.baseline, 2) if m else None for m in measured],
            "stdev": [round(m.stdev, 2) if m else None for m in measured],
        },
        prime,
    )


AGENT = Agent(
    manifest=AgentManifest(
        id="momentum",
        version="2.0.0",
        description="Says whether the person's last week of done tasks is above, in line with or below their usual.",
        ttl=timedelta(hours=6),
        schedule=timedelta(hours=1),
        consents=("activity", "tasks"),
        contexts=("work", "home"),  # streaks and dips are pressure: silent on a day off
        params=(
            InferredParam(
                "engagement_trend",
                "steady",
                infer_engagement_trend,
                description="rising|steady|falling: the last 7 days against the 4-11 weeks before, tested as counts",
            ),
            InferredParam(
                "baseline_completions_per_day",
                0.0,
                infer_baseline,
                description="mean done per day over the 4-11 full weeks before the last 7 days",
            ),
            InferredParam("stdev", 0.0, infer_stdev, description="population stdev of the baseline's daily counts"),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
