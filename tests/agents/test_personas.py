"""Every agent recovers the habits planted in the sample personas, within the tolerances of their README.

The history is read without its ``truth`` key, through ``infer_all`` as the CLI does; the truth only grades it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from agents.base import UserHistory
from agents.inference import infer_all
from agents.registry import registry

# A copy of ../shared/personas, so a fresh clone tests against them too.
PERSONAS = sorted((Path(__file__).resolve().parents[1] / "personas").glob("persona-*.json"))
COLD_START = [path for path in PERSONAS if json.loads(path.read_text())["truth"].get("cold_start")]


@functools.cache
def persona(path: Path) -> tuple[dict[str, Any], UserHistory, dict[str, dict[str, Any]]]:
    """The persona's truth, its history as the agents see it, and everything inferred from that history."""
    data = json.loads(path.read_text())
    history = UserHistory.from_mapping({key: value for key, value in data.items() if key != "truth"})
    return data["truth"], history, infer_all(history)


def circular_distance(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


each_persona = pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)


def test_the_samples_include_a_cold_start_persona() -> None:
    assert len(PERSONAS) == 7
    assert COLD_START, "no sample persona has cold_start: true"


@each_persona
def test_every_agent_answers_every_parameter_in_plain_json(path: Path) -> None:
    _, _, inferred = persona(path)
    assert {agent_id: set(values) for agent_id, values in inferred.items()} == {
        agent.manifest.id: {param.key for param in agent.manifest.params} for agent in registry().values()
    }
    assert json.loads(json.dumps(inferred, allow_nan=False)) == inferred


@each_persona
def test_persona_zone_and_daily_rhythm_are_recovered(path: Path) -> None:
    truth, _, inferred = persona(path)
    found = inferred["time-of-day"]
    assert found["tz"] == truth["tz"]
    for key in ("preferred_hour", "quiet_start", "quiet_end"):
        assert circular_distance(found[key], truth[key]) <= 1, f"{key}: inferred {found[key]}, truth {truth[key]}"


@each_persona
def test_persona_engagement_trend_is_recovered(path: Path) -> None:
    truth, _, inferred = persona(path)
    assert inferred["momentum"]["engagement_trend"] == truth["engagement_trend"], inferred["momentum"]


@each_persona
def test_persona_lateness_tolerance_is_within_half_a_day(path: Path) -> None:
    truth, _, inferred = persona(path)
    assert abs(inferred["overdue-task"]["lateness_tolerance_days"] - truth["lateness_tolerance_days"]) <= 0.5


@each_persona
def test_persona_preferred_areas_are_the_top_two_in_order(path: Path) -> None:
    truth, _, inferred = persona(path)
    assert inferred["focus-area"]["preferred_areas"] == truth["preferred_areas"]


@each_persona
def test_persona_weekly_cycle_is_strong_exactly_when_planted(path: Path) -> None:
    truth, _, inferred = persona(path)
    strength = inferred["recent-patterns"]["weekly_cycle"]["strength"]
    assert (strength > 0.5) == truth["weekly_cycle_strong"], f"strength {strength}"


@pytest.mark.parametrize("path", COLD_START, ids=lambda p: p.stem)
def test_a_cold_start_persona_gets_the_defaults_where_volume_is_needed_and_a_snippet_from_every_agent(
    path: Path,
) -> None:
    _, history, inferred = persona(path)
    for agent_id in ("momentum", "recent-patterns"):
        defaults = {param.key: param.cold_start_default for param in registry()[agent_id].manifest.params}
        assert inferred[agent_id] == defaults, agent_id
    for agent_id, agent in registry().items():
        assert agent.compute(history, inferred[agent_id]).text, agent_id
