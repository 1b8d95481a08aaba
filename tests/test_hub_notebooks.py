"""The operator notebooks run headless over the seeded database of tests/test_hub.py and show its figures: as marimo
apps (``app.run()``, driven through ``defs`` where an operator would click), as scripts, and ``marimo check`` is clean.

marimo's exported HTML loads its frontend from a CDN, so outputs are read from ``app.run()``; one export of the hub
still proves that ``marimo export html`` executes it without a failing cell.
"""

from __future__ import annotations

import html
import importlib
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.hub import events as event_queries
from oo_app.hub import navigation
from oo_app.hub import tips as tip_queries
from oo_app.models import AuditEvent, Context, Event, EventType, Integration, Policy, PolicyRole, User
from tests.test_hub import MODEL_ALIASES, NOW, OPERATOR, SEEDED_TEXT, TOKEN, seed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "admin_notebooks"
MLFLOW_UI_URL = "http://mlflow.hub-test.example:5000"
MARIMO = str(Path(sys.executable).with_name("marimo"))
# The notebook run as an operator runs it, by an interpreter of its own; the others run as ``__main__`` in this one.
SCRIPT_IN_ITS_OWN_PROCESS = "hub"


def _settings(tmp_path: Path, url: str) -> dict[str, str]:
    """The hub's environment: the seeded database, no MLflow store (the notebooks must say so, not fail), a model
    writer (so composer tips are fallbacks) and the operator."""
    return {
        "OO_DATABASE_URL": url,
        "OO_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'no-mlflow-here.db'}",
        "OO_MLFLOW_UI_URL": MLFLOW_UI_URL,
        "OO_LLM_ALIASES": json.dumps(MODEL_ALIASES),
        "OO_HUB_OPERATOR": OPERATOR,
        "OO_HUB_NOTEBOOK_LINKS": "file",
    }


@pytest.fixture
def hub_url(sqlite_url: str, tmp_path: Path, configure: Callable[..., None]) -> str:
    url = sqlite_url
    seed(url)
    configure(**_settings(tmp_path, url))
    return url


def run(notebook: str, **defs: Any) -> tuple[str, Mapping[str, Any]]:
    """Run ``admin_notebooks/<notebook>.py`` at the seed's NOW with ``defs`` overriding its cells: the text of its
    outputs (HTML unescaped, table data included) and its definitions."""
    app = importlib.import_module(f"admin_notebooks.{notebook}").app
    outputs, definitions = app.run(defs={"now": NOW, **defs})
    text = "\n".join(html.unescape(html.unescape(getattr(output, "text", "") or "")) for output in outputs)
    return text, definitions


def _audit(url: str) -> list[AuditEvent]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))
    finally:
        engine.dispose()


def test_hub_shows_the_kpis_and_links_to_every_notebook_and_to_mlflow(hub_url: str) -> None:
    text, defs = run("hub")
    stats = defs["stats"]
    assert (stats.persons, stats.active_today, stats.tips, stats.tips_today) == (3, 2, 6, 3)
    assert (stats.agent_errors_today, stats.fallbacks_today, stats.fallbacks) == (1, 1, 3)
    assert "active today" in text
    assert "LLM fallbacks today" in text
    assert SEEDED_TEXT in text
    assert "ada@example.com" in text
    for name in navigation.NOTEBOOKS:
        assert f'href="?file={name}.py"' in text, f"no link to {name}.py in the hub"
    assert f'href="{MLFLOW_UI_URL}/#/experiments"' in text
    assert f'href="{MLFLOW_UI_URL}/#/prompts"' in text
    assert "no MLflow store" in text, "a missing store is said, not a failure"


def test_agent_health_shows_freshness_errors_and_who_waits(hub_url: str) -> None:
    text, defs = run("agent_health")
    freshness = defs["freshness"].set_index("agent")
    assert freshness.loc["time-of-day", "freshness"] == pytest.approx(0.5)
    assert defs["run_stats"].set_index("agent").loc["time-of-day", "errors"] == 1
    assert "ValueError: boom" in text
    assert "bob@example.com" in text
    assert "5 of 8" in text, "five agents meet the SLA (mood and calendar, which nobody here allows, among them)"


def test_tips_shows_the_log_and_acceptance_and_follows_the_filters(hub_url: str) -> None:
    text, defs = run("tips")
    assert len(defs["log"]) == 6, "the default window (30 days to now) holds every shown tip"
    assert SEEDED_TEXT in text
    assert defs["accepted"].set_index("agents").loc["time-of-day", "accepted"] == 2
    text, defs = run("tips", filters=tip_queries.TipFilters(person="bob"), by="model")
    assert defs["log"]["text"].tolist() == ["c", "d", "e"]
    accepted = defs["accepted"].set_index("model")
    assert accepted["shown"].to_dict() == {"ollama_chat/qwen2.5:1.5b": 2, "oo-rules/composer": 1}
    assert SEEDED_TEXT not in text


def test_events_shows_the_week_and_follows_the_filters(hub_url: str) -> None:
    text, defs = run("events")
    assert defs["found"]["type"].tolist() == ["tip_done", "app_open", "tip_shown", "mood"]
    assert "cy@example.com" in text
    _text, defs = run("events", filters=event_queries.EventFilters(person="ada"))
    assert defs["found"]["type"].tolist() == ["tip_done", "app_open"]


def test_experiments_compares_the_candidate_and_says_there_is_no_benchmark_store(hub_url: str) -> None:
    text, defs = run("experiments")
    assert defs["comparisons"]["policy"].tolist() == ["terse-v1"]
    assert defs["promotion"] is None
    assert "no MLflow store" in text
    assert "1 shadow tips online, 20 needed" in text
    assert defs["offpolicy"].empty, "no seeded tip carries a propensity"
    assert "No logged tip with a propensity and a reaction yet" in text
    assert "no MLflow store" in defs["simulation"].message
    assert "oo simulate</code> run" in text, "the simulation section is shown"


def test_experiments_refuses_a_promotion_without_evidence(hub_url: str) -> None:
    text, defs = run("experiments", promotion_request={"policy": "terse-v1", "force": False})
    assert defs["promotion"] is None
    assert "cannot be promoted yet" in text
    assert _audit(hub_url) == []


def test_a_promotion_from_experiments_changes_the_incumbent_and_is_audited(hub_url: str) -> None:
    text, defs = run("experiments", promotion_request={"policy": "terse-v1", "force": True})
    assert defs["promotion"].name == "terse-v1"
    assert "is the incumbent now" in text
    roles = defs["policy_table"].set_index("name")["role"].to_dict()
    assert roles["terse-v1"] == "incumbent"
    assert roles["incumbent"] == "retired"
    [event] = _audit(hub_url)
    assert (event.actor, event.action, event.target) == (OPERATOR, "policy.promote", "policy:terse-v1")
    assert event.details["force"] is True
    assert defs["promotions"]["target"].tolist() == ["policy:terse-v1"]
    engine = make_engine(hub_url)
    with Session(engine) as session:
        assert session.get(Policy, "terse-v1").role == PolicyRole.incumbent
    engine.dispose()


def test_people_shows_a_person_and_never_a_token(hub_url: str) -> None:
    text, defs = run("people", who="ada@example.com")
    assert defs["card"].profile.person.email == "ada@example.com"
    assert "ada@example.com" in text
    assert SEEDED_TEXT in text
    assert "todoist" in text
    assert TOKEN not in text
    text, defs = run("people", who="nobody@example.com")
    assert defs["card"] is None
    assert "no person with the id or email" in text


def test_people_shows_a_persons_signals_sync_state_mood_and_context(hub_url: str) -> None:
    engine = make_engine(hub_url)
    with Session(engine) as session:
        ada = session.exec(select(User).where(User.email == "ada@example.com")).one()
        todoist = session.exec(select(Integration).where(Integration.user_id == ada.id)).one()
        todoist.last_synced_at, todoist.consecutive_failures, todoist.last_error = NOW, 2, "429 Too Many Requests"
        session.add(Event(user_id=ada.id, type=EventType.mood, at=NOW - timedelta(hours=2), payload={"level": 1}))
        schedule = {"weekdays": ["fri"], "start": "09:00", "end": "17:00"}  # NOW is a Friday, 15:00 UTC
        session.add(Context(user_id=ada.id, name="office", schedules=[schedule]))
        session.commit()
    engine.dispose()

    text, defs = run("people", who="ada@example.com")

    assert "Signals (how each reaches their tips now)" in text
    rows = defs["card"].signals.to_dict("records")
    shown = {row["signal"]: row["state"] for row in rows}
    assert shown == {"first run": "answered", "todoist": "connected", "mood": "low", "context": "office (work)"}
    for row in rows:
        assert row["state"] in text, f"the table shows the {row['signal']} signal's state"
        assert row["detail"] in text, f"the table shows the {row['signal']} signal's detail"
    assert "last synced 2026-11-20 15:00 UTC; 2 failures in a row, last: 429 Too Many Requests" in text
    assert "by schedule; 1 contexts, 1 weekly slots" in text


def test_a_recompute_from_people_runs_the_due_agents_and_is_audited(hub_url: str) -> None:
    text, defs = run("people", who="bob@example.com", recompute_requested=True)
    assert defs["recomputed"] == ["learner", "time-of-day"], "bob allows activity: the learner is due too"
    assert "Recomputed: learner, time-of-day" in text
    engine = make_engine(hub_url)
    with Session(engine) as session:
        bob = session.exec(select(User).where(User.email == "bob@example.com")).one()
    engine.dispose()
    [event] = _audit(hub_url)
    assert (event.actor, event.action, event.target) == (OPERATOR, "agents.recompute", f"person:{bob.id}")
    assert event.details == {"agents": ["learner", "time-of-day"], "outputs": 2}


@pytest.mark.parametrize("notebook", sorted(navigation.NOTEBOOKS))
def test_each_notebook_runs_as_a_script(
    notebook: str, sqlite_url: str, tmp_path: Path, configure: Callable[..., None]
) -> None:
    url = sqlite_url
    seed(url)
    script = NOTEBOOKS / f"{notebook}.py"
    if notebook == SCRIPT_IN_ITS_OWN_PROCESS:
        env = {**os.environ, **_settings(tmp_path, url)}
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=180)
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        configure(**_settings(tmp_path, url))
        runpy.run_path(str(script), run_name="__main__")  # a failing cell raises, as it fails the script


def test_the_hub_exports_to_html_with_the_seeded_figures(sqlite_url: str, tmp_path: Path) -> None:
    url = sqlite_url
    seed(url)
    out = tmp_path / "hub.html"
    env = {**os.environ, **_settings(tmp_path, url)}
    result = subprocess.run(
        [MARIMO, "export", "html", str(NOTEBOOKS / "hub.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    exported = out.read_text()
    assert SEEDED_TEXT in exported
    assert "ada@example.com" in exported
    assert MLFLOW_UI_URL in exported, "the hub links out to the MLflow UI"


def test_marimo_check_is_clean() -> None:
    result = subprocess.run([MARIMO, "check", str(NOTEBOOKS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
