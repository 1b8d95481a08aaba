"""Every agent recovers habits planted at random in our own synthetic personas, not only in the seven samples.

Each persona comes from :func:`oo_app.demo.synthetic_history` with habits drawn from a seed by
:func:`oo_app.evaluation.persona_set.plant`; the truth is what was planted, chosen clear of the decision boundaries so
a miss is the agent's fault and not the dice's. Hand-built histories then pin the rules the dice rarely reach: thin
histories, ties, newcomers, tips without tasks.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import pytest

from agents.base import UserHistory
from agents.inference import infer_all, run_inference
from agents.registry import get_agent
from benchmarks.momentum_recovery import bursty_steady_recovery, recovery
from oo_app.demo import Habits, synthetic_history
from oo_app.evaluation.persona_set import NOW, Planted, plant

PERSONAS = 24
TREND_SEEDS = range(9000, 9200)
RECENT_PATTERNS = get_agent("recent-patterns")


@functools.cache
def persona(seed: int, trend: str | None = None) -> tuple[Planted, dict[str, dict[str, Any]]]:
    planted = plant(seed, trend)
    history = UserHistory.from_mapping(synthetic_history(planted.habits, days=90, now=NOW, seed=seed))
    return planted, infer_all(history)


def circular_distance(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


SEEDS = range(PERSONAS)


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_zone_and_daily_rhythm_are_recovered(seed: int) -> None:
    planted, inferred = persona(seed)
    habits, found = planted.habits, inferred["time-of-day"]
    assert found["tz"] == habits.tz
    for key in ("preferred_hour", "quiet_start", "quiet_end"):
        assert circular_distance(found[key], getattr(habits, key)) <= 1, f"{key}: {found[key]} vs {habits}"


@pytest.mark.parametrize("seed", [seed for seed in SEEDS if plant(seed).trend != "steady"])
def test_a_planted_rise_or_fall_in_the_last_week_is_recovered(seed: int) -> None:
    planted, inferred = persona(seed)
    assert inferred["momentum"]["engagement_trend"] == planted.trend, f"{inferred['momentum']} vs {planted}"


@pytest.mark.parametrize("trend", ["rising", "steady", "falling"])
def test_each_planted_trend_is_recovered_in_at_least_95_percent_of_people(trend: str) -> None:
    # 1 to 6 completions a day, low-activity people included; seeds apart from those the thresholds were chosen on.
    share = recovery(trend, TREND_SEEDS, low=1.0, high=6.0)
    assert share >= 0.95, f"{trend} recovered in {share:.1%} of {len(TREND_SEEDS)} people"


def test_bursty_steady_people_read_steady() -> None:
    # Day-to-day variance 1.5 to 3 times the mean: the old z rule read about a quarter of them as a trend.
    share = bursty_steady_recovery(TREND_SEEDS)
    assert share >= 0.95, f"{share:.1%} of {len(TREND_SEEDS)} bursty steady people read steady"


def test_a_significant_but_small_change_in_a_very_active_person_is_steady() -> None:
    # 100 done a day for 11 weeks, then 110 a day: far beyond chance (z = 3.5) but only 1.1 times their usual.
    moments = [
        NOW.replace(hour=0) - timedelta(days=d) + timedelta(minutes=5 * i)
        for d in range(1, 85)
        for i in range(110 if d <= 7 else 100)
    ]
    history = UserHistory.build([], _completions(moments), "UTC", NOW)
    assert run_inference(get_agent("momentum").manifest, history)["engagement_trend"] == "steady"


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_lateness_tolerance_is_within_half_a_day(seed: int) -> None:
    planted, inferred = persona(seed)
    assert abs(inferred["overdue-task"]["lateness_tolerance_days"] - planted.lateness) <= 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_the_project_with_the_firmest_due_dates_is_the_most_real(seed: int) -> None:
    planted, inferred = persona(seed)
    realness = inferred["overdue-task"]["project_realness"]
    assert max(realness, key=realness.__getitem__) == planted.firmest_project, realness


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_preferred_areas_are_the_top_two_in_order(seed: int) -> None:
    planted, inferred = persona(seed)
    assert inferred["focus-area"]["preferred_areas"] == planted.areas


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_weekly_cycle_is_strong_exactly_when_planted(seed: int) -> None:
    planted, inferred = persona(seed)
    strength = inferred["recent-patterns"]["weekly_cycle"]["strength"]
    assert (strength > 0.5) == (planted.weekly_strength > 0.5), f"{strength} vs planted {planted.weekly_strength:.2f}"


def test_the_synthetic_set_covers_every_trend_and_both_weekly_rhythms() -> None:
    planted = [plant(seed) for seed in SEEDS]
    assert {p.trend for p in planted} == {"rising", "steady", "falling"}
    assert {p.weekly_strength > 0.5 for p in planted} == {True, False}
    assert min(p.lateness for p in planted) < 0 < max(p.lateness for p in planted), "early and late finishers"


def test_a_thin_flat_week_does_not_fake_a_weekly_rhythm() -> None:
    # About 50 completions over 12 weeks: the raw (max - min) / (max + min) of weekday means is above 0.5 for about a
    # quarter of such people by chance alone; the shrunk weekday means keep that to a few.
    habits = Habits(completions_per_day=0.6)
    histories = [UserHistory.from_mapping(synthetic_history(habits, now=NOW, seed=seed)) for seed in range(40)]
    strengths = [run_inference(RECENT_PATTERNS.manifest, h)["weekly_cycle"]["strength"] for h in histories]
    assert sum(s > 0.5 for s in strengths) <= 4, strengths


def test_a_thin_history_that_stops_at_the_weekend_still_reads_as_a_strong_week() -> None:
    habits = Habits(completions_per_day=0.7, weekend_factor=0.1)
    histories = [UserHistory.from_mapping(synthetic_history(habits, now=NOW, seed=seed)) for seed in range(20)]
    strengths = [run_inference(RECENT_PATTERNS.manifest, h)["weekly_cycle"]["strength"] for h in histories]
    assert sum(s > 0.5 for s in strengths) >= 18, strengths


def _completions(moments: list[datetime], project: str = "Work") -> list[tuple[datetime, None, str]]:
    return [(moment, None, project) for moment in moments]


def test_equal_counts_go_to_the_project_completed_last_then_to_the_name() -> None:
    latest = NOW - timedelta(days=1)
    completions = (
        _completions([latest - timedelta(days=d, hours=5) for d in range(3)], "Beta")
        + _completions([latest - timedelta(days=d) for d in range(3)], "Gamma")
        + _completions([latest - timedelta(days=d) for d in range(3)], "Alpha")
    )
    history = UserHistory.build([], completions, "UTC", NOW)
    assert run_inference(get_agent("focus-area").manifest, history)["preferred_areas"] == ["Alpha", "Gamma"]


def test_the_lookback_is_the_fewest_days_holding_thirty_done_and_at_most_ninety() -> None:
    daily = _completions([NOW - timedelta(days=d, hours=1) for d in range(30)])
    sparse = _completions([NOW - timedelta(days=4 * d, hours=1) for d in range(30)])
    lookback = [
        run_inference(RECENT_PATTERNS.manifest, UserHistory.build([], c, "UTC", NOW))["lookback_days"]
        for c in (daily, sparse, daily[:29])
    ]
    assert lookback == [30, 90, 28], "one a day: 30 days; one every 4 days: capped at 90; 29 in all: the default"


def test_one_long_forgotten_task_does_not_move_the_lateness_tolerance() -> None:
    # The tolerance is the median: a task finished a month late says nothing of their everyday habit.
    lateness_days = [0.0, 0.5, 1.0, 1.0, 1.5, 30.0]
    done = [NOW - timedelta(days=d + 1) for d in range(len(lateness_days))]
    completions = [(m, m - timedelta(days=late), "Work") for m, late in zip(done, lateness_days, strict=True)]
    history = UserHistory.build([], completions, "UTC", NOW)
    assert run_inference(get_agent("overdue-task").manifest, history)["lateness_tolerance_days"] == 1.0


def test_a_newcomer_busier_than_before_they_came_is_not_rising() -> None:
    # Three completions a day for the 20 days since they arrived: the 28-day baseline would count days before them.
    moments = [NOW - timedelta(days=d, hours=h) for d in range(1, 21) for h in (2, 4, 6)]
    history = UserHistory.build([], _completions(moments), "UTC", NOW)
    assert run_inference(get_agent("momentum").manifest, history)["engagement_trend"] == "steady"


def test_without_task_completions_momentum_reads_completed_tips() -> None:
    moments = [
        NOW - timedelta(days=d, hours=h) for d in range(1, 60) for h in ((2, 4, 6, 8, 10, 12) if d <= 7 else (2,))
    ]
    history = UserHistory.build([("tip_done", m) for m in moments] + [("app_open", NOW)], [], "UTC", NOW)
    momentum = get_agent("momentum")
    values = run_inference(momentum.manifest, history)
    assert values["engagement_trend"] == "rising"
    assert "42 tips" in momentum.compute(history, values).text
