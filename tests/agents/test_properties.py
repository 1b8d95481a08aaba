"""Whatever history comes in, every registered agent answers: valid parameters or its defaults, and a snippet.

Histories are generated: empty, absurd (future and ancient dates, duplicate timestamps, naive datetimes, strings,
unknown zones, due dates after completion or years away, a project with one task) and huge.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agents.base import UserHistory
from agents.history_arrays import utc_offsets
from agents.inference import run_inference
from agents.registry import registry
from oo_app.clock import zone

AGENT_IDS = sorted(registry())
SNIPPET_MAX_CHARS = 240
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _hour(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23


def _cycle(limit_key: str, top: int, low: float, high: float) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        return (
            isinstance(value, dict)
            and set(value) == {"strength", limit_key}
            and _number(value["strength"])
            and low <= value["strength"] <= high
            and isinstance(value[limit_key], int)
            and 0 <= value[limit_key] <= top
        )

    return valid


# The contract of every inferred parameter of every agent; a new agent or parameter must add its own here.
VALID: dict[str, dict[str, Callable[[Any], bool]]] = {
    "time-of-day": {
        "preferred_hour": _hour,
        "quiet_start": _hour,
        "quiet_end": _hour,
        "peak_hours": lambda v: isinstance(v, list) and v and all(map(_hour, v)) and v == sorted(set(v)),
        "tz": lambda v: isinstance(v, str) and str(zone(v)) == v,
    },
    "momentum": {
        "engagement_trend": lambda v: v in {"rising", "steady", "falling"},
        "baseline_completions_per_day": lambda v: _number(v) and v >= 0,
        "stdev": lambda v: _number(v) and v >= 0,
    },
    "overdue-task": {
        "lateness_tolerance_days": _number,
        "project_realness": lambda v: (
            isinstance(v, dict) and all(isinstance(k, str) and k for k in v) and all(map(_number, v.values()))
        ),
    },
    "recent-patterns": {
        "lookback_days": lambda v: isinstance(v, int) and 1 <= v <= 90,
        "weekly_cycle": _cycle("peak_weekday", 6, 0.0, 1.0),
        "daily_cycle": _cycle("peak_hour", 23, 1.0, 24.0),
    },
    "mood": {
        "recent_mood": lambda v: _number(v) and 1 <= v <= 3,
        "low_hours": lambda v: isinstance(v, list) and all(map(_hour, v)) and v == sorted(set(v)),
        "low_weekdays": lambda v: isinstance(v, list) and all(d in range(7) for d in v) and v == sorted(set(v)),
    },
    "calendar": {
        "usual_meetings": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    },
    "learner": {
        "tastes": lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and k for k in v)
            and all(
                isinstance(t, dict) and set(t) == {"alpha", "beta"} and all(_number(x) and x > 0 for x in t.values())
                for t in v.values()
            )
        ),
    },
    "focus-area": {
        "preferred_areas": lambda v: (
            isinstance(v, list)
            and len(v) <= 2
            and len(set(v)) == len(v)
            and all(isinstance(area, str) and area for area in v)
        ),
    },
}

ZONE_NAMES = (
    st.sampled_from(
        [
            "UTC",
            "Europe/Berlin",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "Pacific/Kiritimati",
            "Africa/Casablanca",
            "Nowhere/Atlantis",
            "",
            "../../etc/passwd",
        ]
    )
    | st.none()
)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))])
EVENT_TYPES = st.sampled_from(["tip_done", "tip_shown", "app_open", "", "TIP_DONE", "push_opened"])
PROJECTS = st.sampled_from(["Work", "Home", "", "Ünïcode 🎯", "x" * 300, "Only-one-task"])


def _as_given(moment: datetime, form: int) -> datetime | str:
    """``moment`` (aware) as a caller might pass it: aware in some offset, naive UTC, or an ISO string."""
    if form == 0:
        return moment
    if form == 1:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


@st.composite
def histories(draw: st.DrawFn, size: int = 120) -> UserHistory:
    now = draw(st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=OFFSETS))
    # Most moments in the last 60 days, so the agents get past their cold starts; some up to 150 days back or ahead.
    recent = st.integers(-60 * 24 * 60, 0).map(lambda minutes: now + timedelta(minutes=minutes))
    near = st.integers(-150 * 24 * 60, 30 * 24 * 60).map(lambda minutes: now + timedelta(minutes=minutes))
    far = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=OFFSETS)
    # A small pool makes duplicate timestamps common.
    pool = draw(st.lists(near | far, min_size=1, max_size=12))
    anywhere = st.sampled_from(pool) | near
    moment = st.tuples(st.one_of(recent, recent, anywhere), st.integers(0, 2)).map(lambda pair: _as_given(*pair))
    due = st.none() | moment | far.map(lambda m: m.isoformat())
    # Sizes drawn first: left to itself, a list strategy stays too short for any agent to leave its cold start.
    events = draw(st.lists(st.tuples(EVENT_TYPES, moment), min_size=(n := draw(st.integers(0, size))), max_size=n))
    completions = draw(
        st.lists(st.tuples(moment, due, PROJECTS), min_size=(n := draw(st.integers(0, size))), max_size=n)
    )
    moods = draw(st.lists(st.tuples(moment, st.integers(1, 3)), min_size=(n := draw(st.integers(0, size))), max_size=n))
    now_given = _as_given(now, draw(st.integers(0, 2)))
    return UserHistory.build(events, completions, draw(ZONE_NAMES), now_given, moods=moods)


def _dense_history(days: int, per_day: int, now: datetime) -> UserHistory:
    """Many done moments a day: every hour busy, some duplicated, over ``days`` days."""
    moments = [now - timedelta(days=day, hours=hour) for day in range(days) for hour in range(per_day)]
    return UserHistory.build(
        [("tip_done", m) for m in moments], [(m, m - timedelta(days=1), "Work") for m in moments], "Asia/Tokyo", now
    )


def _assert_valid(agent_id: str, values: dict[str, Any]) -> None:
    agent = registry()[agent_id]
    defaults = {param.key: param.cold_start_default for param in agent.manifest.params}
    assert set(values) == set(defaults)
    for key, value in values.items():
        assert value == defaults[key] or VALID[agent_id][key](value), f"{agent_id}.{key} = {value!r}"
    assert json.loads(json.dumps(values, allow_nan=False)) == values


def test_every_registered_agent_has_a_parameter_contract_here() -> None:
    assert {agent_id: set(VALID.get(agent_id, {})) for agent_id in AGENT_IDS} == {
        agent_id: {param.key for param in registry()[agent_id].manifest.params} for agent_id in AGENT_IDS
    }


def test_every_cold_start_default_honours_its_own_contract() -> None:
    for agent_id in AGENT_IDS:
        for param in registry()[agent_id].manifest.params:
            assert VALID[agent_id][param.key](param.cold_start_default), f"{agent_id}.{param.key}"


@FAST
@given(history=histories())
def test_any_history_yields_valid_parameters_from_every_agent_without_an_inference_error(history: UserHistory) -> None:
    for agent_id, agent in registry().items():
        for param in agent.manifest.params:
            param.infer(history)  # raises here rather than hiding behind run_inference's logged fallback
        _assert_valid(agent_id, run_inference(agent.manifest, history))


@FAST
@given(history=histories())
def test_any_history_gets_a_short_snippet_with_json_data_from_every_agent(history: UserHistory) -> None:
    for agent_id, agent in registry().items():
        snippet = agent.compute(history, run_inference(agent.manifest, history))
        assert 0 < len(snippet.text) <= SNIPPET_MAX_CHARS, f"{agent_id}: {snippet.text!r}"
        assert json.loads(json.dumps(snippet.data, allow_nan=False)) == snippet.data, agent_id


def _numbers(value: Any) -> set[float]:
    """Every number inside ``value`` (recursively), as absolute values."""
    if isinstance(value, dict):
        return set().union(*map(_numbers, value.values()))
    if isinstance(value, list):
        return set().union(*map(_numbers, value))
    return {abs(float(value))} if _number(value) else set()


def _numbers_in_text(text: str) -> set[float]:
    """The numbers a reader sees: "13:00" is the hour 13, "z=+1.7" is 1.7."""
    hours = {float(hour) for hour in re.findall(r"\b(\d{1,2}):\d{2}\b", text)}
    rest = re.sub(r"\b\d{1,2}:\d{2}\b", " ", text)
    return hours | {float(number) for number in re.findall(r"\d+(?:\.\d+)?", rest)}


@FAST
@given(history=histories())
def test_every_number_in_every_snippet_is_in_its_data(history: UserHistory) -> None:
    for agent_id, agent in registry().items():
        snippet = agent.compute(history, run_inference(agent.manifest, history))
        ungrounded = _numbers_in_text(snippet.text) - _numbers(snippet.data)
        assert not ungrounded, f"{agent_id}: {snippet.text!r} says {ungrounded}, which {snippet.data} does not hold"


@pytest.mark.parametrize("agent_id", AGENT_IDS)
def test_a_huge_dense_history_is_read_like_any_other(agent_id: str) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = _dense_history(days=120, per_day=24 * 4, now=now)
    agent = registry()[agent_id]
    values = run_inference(agent.manifest, history)
    _assert_valid(agent_id, values)
    assert agent.compute(history, values).text


@pytest.mark.parametrize("agent_id", AGENT_IDS)
def test_an_empty_history_gets_the_cold_start_defaults(agent_id: str) -> None:
    history = UserHistory.build([], [], "Europe/Berlin", datetime(2026, 11, 20, 12, tzinfo=UTC))
    agent = registry()[agent_id]
    values = run_inference(agent.manifest, history)
    defaults = {param.key: param.cold_start_default for param in agent.manifest.params}
    assert values == {**defaults, **({"tz": "Europe/Berlin"} if "tz" in defaults else {})}
    assert agent.compute(history, values).text


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
    # Up to two years of moments: dense enough that offsets change and change back between neighbours.
    minutes=st.lists(st.integers(0, 2 * 366 * 24 * 60), min_size=20, max_size=60),
    name=st.sampled_from(["Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Africa/Casablanca", "UTC"]),
)
# Morocco leaves +01:00 for the month of Ramadan and comes back: two changes five weeks apart.
@example(
    start=datetime(2026, 1, 1, tzinfo=UTC),
    minutes=[day * 24 * 60 for day in range(0, 150, 2)],
    name="Africa/Casablanca",
)
def test_local_offsets_match_the_zone_at_every_moment(start: datetime, minutes: list[int], name: str) -> None:
    tz = ZoneInfo(name)
    moments = [start + timedelta(minutes=m) for m in sorted(minutes)]
    seconds = np.array([m.timestamp() for m in moments])
    expected = [m.astimezone(tz).utcoffset().total_seconds() for m in moments]
    assert utc_offsets(seconds, tz).tolist() == expected
