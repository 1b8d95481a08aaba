"""``oo``: the operator CLI prints the API's JSON on stdout and errors as messages, never a stack trace.

The commands run in this process through click's runner; one test runs the installed ``oo`` as its own process, so
the console script and an interpreter's exit after a command stay tested too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlmodel import select

from oo_app.models import Tip, User
from tests.test_api import TIP_KEYS

OO = str(Path(sys.executable).with_name("oo"))
CHECKOUT = str(Path(__file__).resolve().parents[1])  # the code under test, wherever the environment was installed from


def test_recommend_prints_the_api_body_on_stdout(
    oo: Callable[..., Result], sqlite_url: str, demo_user: User, session
) -> None:
    result = oo("recommend", "--user", "Demo@Example.com", database_url=sqlite_url)
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"tip"}
    assert set(body["tip"]) == TIP_KEYS
    assert session.get(Tip, body["tip"]["id"]).text == body["tip"]["text"]


def test_recommend_ends_its_background_work_before_exiting(sqlite_url: str, demo_user: User, session) -> None:
    # The installed command in a process of its own: its interpreter's exit is what must not cut the work short.
    env = {**os.environ, "OO_DATABASE_URL": sqlite_url, "OO_SCHEDULER_ENABLED": "false", "OO_PREPARE_NEXT_TIP": "true"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))
    command = [OO, "recommend", "--user", "demo@example.com"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert "cannot schedule new futures" not in result.stderr, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    shown = json.loads(result.stdout)["tip"]["id"]
    assert session.exec(select(Tip).where(Tip.follows == shown)).first() is not None, "the tip written ahead is there"


def test_an_unknown_person_is_an_error_message_and_nothing_on_stdout(
    oo: Callable[..., Result], sqlite_url: str, demo_user: User
) -> None:
    result = oo("recommend", "--user", "nobody@example.com", database_url=sqlite_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no person with the email 'nobody@example.com'" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_and_seed_demo_prepare_an_empty_database(oo: Callable[..., Result], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert oo("migrate", database_url=url).exit_code == 0
    seeded = oo("seed-demo", database_url=url)
    assert seeded.exit_code == 0
    assert "seeded demo@example.com" in seeded.stderr
    again = oo("seed-demo", database_url=url)
    assert "nothing seeded" in again.stderr


PERSONA = Path(__file__).parent / "personas" / "persona-7-00.json"


def test_agents_infer_prints_only_the_parameters_json(oo: Callable[..., Result], tmp_path: Path) -> None:
    result = oo("agents", "infer", "--history", str(PERSONA), database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert result.exit_code == 0, result.stderr
    inferred = json.loads(result.stdout)
    from agents.registry import registry

    assert set(inferred) == set(registry())
    assert inferred["time-of-day"]["tz"] == "Australia/Adelaide"


def test_agents_infer_rejects_a_file_that_is_not_a_history(oo: Callable[..., Result], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"events": [{"type": "tip_done"}]}')
    result = oo("agents", "infer", "--history", str(bad), database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "not a history in the persona format" in result.stderr


def test_agents_run_computes_due_outputs_for_everyone(
    oo: Callable[..., Result], sqlite_url: str, demo_user: User
) -> None:
    result = oo("agents", "run", "--all", database_url=sqlite_url)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["persons"] == 1
    assert summary["outputs"] >= 1
    again = json.loads(oo("agents", "run", "--user", "demo@example.com", database_url=sqlite_url).stdout)
    assert again["outputs"] == 0, "nothing is due right after a run"


def test_a_command_on_a_database_not_migrated_says_to_migrate_without_a_stack_trace(
    oo: Callable[..., Result], tmp_path: Path
) -> None:
    result = oo("recommend", "--user", "demo@example.com", database_url=f"sqlite:///{tmp_path / 'new.db'}")

    assert result.exit_code == 1
    assert "run `oo migrate` first" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_a_command_on_a_database_that_does_not_answer_says_so_without_a_stack_trace(
    oo: Callable[..., Result],
) -> None:
    result = oo("recommend", "--user", "demo@example.com", database_url="postgresql+psycopg://oo@127.0.0.1:9/none")

    assert result.exit_code == 1
    assert "the database does not answer" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
