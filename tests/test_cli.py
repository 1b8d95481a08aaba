"""``oo``: the operator CLI prints the API's JSON on stdout and errors as messages, never a stack trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from oo_app.models import Tip, User
from tests.test_api import TIP_KEYS

OO = str(Path(sys.executable).with_name("oo"))
CHECKOUT = str(Path(__file__).resolve().parents[1])  # the code under test, wherever the environment was installed from


def _oo(*args: str, database_url: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OO_DATABASE_URL": database_url, "OO_SCHEDULER_ENABLED": "false", **extra_env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))
    return subprocess.run([OO, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_recommend_prints_the_api_body_on_stdout(sqlite_url: str, demo_user: User, session) -> None:
    result = _oo("recommend", "--user", "Demo@Example.com", database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"tip"}
    assert set(body["tip"]) == TIP_KEYS
    assert session.get(Tip, body["tip"]["id"]).text == body["tip"]["text"]


def test_recommend_ends_its_background_work_before_exiting(sqlite_url: str, demo_user: User, session) -> None:
    result = _oo("recommend", "--user", "demo@example.com", database_url=sqlite_url, OO_PREPARE_NEXT_TIP="true")

    assert result.returncode == 0, result.stderr
    assert "cannot schedule new futures" not in result.stderr, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    shown = json.loads(result.stdout)["tip"]["id"]
    assert session.exec(select(Tip).where(Tip.follows == shown)).first() is not None, "the tip written ahead is there"


def test_an_unknown_person_is_an_error_message_and_nothing_on_stdout(sqlite_url: str, demo_user: User) -> None:
    result = _oo("recommend", "--user", "nobody@example.com", database_url=sqlite_url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no person with the email 'nobody@example.com'" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_and_seed_demo_prepare_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert _oo("migrate", database_url=url).returncode == 0
    seeded = _oo("seed-demo", database_url=url)
    assert seeded.returncode == 0
    assert "seeded demo@example.com" in seeded.stderr
    again = _oo("seed-demo", database_url=url)
    assert "nothing seeded" in again.stderr


PERSONA = Path(__file__).parent / "personas" / "persona-7-00.json"


def test_agents_infer_prints_only_the_parameters_json(tmp_path: Path) -> None:
    result = _oo("agents", "infer", "--history", str(PERSONA), database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert result.returncode == 0, result.stderr
    inferred = json.loads(result.stdout)
    from agents.registry import registry

    assert set(inferred) == set(registry())
    assert inferred["time-of-day"]["tz"] == "Australia/Adelaide"


def test_agents_infer_rejects_a_file_that_is_not_a_history(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"events": [{"type": "tip_done"}]}')
    result = _oo("agents", "infer", "--history", str(bad), database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not a history in the persona format" in result.stderr


def test_agents_run_computes_due_outputs_for_everyone(sqlite_url: str, demo_user: User) -> None:
    result = _oo("agents", "run", "--all", database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["persons"] == 1
    assert summary["outputs"] >= 1
    again = json.loads(_oo("agents", "run", "--user", "demo@example.com", database_url=sqlite_url).stdout)
    assert again["outputs"] == 0, "nothing is due right after a run"


def test_a_command_on_a_database_not_migrated_says_to_migrate_without_a_stack_trace(tmp_path: Path) -> None:
    result = _oo("recommend", "--user", "demo@example.com", database_url=f"sqlite:///{tmp_path / 'new.db'}")

    assert result.returncode == 1
    assert "run `oo migrate` first" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_a_command_on_a_database_that_does_not_answer_says_so_without_a_stack_trace() -> None:
    result = _oo("recommend", "--user", "demo@example.com", database_url="postgresql+psycopg://oo@127.0.0.1:9/none")

    assert result.returncode == 1
    assert "the database does not answer" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
