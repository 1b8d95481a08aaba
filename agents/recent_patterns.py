"""Recent-patterns agent: how far back "recent" reaches for this person, and their weekly and daily rhythms.

``lookback_days`` holds the last 30 done (at most 90 days). The cycles read up to 12 full local weeks holding 30 done on
at least 3 distinct days (one busy day is no rhythm, however many weeks are observed around it); weekday means are
shrunk by their own noise before (max - min) / (max + min), so a thin history cannot fake a weekly rhythm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from agents.base import Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.history_arrays import DAY, MIN_RHYTHM_DAYS, days_seen, local_done, per_history, weekday_of
from agents.population import Batched, Population, ragged_sums

RECENT_DONE = 30  # done moments "recent" must hold
MAX_LOOKBACK_DAYS = 90
CYCLE_DAYS = 84  # twelve whole weeks: every weekday equally often
MIN_CYCLE_DAYS = 14  # every weekday at least twice
STRONG_WEEKLY = 0.5
STRONG_DAILY = 3.0  # the peak hour holds three times the mean hour
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Cycles:
    weekday_means: np.ndarray  # mean done per local weekday (Monday first), as observed
    weekly_strength: float
    hour_counts: np.ndarray  # done per local hour


def shrunk_toward_mean(means: np.ndarray, noise: float) -> np.ndarray:
    """James-Stein: ``means`` pulled toward their mean by the share of their spread that ``noise`` explains."""
    centre = float(means.mean())
    spread = float(((means - centre) ** 2).sum())
    keep = max(0.0, 1 - (len(means) - 3) * noise / spread) if spread > 0 else 0.0
    return centre + keep * (means - centre)


@per_history
def cycles(history: UserHistory) -> Cycles | None:
    """Weekly and daily rhythms over up to 12 full local weeks; None under 14 observed days, or under 30 done or done
    on fewer than :data:`MIN_RHYTHM_DAYS` distinct days in them.

    Weekly: (max - min) / (max + min) of the mean done per local weekday, the means first shrunk toward their overall
    mean by their own day-to-day noise (James-Stein). Daily: done per local hour, for a peak-to-mean ratio.
    """
    done = local_done(history)
    start = max(done.first_day, done.today - CYCLE_DAYS)
    days = done.today - start
    in_window = done.on_days(start, done.today)
    if days < MIN_CYCLE_DAYS or in_window.sum() < RECENT_DONE or days_seen(done.day[in_window]) < MIN_RHYTHM_DAYS:
        return None
    daily = np.bincount(done.day[in_window] - start, minlength=days)
    weekday = weekday_of(np.arange(start, done.today))
    seen = np.bincount(weekday, minlength=7)
    means = np.bincount(weekday, weights=daily, minlength=7) / seen
    # The variance of one weekday mean: day-to-day variance within weekdays over how often that weekday was seen.
    within = float(((daily - means[weekday]) ** 2).sum()) / max(days - 7, 1)
    shrunk = shrunk_toward_mean(means, within * float((1 / seen).mean()))
    top, bottom = float(shrunk.max()), float(shrunk.min())
    strength = (top - bottom) / (top + bottom) if top + bottom > 0 else 0.0
    return Cycles(means, strength, np.bincount(done.hour[in_window], minlength=24))


def cycles_many(population: Population) -> list[Cycles | None]:
    """:func:`cycles` of every person of ``population`` at once (the same numbers to the last bit)."""
    done, size = population.done, population.size
    start = np.maximum(done.first_day, done.today - CYCLE_DAYS)
    days = done.today - start
    in_window = (done.day >= start[done.person]) & (done.day < done.today[done.person])
    found = (
        (days >= MIN_CYCLE_DAYS)
        & (np.bincount(done.person[in_window], minlength=size) >= RECENT_DONE)
        & (population.days_seen((done.person[in_window], done.day[in_window])) >= MIN_RHYTHM_DAYS)
    )
    lengths = np.where(found, days, 0)
    # Each found person's days of the window, oldest first, one after another (as cycles() counts them).
    starts = np.concatenate([[0], np.cumsum(lengths)])
    rows = np.repeat(np.arange(size), lengths)
    kept = in_window & found[done.person]
    daily = np.bincount(starts[done.person[kept]] + done.day[kept] - start[done.person[kept]], minlength=starts[-1])
    weekday = weekday_of(start[rows] + np.arange(starts[-1]) - starts[rows])
    seen = np.bincount(rows * 7 + weekday, minlength=size * 7).reshape(size, 7)
    sums = np.bincount(rows * 7 + weekday, weights=daily, minlength=size * 7).reshape(size, 7)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = sums / seen
        within = ragged_sums((daily - means[rows, weekday]) ** 2, starts) / np.maximum(days - 7, 1)
        shrunk = _shrunk_many(means, within * (1 / seen).mean(axis=1))
    top, bottom = shrunk.max(axis=1), shrunk.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        strength = np.where(top + bottom > 0, (top - bottom) / (top + bottom), 0.0)
    hours = population.per_hour(done, kept)
    return [
        Cycles(means[index], float(strength[index]), hours[index]) if ok else None
        for index, ok in enumerate(found.tolist())
    ]


def _shrunk_many(means: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """:func:`shrunk_toward_mean` of every row of ``means`` with its own ``noise``."""
    centre = means.mean(axis=1)
    spread = ((means - centre[:, None]) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(spread > 0, np.maximum(0.0, 1 - (means.shape[1] - 3) * noise / spread), 0.0)
    return centre[:, None] + keep[:, None] * (means - centre[:, None])


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population`` at once; ``prime`` hands compute their cycles."""
    found, done = cycles_many(population), population.done
    ends = done.starts[1:]
    enough = done.counts >= RECENT_DONE
    reach = (population.now - np.append(done.seconds, np.nan)[np.where(enough, ends - RECENT_DONE, -1)]) / DAY
    lookback = np.minimum(MAX_LOOKBACK_DAYS, np.maximum(1, np.ceil(np.nan_to_num(reach)))).astype(np.int64).tolist()

    def prime(index: int) -> None:
        history = population.histories[index]
        local_done.prime(history, done.of(index))
        cycles.prime(history, found[index])

    return Batched(
        {
            "lookback_days": [days if ok else None for days, ok in zip(lookback, enough.tolist(), strict=True)],
            "weekly_cycle": [
                {"strength": round(c.weekly_strength, 3), "peak_weekday": int(c.weekday_means.argmax())} if c else None
                for c in found
            ],
            "daily_cycle": [
                {
                    "strength": round(float(c.hour_counts.max() * 24 / c.hour_counts.sum()), 2),
                    "peak_hour": int(c.hour_counts.argmax()),
                }
                if c
                else None
                for c in found
            ],
        },
        prime,
    )


def infer_lookback_days(history: UserHistory) -> int | None:
    seconds = local_done(history).seconds
    if len(seconds) < RECENT_DONE:
        return None
    reach = (history.now.timestamp() - float(seconds[-RECENT_DONE])) / DAY
    return min(MAX_LOOKBACK_DAYS, max(1, math.ceil(reach)))


def infer_weekly_cycle(history: UserHistory) -> dict[str, Any] | None:
    found = cycles(history)
    if found is None:
        return None
    return {"strength": round(found.weekly_strength, 3), "peak_weekday": int(found.weekday_means.argmax())}


def infer_daily_cycle(history: UserHistory) -> dict[str, Any] | None:
    found = cycles(history)
    if found is None:
        return None
    counts = found.hour_counts
    return {"strength": round(float(counts.max() * 24 / counts.sum()), 2), "peak_hour": int(counts.argmax())}


def busy_weekdays(weekday_means: np.ndarray) -> list[int]:
    """Weekdays (Monday = 0) with at least half the busiest weekday's mean."""
    return [day for day in range(7) if weekday_means[day] >= weekday_means.max() / 2]


def weekday_phrase(days: list[int]) -> str:
    """Weekdays as a reader says them: "Mondays to Fridays" for a run, else "Tuesdays, Thursdays and Sundays"."""
    names = [f"{WEEKDAYS[day]}s" for day in days]
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{names[0]} to {names[-1]}"
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    done, found = local_done(history), cycles(history)
    lookback = int(params["lookback_days"])
    recent = int((done.seconds > history.now.timestamp() - lookback * DAY).sum())
    data: dict[str, Any] = {"lookback_days": lookback, "done_in_lookback": recent}
    tail = f"{recent} {done.noun} done in the last {lookback} days."
    if found is None:
        data["cold_start"] = True
        return Snippet(f"Too little history for weekly or daily patterns yet; {tail}", data)
    weekly, daily = dict(params["weekly_cycle"]), dict(params["daily_cycle"])
    data["weekly_strength"], data["daily_strength"] = float(weekly["strength"]), float(daily["strength"])
    parts = []
    if data["weekly_strength"] > STRONG_WEEKLY:
        busy = busy_weekdays(found.weekday_means)
        data["busy_weekdays"] = [WEEKDAYS[day] for day in busy]
        parts.append(
            f"Strong weekly rhythm ({data['weekly_strength']}): most of their {done.noun} get done on "
            f"{weekday_phrase(busy)}."
        )
    if data["daily_strength"] >= STRONG_DAILY:
        data["peak_hour"] = int(daily["peak_hour"])
        parts.append(f"Most done around {data['peak_hour']:02d}:00 ({data['daily_strength']}x the mean hour).")
    if not parts:
        parts.append("No strong weekly or daily rhythm.")
    return Snippet(" ".join([*parts, tail]), data)


AGENT = Agent(
    manifest=AgentManifest(
        id="recent-patterns",
        version="1.1.0",  # 1.1: cycles only from done on 3 distinct days
        description="Sizes the person's recent window; hints at their weekly and daily rhythms when they are strong.",
        ttl=timedelta(hours=24),
        schedule=timedelta(hours=6),
        consents=("activity", "tasks"),
        contexts=("work", "home"),  # when tasks get done: silent on a day off
        params=(
            InferredParam("lookback_days", 28, infer_lookback_days, description="fewest days back holding 30 done"),
            InferredParam(
                "weekly_cycle",
                {"strength": 0.0, "peak_weekday": 0},
                infer_weekly_cycle,
                description="(max-min)/(max+min) of the shrunk weekday means",
            ),
            InferredParam(
                "daily_cycle", {"strength": 1.0, "peak_hour": 10}, infer_daily_cycle, description="peak-to-mean ratio"
            ),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
