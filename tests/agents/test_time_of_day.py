"""The time-of-day agent recovers the planted daily rhythm of every persona and places "now" against it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.base import UserHistory
from agents.inference import run_inference
from agents.registry import get_agent
from agents.time_of_day import in_window, quiet_window
from oo_app.demo import Habits, synthetic_history

# A copy of ../shared/personas, so a fresh clone tests against them too.
PERSONAS = sorted((Path(__file__).resolve().parents[1] / "personas").glob("persona-*.json"))
AGENT = get_agent("time-of-day")


def circular_distance(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


def _infer(data: dict) -> dict:
    visible = {key: value for key, value in data.items() if key != "truth"}
    return run_inference(AGENT.manifest, UserHistory.from_mapping(visible))


def test_sample_personas_are_all_here() -> None:
    assert len(PERSONAS) == 7


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)
def test_persona_daily_rhythm_is_recovered(path: Path) -> None:
    data = json.loads(path.read_text())
    truth, inferred = data["truth"], _infer(data)
    assert inferred["tz"] == truth["tz"]
    for key in ("preferred_hour", "quiet_start", "quiet_end"):
        assert circular_distance(inferred[key], truth[key]) <= 1, f"{key}: inferred {inferred[key]}, truth {truth[key]}"


HABITS = [
    Habits(tz="America/New_York", preferred_hour=7, quiet_start=22, quiet_end=5),
    Habits(tz="Asia/Tokyo", preferred_hour=21, quiet_start=1, quiet_end=9),
    Habits(tz="Europe/London", preferred_hour=14, quiet_start=23, quiet_end=8, completions_per_day=1.5),
    Habits(tz="Australia/Adelaide", preferred_hour=0, quiet_start=4, quiet_end=11),
]


@pytest.mark.parametrize("habits", HABITS, ids=lambda h: f"{h.tz}-{h.preferred_hour}")
def test_synthetic_habits_are_recovered_across_zones_and_dst(habits: Habits) -> None:
    # 90 days ending after the northern autumn DST switch, so some days have 23 or 25 hours.
    data = synthetic_history(habits, days=90, now=datetime(2026, 11, 20, 12, tzinfo=UTC), seed=3)
    inferred = _infer(data)
    assert inferred["tz"] == habits.tz
    assert circular_distance(inferred["preferred_hour"], habits.preferred_hour) <= 1
    assert circular_distance(inferred["quiet_start"], habits.quiet_start) <= 1
    assert circular_distance(inferred["quiet_end"], habits.quiet_end) <= 1
    assert habits.preferred_hour in inferred["peak_hours"]


def test_quiet_window_wraps_midnight_and_takes_the_longest_run() -> None:
    counts = [0, 0, 0, 0, 9, 9, 9, 0, 9, *([9] * 13), 0, 0]
    assert quiet_window(counts) == (22, 4)
    assert in_window(23, 22, 4)
    assert in_window(3, 22, 4)
    assert not in_window(4, 22, 4)


def test_too_little_history_gives_the_cold_start_defaults() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = UserHistory.build([("tip_done", now - timedelta(hours=1))], [], "Europe/Berlin", now)
    inferred = run_inference(AGENT.manifest, history)
    defaults = {p.key: p.cold_start_default for p in AGENT.manifest.params}
    assert inferred == {**defaults, "tz": "Europe/Berlin"}


@pytest.mark.parametrize(("utc_hour", "phase"), [(2, "quiet"), (7, "before_peak"), (9, "peak"), (17, "after_peak")])
def test_snippet_places_now_in_the_persons_day(utc_hour: int, phase: str) -> None:
    now = datetime(2026, 11, 20, utc_hour, tzinfo=UTC)  # Berlin is UTC+1 in November
    history = UserHistory.build([], [], "Europe/Berlin", now)
    params = {"preferred_hour": 11, "quiet_start": 23, "quiet_end": 7, "peak_hours": [10, 11, 12]}
    params["tz"] = "Europe/Berlin"
    snippet = AGENT.compute(history, params)
    assert snippet.data["phase"] == phase
    assert snippet.data["local_time"] == f"{utc_hour + 1:02d}:00"
    assert snippet.data["local_time"] in snippet.text
    assert "Friday" in snippet.text
