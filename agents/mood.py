"""Mood agent: the person's recent mood, when in the day and week their energy tends to dip, and what to expect now.

Reads only the person's mood check-ins (``UserHistory.moods``, levels 1 low, 2 okay, 3 good), present only under
consent ``mood``. Infers ``recent_mood`` (a mean of the last 14 days' check-ins weighted with a half-life of 3 days),
``low_hours`` and ``low_weekdays`` (local hours and weekdays with at least 3 check-ins whose mean lies at least half
a level below the person's overall mean). Too few check-ins infer nothing: the defaults say "okay" and no dips. Its
snippet says the energy to expect now (``low``, ``usual`` or ``high``): a check-in of the last 3 hours decides;
without one, a dip hour or weekday or a low recent mood makes it low.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import numpy as np

from agents.base import MOOD_CONSENT, MOOD_LEVELS, Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.history_arrays import per_history, utc_offsets
from agents.population import Batched, Population, marked, ragged_sums

DAY = 86_400
RECENT_DAYS = 14
HALF_LIFE_DAYS = 3.0
MIN_RECENT = 3  # check-ins in the last 14 days below which the recent mood is unknown
MIN_RHYTHM = 10  # check-ins in the whole history below which no rhythm is read
MIN_PER_SLOT = 3  # check-ins an hour or weekday needs before it can be called a dip
DIP = 0.5  # how far below the person's overall mean (in levels) a dip hour or weekday lies
FRESH = timedelta(hours=3)  # a check-in this recent says how the person is now
LOW_MOOD = 1.5  # a recent mood at or under this is low energy by itself
LOW, OKAY, GOOD = 1, 2, 3
SHOWN_HOURS, SHOWN_DAYS = 4, 2
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@per_history
def _arrays(history: UserHistory) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check-in levels, their UTC epoch seconds, local hours and local weekdays (Monday = 0)."""
    moods = history.moods
    seconds = np.fromiter((m.at.timestamp() for m in moods), dtype=float, count=len(moods))
    levels = np.fromiter((m.level for m in moods), dtype=float, count=len(moods))
    local = seconds + utc_offsets(seconds, history.zone)
    days = np.floor_divide(local, DAY).astype(np.int64)
    hours = (np.floor_divide(local, 3600) % 24).astype(np.int64)
    return levels, seconds, hours, (days + 3) % 7


def infer_recent_mood(history: UserHistory) -> float | None:
    levels, seconds, _, _ = _arrays(history)
    age_days = (history.now.timestamp() - seconds) / DAY
    recent = age_days <= RECENT_DAYS
    if recent.sum() < MIN_RECENT:
        return None
    weights = 0.5 ** (age_days[recent] / HALF_LIFE_DAYS)
    return round(float(np.average(levels[recent], weights=weights)), 2)


def _dips(levels: np.ndarray, slots: np.ndarray, size: int) -> list[int] | None:
    """The slots (hours or weekdays) whose mean level lies ``DIP`` under the overall mean, among those with enough
    check-ins; None while the history is too thin to read any rhythm."""
    if len(levels) < MIN_RHYTHM:
        return None
    counts = np.bincount(slots, minlength=size)
    sums = np.bincount(slots, weights=levels, minlength=size)
    overall = float(levels.mean())
    return [slot for slot in range(size) if counts[slot] >= MIN_PER_SLOT and sums[slot] / counts[slot] <= overall - DIP]


def infer_low_hours(history: UserHistory) -> list[int] | None:
    levels, _, hours, _ = _arrays(history)
    return _dips(levels, hours, 24)


def infer_low_weekdays(history: UserHistory) -> list[int] | None:
    levels, _, _, weekdays = _arrays(history)
    return _dips(levels, weekdays, 7)


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population`` at once, as the ``infer_*`` functions give them."""
    moods, size = population.moods, population.size
    age_days = (population.now[moods.person] - moods.seconds) / DAY
    recent = age_days <= RECENT_DAYS
    starts = np.searchsorted(moods.person[recent], np.arange(size + 1))
    weights = 0.5 ** (age_days[recent] / HALF_LIFE_DAYS)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = ragged_sums(moods.level[recent] * weights, starts) / ragged_sums(weights, starts)
    known = (np.diff(starts) >= MIN_RECENT) & np.isfinite(mean)
    rhythm = moods.counts >= MIN_RHYTHM
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = ragged_sums(moods.level, moods.starts) / moods.counts
    return Batched(
        {
            "recent_mood": [round(m, 2) if ok else None for m, ok in zip(mean.tolist(), known.tolist(), strict=True)],
            "low_hours": _dips_many(moods.level, moods.person, moods.hour, 24, overall, rhythm),
            "low_weekdays": _dips_many(moods.level, moods.person, (moods.day + 3) % 7, 7, overall, rhythm),
        }
    )


def _dips_many(
    levels: np.ndarray, person: np.ndarray, slots: np.ndarray, size: int, overall: np.ndarray, rhythm: np.ndarray
) -> list[list[int] | None]:
    """:func:`_dips` of every person: ``person`` says whose each check-in is; ``rhythm`` who has enough of them."""
    persons = len(overall)
    counts = np.bincount(person * size + slots, minlength=persons * size).reshape(persons, size)
    sums = np.bincount(person * size + slots, weights=levels, minlength=persons * size).reshape(persons, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        dips = (counts >= MIN_PER_SLOT) & (sums / counts <= (overall - DIP)[:, None])
    return [slots if ok else None for slots, ok in zip(marked(dips), rhythm.tolist(), strict=True)]


def _and(words: Iterable[str]) -> str:
    items = list(words)
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def energy_now(history: UserHistory, params: Mapping[str, Any]) -> tuple[str, str]:
    """The energy to expect now (``low``, ``usual`` or ``high``) and why (``check-in``, ``hour``, ``weekday``,
    ``recent mood`` or ``nothing``)."""
    local = history.local(history.now)
    latest = history.moods[-1] if history.moods else None
    if latest is not None and history.now - latest.at <= FRESH:
        return {LOW: "low", OKAY: "usual", GOOD: "high"}[latest.level], "check-in"
    if local.hour in params["low_hours"]:
        return "low", "hour"
    if local.weekday() in params["low_weekdays"]:
        return "low", "weekday"
    if float(params["recent_mood"]) <= LOW_MOOD:
        return "low", "recent mood"
    return "usual", "nothing"


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    local = history.local(history.now)
    hours = sorted(int(h) for h in params["low_hours"])
    weekdays = sorted(int(d) for d in params["low_weekdays"])
    recent = round(float(params["recent_mood"]), 1)
    energy, because = energy_now(history, params)
    data: dict[str, Any] = {
        "energy_now": energy,
        "because": because,
        "check_ins": len(history.moods),
        "recent_mood": recent,
        "scale": {"low": LOW, "good": GOOD},
        "low_hours": hours,
        "low_weekdays": [WEEKDAYS[d] for d in weekdays],
        "local_time": local.strftime("%H:%M"),
        "local_hour": local.hour,
    }
    if not history.moods:
        data["cold_start"] = True
        return Snippet(f"No mood check-ins yet; energy now: {energy}.", data)
    latest = history.moods[-1]
    data["latest"] = MOOD_LEVELS[latest.level]
    latest_local = history.local(latest.at)
    data["latest_at"], data["latest_hour"] = latest_local.strftime("%H:%M"), latest_local.hour
    parts = [f"Energy now: {energy}."]
    # The text names the first few dips (a snippet stays short); the data holds them all.
    dips = []
    if hours:
        dips.append("around " + _and(f"{h:02d}:00" for h in hours[:SHOWN_HOURS]))
    if weekdays:
        dips.append("on " + _and(f"{WEEKDAYS[d]}s" for d in weekdays[:SHOWN_DAYS]))
    if dips:
        parts.append(f"Energy tends to dip {' and '.join(dips)}.")
    parts.append(
        f"Latest check-in: {data['latest']} at {data['latest_at']}; recent mood {recent} ({LOW} low, {GOOD} good)."
    )
    return Snippet(" ".join(parts), data)


AGENT = Agent(
    manifest=AgentManifest(
        id="mood",
        version="1.0.0",
        description="Reads your mood check-ins: how you have felt lately and when your energy tends to dip.",
        ttl=timedelta(minutes=30),
        schedule=timedelta(minutes=15),
        consents=(MOOD_CONSENT,),
        params=(
            InferredParam(
                "recent_mood",
                float(OKAY),
                infer_recent_mood,
                description="how you have felt lately, from 1 (low) to 3 (good)",
            ),
            InferredParam("low_hours", [], infer_low_hours, description="hours of the day your energy tends to dip"),
            InferredParam(
                "low_weekdays",
                [],
                infer_low_weekdays,
                description="days of the week your energy tends to dip (0 is Monday)",
            ),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
