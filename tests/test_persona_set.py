"""``oo personas generate``: an independent set of personas in the shared format, the same for the same seed, whose
planted habits the agents recover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agents.base import UserHistory
from agents.inference import run_inference
from agents.registry import get_agent
from oo_app.cli import main
from oo_app.evaluation.persona import load_persona
from oo_app.evaluation.persona_set import TASTE_AGENTS, write_persona_set

SAMPLE = Path(__file__).parent / "personas" / "persona-7-00.json"
COUNT = 21  # the default set: three cold starts among them


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_persona_set(tmp_path_factory.mktemp("set"), count=COUNT, seed=1)


def _data(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _circular_distance(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


def test_generated_personas_load_as_personas(generated: list[Path]) -> None:
    assert [path.name for path in generated] == [f"persona-1-{index:02d}.json" for index in range(COUNT)]
    for path in generated:
        persona = load_persona(path)
        assert persona.id == path.stem
        assert set(persona.history) == {"id", "tz", "now", "events", "task_completions"}
        assert persona.history["task_completions"], f"{path.name} has no completions"
        assert persona.truth.tz == persona.history["tz"]


def test_the_truth_has_every_key_of_the_samples_and_tastes_in_range(generated: list[Path]) -> None:
    sample = _data(SAMPLE)["truth"]
    for path in generated:
        truth = _data(path)["truth"]
        assert truth.keys() == sample.keys(), path.name
        assert truth["tastes"]["agents"].keys() == set(TASTE_AGENTS)
        assert all(-0.15 <= shift <= 0.25 for shift in truth["tastes"]["agents"].values()), truth["tastes"]
        assert truth["tastes"]["kinds"].keys() == {"todo", "advice"}
        assert all(-0.05 <= shift <= 0.05 for shift in truth["tastes"]["kinds"].values()), truth["tastes"]


def test_the_set_mixes_cold_starts_and_ninety_day_histories(generated: list[Path]) -> None:
    cold = [_data(path)["truth"]["cold_start"] for path in generated]
    assert 0 < sum(cold) < len(cold)
    for path in generated:
        history = UserHistory.from_mapping(_data(path))
        first = min(history.events[0].at, history.task_completions[0].completed_at)
        assert (history.now - first).days >= 85, f"{path.name}: {history.now - first} of history, not about 90 days"


def test_the_same_seed_writes_the_same_files_and_another_seed_others(tmp_path: Path, generated: list[Path]) -> None:
    again = write_persona_set(tmp_path / "again", count=COUNT, seed=1)
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in generated]
    other = write_persona_set(tmp_path / "other", count=COUNT, seed=2)
    assert [path.name for path in other] == [f"persona-2-{index:02d}.json" for index in range(COUNT)]
    for mine, theirs in zip(generated, other, strict=True):
        assert _data(mine)["task_completions"] != _data(theirs)["task_completions"]


def test_the_time_of_day_agent_recovers_the_planted_preferred_hour(generated: list[Path]) -> None:
    manifest = get_agent("time-of-day").manifest
    for path in generated:
        data = _data(path)
        found = run_inference(manifest, UserHistory.from_mapping(data))["preferred_hour"]
        planted = data["truth"]["preferred_hour"]
        assert _circular_distance(found, planted) <= 1, f"{path.name}: inferred {found}, planted {planted}"


def test_the_cli_writes_count_personas(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["personas", "generate", str(tmp_path / "set"), "--count", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["personas"]
    assert sorted(Path(path).name for path in written) == [f"persona-5-{index:02d}.json" for index in range(3)]
    assert sorted(path.name for path in (tmp_path / "set").iterdir()) == sorted(Path(path).name for path in written)


def test_the_cli_refuses_a_folder_that_is_a_file(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    result = CliRunner().invoke(main, ["personas", "generate", str(taken)])
    assert result.exit_code == 1
    assert "is a file, not a folder" in result.output
    assert isinstance(result.exception, SystemExit), "a message, not a traceback"
    assert taken.read_text() == "not a folder"
