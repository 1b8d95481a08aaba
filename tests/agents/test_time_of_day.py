"""The time-of-day agent recovers the planted daily rhythm of every persona and places "now" against it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agents.base import ASSUMED, UserHistory
from agents.history_arrays import MIN_RHYTHM_DAYS
from agents.inference import run_inference
from agents.registry import get_agent
from agents.time_of_day import HOUR_KEYS, in_window, quiet_window
from oo_app.demo import Habits, synthetic_history
from tests.agents.agent_paths import BOTH_PATHS, Answer

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


LISBON = ZoneInfo("Europe/Lisbon")


def _answers_at_0536(days: int) -> UserHistory:
    """Ten tips shown and done two minutes apart from 05:36 in Lisbon (20 events: past every ``min_history``), dealt
    over ``days`` mornings ending this Friday; now is a minute after the last answer."""
    last_morning = datetime(2026, 11, 20, 5, 36, tzinfo=LISBON)
    events = []
    for n in range(10):
        at = last_morning - timedelta(days=days - 1 - n * days // 10) + timedelta(minutes=2 * n)
        events += [("tip_shown", at), ("tip_done", at + timedelta(minutes=1))]
    return UserHistory.build(events, [], "Europe/Lisbon", max(at for _, at in events) + timedelta(minutes=1))


@BOTH_PATHS
def test_answers_of_one_sitting_show_no_daily_rhythm(answer: Answer) -> None:
    history = _answers_at_0536(days=1)
    assert len(history.events) >= max(param.min_history for param in AGENT.manifest.params), "enough events"
    inferred, snippet = answer(AGENT, history)
    assert inferred.assumed >= HOUR_KEYS, f"hours read from one sitting: {inferred.values}"
    assert sorted(snippet.data[ASSUMED]) == sorted(HOUR_KEYS)
    assert snippet.data["phase"] == "quiet", "05:36 stays in the assumed quiet hours, as for anyone oO does not know"
    assert "05:00" not in snippet.text, f"claims a peak or quiet hour of the sitting: {snippet.text}"
    assert "not known yet" in snippet.text


@BOTH_PATHS
def test_the_same_answers_over_several_days_show_the_early_peak(answer: Answer) -> None:
    inferred, snippet = answer(AGENT, _answers_at_0536(days=MIN_RHYTHM_DAYS))
    assert not inferred.assumed & HOUR_KEYS, f"assumed {sorted(inferred.assumed)} after {MIN_RHYTHM_DAYS} mornings"
    assert (inferred.values["preferred_hour"], inferred.values["peak_hours"]) == (5, [5])
    assert not in_window(5, inferred.values["quiet_start"], inferred.values["quiet_end"])
    assert snippet.data["phase"] == "peak"
    assert "around 05:00" in snippet.text
