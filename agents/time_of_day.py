"""Time-of-day agent: when in the day this person gets things done, and when they must be left alone.

Infers, in the person's local time: ``preferred_hour`` (the hour with the most completions), ``quiet_start`` and
``quiet_end`` (the longest run of hours with activity under a tenth of the mean hour, ``[start, end)``, may wrap
midnight; a fifth swallowed the thin but real edge hours of the sample personas), ``peak_hours`` (the top
quarter of active hours) and ``tz``. The peak hours are read from at least 5 done moments, the quiet hours from at
least 5 moments of activity, each on at least 3 distinct local days (one sitting is no daily rhythm); until then the
hours keep their cold-start defaults. Its snippet places "now" against them; an hour still at its cold-start default
(too little history) is never stated as theirs, and its data lists such hours under ``assumed``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import numpy as np

from agents.base import ASSUMED, Agent, AgentManifest, InferredParam, Snippet, UserHistory, assumed_keys
from agents.history_arrays import MIN_RHYTHM_DAYS, days_seen, local_activity, local_done, per_history
from agents.population import Batched, Population, marked

QUIET_FRACTION = 0.1  # an hour is quiet when its activity is under this fraction of the mean hour
# Fewer timestamps than this say nothing about a daily rhythm; nor do any number of them on fewer than
# MIN_RHYTHM_DAYS distinct local days (agents/history_arrays.py says why 3).
MIN_SAMPLES = 5
PEAK_KEYS = frozenset({"preferred_hour", "peak_hours"})
QUIET_KEYS = frozenset({"quiet_start", "quiet_end"})
HOUR_KEYS = PEAK_KEYS | QUIET_KEYS


@per_history
def done_counts(history: UserHistory) -> np.ndarray:
    """Completions per local hour (completed tips when no task integration feeds any)."""
    return np.bincount(local_done(history).hour, minlength=24)


@per_history
def activity_counts(history: UserHistory) -> np.ndarray:
    """Anything the person did (events and completions) per local hour."""
    return np.bincount(local_activity(history).hour, minlength=24)


def shows_rhythm(moments: Any, days: Any) -> Any:
    """Whether ``moments`` timestamps on ``days`` distinct local days are enough to read a daily rhythm from: numbers
    for one person, or arrays with one entry per person (the batch path) and an array of answers."""
    return (moments >= MIN_SAMPLES) & (days >= MIN_RHYTHM_DAYS)


def peaks_known(history: UserHistory) -> bool:
    """Whether the person's done moments can show their productive hours (``PEAK_KEYS``)."""
    done = local_done(history)
    return bool(shows_rhythm(len(done.day), days_seen(done.day)))


def quiet_known(history: UserHistory) -> bool:
    """Whether the person's activity can show their quiet hours (``QUIET_KEYS``)."""
    activity = local_activity(history)
    return bool(shows_rhythm(len(activity.day), days_seen(activity.day)))


def infer_preferred_hour(history: UserHistory) -> int | None:
    if not peaks_known(history):
        return None
    counts = done_counts(history).tolist()
    # The most frequent hour; a tie goes to the hour whose neighbours are busier (the centre of the peak).
    return max(range(24), key=lambda h: (counts[h], counts[h - 1] + counts[(h + 1) % 24], -h))


def quiet_window(counts: list[int]) -> tuple[int, int] | None:
    """The longest circular run of hours under a tenth of the mean hour, as ``(start, end)`` with end exclusive; the
    caller says whether ``counts`` are enough to read one from (:func:`quiet_known`)."""
    threshold = QUIET_FRACTION * sum(counts) / 24
    quiet = [count < threshold for count in counts]
    if not any(quiet) or all(quiet):
        return None
    best_start, best_length = 0, 0
    # Start only where a run begins (after an active hour) so a run crossing midnight is measured whole.
    for start in range(24):
        if not quiet[start] or quiet[start - 1]:
            continue
        length = 0
        while length < 24 and quiet[(start + length) % 24]:
            length += 1
        if length > best_length:
            best_start, best_length = start, length
    return best_start, (best_start + best_length) % 24


def _quiet(history: UserHistory) -> tuple[int, int] | None:
    return quiet_window(activity_counts(history).tolist()) if quiet_known(history) else None


def infer_quiet_start(history: UserHistory) -> int | None:
    window = _quiet(history)
    return window[0] if window else None


def infer_quiet_end(history: UserHistory) -> int | None:
    window = _quiet(history)
    return window[1] if window else None


def infer_peak_hours(history: UserHistory) -> list[int] | None:
    if not peaks_known(history):
        return None
    counts = done_counts(history).tolist()
    active = [h for h in range(24) if counts[h] > 0]
    top = sorted(active, key=lambda h: (-counts[h], h))[: max(1, math.ceil(len(active) / 4))]
    return sorted(top)


def infer_tz(history: UserHistory) -> str:
    return history.tz


def in_window(hour: int, start: int, end: int) -> bool:
    """Whether ``hour`` lies in ``[start, end)``, a window that may wrap midnight."""
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def _hours(hours: Iterable[int]) -> str:
    return ", ".join(f"{h:02d}:00" for h in hours)


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    local = history.local(history.now)
    preferred = int(params["preferred_hour"])
    quiet_start, quiet_end = int(params["quiet_start"]), int(params["quiet_end"])
    peaks = [int(h) for h in params["peak_hours"]]
    hour = local.hour
    if in_window(hour, quiet_start, quiet_end):
        phase = "quiet"
    elif hour in peaks or hour == preferred:
        phase = "peak"
    elif hour < preferred:
        phase = "before_peak"
    else:
        phase = "after_peak"
    clock, weekday = local.strftime("%H:%M"), local.strftime("%A")
    assumed = sorted(assumed_keys(params) & HOUR_KEYS)
    knows_peak, knows_quiet = not PEAK_KEYS & set(assumed), not QUIET_KEYS & set(assumed)
    if phase == "quiet" and knows_quiet:
        peaks_at = f" and peaks around {preferred:02d}:00" if knows_peak else ""
        text = (
            f"It is {clock} on {weekday}, inside their quiet hours ({quiet_start:02d}:00-{quiet_end:02d}:00): "
            f"no nudges now; their day starts around {quiet_end:02d}:00{peaks_at}."
        )
    elif phase == "quiet":
        text = f"It is {clock} on {weekday}, when most people rest: no nudges now; their quiet hours are not known yet."
    elif not knows_peak and not knows_quiet:
        text = f"It is {clock} on {weekday}; too little history yet to tell when they get most done or rest."
    else:
        peak_part = (
            f"they get most done around {preferred:02d}:00 (peak hours {_hours(peaks)})"
            if knows_peak
            else "when they get most done is not known yet"
        )
        quiet_part = (
            f"quiet hours {quiet_start:02d}:00-{quiet_end:02d}:00"
            if knows_quiet
            else "their quiet hours are not known yet"
        )
        text = f"It is {clock} on {weekday}; {peak_part}; {quiet_part}."
    data = {
        "local_time": clock,
        "weekday": weekday,
        "local_hour": hour,
        "phase": phase,
        "preferred_hour": preferred,
        "peak_hours": peaks,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "tz": params["tz"],
        # The hours above that are cold-start defaults, not learned: never to be stated as the person's.
        ASSUMED: assumed,
    }
    return Snippet(text=text, data=data)


def infer_many(population: Population) -> Batched:
    """Every parameter for every person of ``population`` at once, as the ``infer_*`` functions give them."""
    done = population.per_hour(population.done)
    enough = shows_rhythm(done.sum(axis=1), population.days_seen((population.done.person, population.done.day)))
    # The most frequent hour; a tie to the busier neighbours, then to the earlier hour (argmax takes the first).
    neighbours = np.roll(done, 1, axis=1) + np.roll(done, -1, axis=1)
    preferred = np.argmax(done * (2 * int(done.max(initial=0)) + 1) + neighbours, axis=1)
    active = (done > 0).sum(axis=1)
    rank = np.empty_like(done)
    np.put_along_axis(rank, np.argsort(-done, axis=1, kind="stable"), np.arange(24), axis=1)
    peaks = marked(rank < np.maximum(1, -(-active // 4))[:, None])
    activity = population.activity_per_hour()
    start, end, has_quiet = quiet_windows(activity)
    events, completions = population.events, population.completions
    active_days = population.days_seen((events.person, events.day), (completions.person, completions.day))
    has_quiet &= shows_rhythm(activity.sum(axis=1), active_days)
    return Batched(
        {
            "preferred_hour": [int(h) if ok else None for h, ok in zip(preferred.tolist(), enough, strict=True)],
            "quiet_start": [s if ok else None for s, ok in zip(start.tolist(), has_quiet, strict=True)],
            "quiet_end": [e if ok else None for e, ok in zip(end.tolist(), has_quiet, strict=True)],
            "peak_hours": [p if ok else None for p, ok in zip(peaks, enough, strict=True)],
            "tz": [history.tz for history in population.histories],
        }
    )


def quiet_windows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`quiet_window` of every row of ``counts`` (persons x 24): starts, ends, and whether there is one."""
    total = counts.sum(axis=1)
    quiet = counts < (QUIET_FRACTION * total / 24)[:, None]
    found = quiet.any(axis=1) & ~quiet.all(axis=1)
    # run[:, h]: quiet hours in a row from h on, over two days so a run may cross midnight.
    twice = np.concatenate([quiet, quiet], axis=1).astype(np.int64)
    run = np.zeros((len(counts), 49), dtype=np.int64)
    for hour in range(47, -1, -1):
        run[:, hour] = (run[:, hour + 1] + 1) * twice[:, hour]
    begins = quiet & ~np.roll(quiet, 1, axis=1)
    lengths = np.where(begins, np.minimum(run[:, :24], 24), 0)
    start = np.argmax(lengths, axis=1)  # the longest run; a tie to the earlier start
    return start, (start + lengths[np.arange(len(counts)), start]) % 24, found


AGENT = Agent(
    manifest=AgentManifest(
        id="time-of-day",
        version="1.3.0",  # 1.2: its data lists the assumed hours; 1.3: hours only from 3 distinct days
        description="Places now against the person's productive and quiet hours.",
        ttl=timedelta(hours=1),
        schedule=timedelta(minutes=30),
        consents=("activity",),
        # No contexts: quiet hours and peak hours hold in every context, a day off included.
        params=(
            InferredParam("preferred_hour", 10, infer_preferred_hour, min_history=20),
            InferredParam("quiet_start", 22, infer_quiet_start, min_history=20),
            InferredParam("quiet_end", 7, infer_quiet_end, min_history=20),
            InferredParam("peak_hours", [9, 10, 11], infer_peak_hours, min_history=20),
            InferredParam("tz", "UTC", infer_tz),
        ),
    ),
    compute=compute,
    batch=infer_many,
)
