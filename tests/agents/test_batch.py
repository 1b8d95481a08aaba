"""The batch path answers exactly as the per-person path: every agent's parameters, assumed keys and snippet (text
and data), for generated histories (tests/agents/test_properties.py's, absurd ones included) and seeded realistic
persons in zones with daylight saving and odd offsets.
"""

from __future__ import annotations

import dataclasses
import gc
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agents.base import UserHistory
from agents.batch import compute_many, cyclic_gc_paused, infer_many
from agents.columns import EPOCH, NO_DUE, CompletionColumn, EventColumn
from agents.history_arrays import days_seen, utc_offsets
from agents.inference import infer_params
from agents.population import Population, offsets_in
from agents.registry import registry
from oo_app.demo import Habits, synthetic_history
from tests.agents.test_properties import histories

NOW = datetime(2026, 3, 29, 9, 30, tzinfo=UTC)  # the morning Europe's clocks went forward
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Pacific/Marquesas", "Australia/Lord_Howe", "UTC")


def _per_person(history: UserHistory) -> list[tuple[str, str]]:
    """Every agent's answer for ``history`` alone (on a copy, so no batch-primed cache is read)."""
    alone = dataclasses.replace(history)
    answers = []
    for agent in registry().values():
        inferred = infer_params(agent.manifest, alone)
        answers.append((repr(inferred), repr(agent.compute(alone, inferred.params()))))
    return answers


def columnar(history: UserHistory) -> UserHistory:
    """``history`` with its events and completions held as numbers, as a group read hands them
    (:mod:`agents.group_reads`): epoch microseconds, kinds and projects as codes."""
    micros = [(e.at - EPOCH) // timedelta(microseconds=1) for e in history.events]
    kinds = sorted({e.type for e in history.events}, reverse=True)  # codes in another order than first appearance
    events = EventColumn(
        np.array(micros, dtype=np.int64), np.array([kinds.index(e.type) for e in history.events], dtype=np.int64), kinds
    )
    done = history.task_completions
    projects = sorted({c.project for c in done})
    completions = CompletionColumn(
        np.array([(c.completed_at - EPOCH) // timedelta(microseconds=1) for c in done], dtype=np.int64),
        np.array([NO_DUE if c.due_at is None else (c.due_at - EPOCH) // timedelta(microseconds=1) for c in done]),
        np.array([projects.index(c.project) for c in done], dtype=np.int64),
        projects,
    )
    return dataclasses.replace(history, events=events, task_completions=completions)


def assert_same_columns(first: Population, second: Population) -> None:
    """Two populations' columns are equal to the last bit."""
    for name in ("events", "completions", "done", "moods"):
        one, other = vars(getattr(first, name)), vars(getattr(second, name))
        assert one.keys() == other.keys()
        for key, value in one.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == other[key].dtype, (name, key)
                assert np.array_equal(value, other[key], equal_nan=True), (name, key)
            else:
                assert value == other[key], (name, key)


def assert_batch_equals_per_person(population: list[UserHistory]) -> None:
    expected = [_per_person(history) for history in population]
    packed = Population(population)
    # Held as numbers (every other person, so a population may mix both), they pack into the same columns.
    mixed = Population([columnar(h) if i % 2 == 0 else h for i, h in enumerate(population)])
    assert_same_columns(packed, mixed)
    assert [_per_person(h) for h in mixed.histories] == expected, "the numbers stand for the same history"
    assert [h.events for h in mixed.histories] == [h.events for h in population]
    assert [h.task_completions for h in mixed.histories] == [h.task_completions for h in population]
    for position, agent in enumerate(registry().values()):
        for together in (packed, mixed):
            outcomes = compute_many(agent, together)
            assert [repr(inferred) for inferred in infer_many(agent, together)] == [
                answers[position][0] for answers in expected
            ], agent.manifest.id
            for index, outcome in enumerate(outcomes):
                assert outcome.error is None, f"{agent.manifest.id} failed for person {index}: {outcome.error!r}"
                got = (repr(outcome.inferred), repr(outcome.snippet))
                assert got == expected[index][position], f"{agent.manifest.id}, person {index}"


def _person(seed: int, days: int) -> UserHistory:
    """A realistic person: habits, moods and (for every third) completed tips without a task integration."""
    rng = random.Random(seed)
    quiet_start = rng.choice([21, 22, 23, 0, 1])
    habits = Habits(
        tz=ZONES[seed % len(ZONES)],
        preferred_hour=rng.randrange(7, 21),
        quiet_start=quiet_start,
        quiet_end=(quiet_start + rng.randrange(6, 9)) % 24,
        projects=tuple((name, rng.random() + 0.1) for name in rng.sample(["Work", "Home", "Health", "Family"], 3)),
        completions_per_day=rng.uniform(0.3, 6.0),
        lateness_days=rng.uniform(-1.0, 3.0),
    )
    data = synthetic_history(habits, days=days, now=NOW, seed=seed)
    moods = [
        (NOW - timedelta(hours=rng.uniform(0, 24 * days)), rng.choice([1, 2, 2, 3]))
        for _ in range(rng.choice([0, 2, 12, 60]))
    ]
    completions = (
        [] if seed % 3 == 0 else [(c["completed_at"], c["due_at"], c["project"]) for c in data["task_completions"]]
    )
    events = [(e["type"], e["at"]) for e in data["events"]]
    return UserHistory.build(events, completions, habits.tz, NOW, moods=moods)


def _on_the_edges() -> list[UserHistory]:
    """Histories on the thresholds: an hour exactly at the quiet line (a tenth of the mean hour), exactly three
    recent check-ins, moments exactly when the clocks change."""
    day = NOW - timedelta(days=1)
    per_hour = [12] * 19 + [9, 1, 1, 1, 0]  # 240 in all: the quiet line is 1.0
    at_the_line = [
        ("app_open", day.replace(hour=hour) - timedelta(days=n)) for hour, k in enumerate(per_hour) for n in range(k)
    ]
    three_moods = [(NOW - timedelta(days=d), level) for d, level in ((1, 1), (5, 2), (13, 1), (20, 3))]
    change = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 in Berlin becomes 03:00
    at_the_change = [(change + timedelta(microseconds=m), change - timedelta(days=1), "Work") for m in (-1, 0, 0, 1)]
    return [
        UserHistory.build([], [], "Asia/Kathmandu", NOW),
        UserHistory.build([("tip_done", NOW - timedelta(hours=3))], [], "Pacific/Marquesas", NOW),
        UserHistory.build([], [(NOW - timedelta(days=2), NOW - timedelta(days=3), "Work")], "Europe/Berlin", NOW),
        UserHistory.build(at_the_line, [], "UTC", NOW),
        UserHistory.build([], [], "Europe/Berlin", NOW, moods=three_moods),
        UserHistory.build([("tip_done", c[0]) for c in at_the_change], at_the_change * 2, "Europe/Berlin", NOW),
    ]


def test_seeded_persons_in_every_kind_of_zone_get_the_same_answers_in_batch() -> None:
    population = [_person(seed, days) for seed, days in enumerate([7, 20, 36, 40, 50, 60, 77, 90, 120] * 4)]
    assert_batch_equals_per_person(population + _on_the_edges())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(population=st.lists(histories(size=60), min_size=1, max_size=5))
def test_any_histories_get_the_same_answers_in_batch_as_one_by_one(population: list[UserHistory]) -> None:
    assert_batch_equals_per_person(population)


@given(
    moments=st.lists(st.tuples(st.integers(0, 3), st.integers(-800_000, 3_000_000) | st.integers(0, 9)), max_size=60),
    columns=st.integers(1, 3),
)
def test_each_persons_distinct_days_are_counted_as_for_them_alone_in_any_order(
    moments: list[tuple[int, int]], columns: int
) -> None:
    population = Population([UserHistory.build([], [], "UTC", NOW)] * 4)
    person = np.array([owner for owner, _ in moments], dtype=np.int64)
    day = np.array([local_day for _, local_day in moments], dtype=np.int64)
    split = [(person[i::columns], day[i::columns]) for i in range(columns)]
    alone = [days_seen(day[person == index]) for index in range(population.size)]
    assert population.days_seen(*split).tolist() == alone


def test_an_empty_population_gets_no_answers() -> None:
    for agent in registry().values():
        assert compute_many(agent, Population([])) == []


@example(moments=[datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)], name="Europe/Berlin")
@given(
    moments=st.lists(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)), max_size=50),
    name=st.sampled_from((*ZONES, "America/St_Johns", "Africa/Casablanca", "Pacific/Kiritimati", "Europe/Dublin")),
)
def test_zone_offsets_found_once_per_zone_equal_those_asked_moment_by_moment(
    moments: list[datetime], name: str
) -> None:
    seconds = np.sort(np.array([moment.timestamp() for moment in moments], dtype=float))
    assert offsets_in(ZoneInfo(name), seconds).tolist() == utc_offsets(seconds, ZoneInfo(name)).tolist()


def test_the_cycle_collector_pauses_for_a_group_and_runs_again_after_it_even_on_an_error() -> None:
    seen: list[bool] = []

    def failing_group() -> None:
        with cyclic_gc_paused():
            seen.append(gc.isenabled())
            raise RuntimeError("a group that fails")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        failing_group()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()  # a process (or an outer pause) that runs without it keeps it off
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
