"""How the simulation runs, apart from what it measures: its tips are written by the composer and never traced
whatever the settings say, the settings are as they were afterwards, and its temporary database spares the disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from oo_app import tracking
from oo_app.db import make_engine
from oo_app.evaluation import simulation
from oo_app.evaluation.simulation import simulate
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import Tip
from oo_app.settings import get_settings

PERSONA = Path(__file__).parent / "personas" / "persona-7-01.json"
MOCK_TIP = {"text": "Take a short walk.", "kind": "advice"}


def _models(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Tip.model)))
    finally:
        engine.dispose()


@pytest.fixture
def configured_writer(configure: Callable[..., None]) -> None:
    """A configured tip writer (a mocked hosted model) and per-tip tracing on, as a deployment may have them."""
    aliases = {
        "tip-generator": [{"model": "openai/gpt-4o-mini", "mock_response": json.dumps(MOCK_TIP), "api_key": "test"}],
        "embedder": [{"model": LOCAL_EMBEDDING_MODEL}],
    }
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0", OO_TRACING_ENABLED="true")


def _no_traces(*args: object, **kwargs: object) -> None:
    raise AssertionError("the simulation traced a tip")


@pytest.mark.usefixtures("configured_writer")
def test_the_rules_writer_writes_every_tip_untraced_whatever_the_settings_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "traced_generation", _no_traces)
    url = f"sqlite:///{tmp_path / 'simulation.db'}"
    simulate([PERSONA], days=1, database_url=url)
    models = _models(url)
    assert models, "tips were written"
    assert set(models) == {COMPOSER_MODEL}, "the rules writer: the composer alone"
    settings = get_settings()
    assert settings.tracing_enabled, "the settings are restored after the run"
    assert "gpt-4o-mini" in json.dumps(settings.llm_aliases), "and so is the configured writer"


@pytest.mark.usefixtures("configured_writer")
def test_the_configured_writer_is_the_configured_one_and_still_untraced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "traced_generation", _no_traces)
    url = f"sqlite:///{tmp_path / 'simulation.db'}"
    simulate([PERSONA], days=1, database_url=url, writer="configured")
    assert any("gpt-4o-mini" in model for model in _models(url)), "the configured model wrote the first tips"
    assert get_settings().tracing_enabled


def test_an_unknown_writer_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown writer"):
        simulate([PERSONA], days=1, writer="oracle")


def _pragmas(engine: Engine) -> tuple[int, str]:
    with engine.connect() as connection:
        synchronous = connection.execute(text("PRAGMA synchronous")).scalar_one()
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
    return synchronous, journal


def test_the_temporary_database_spares_the_disk_and_a_kept_one_keeps_its_durability(tmp_path: Path) -> None:
    with simulation._database(None) as engine:
        assert _pragmas(engine) == (0, "memory"), "synchronous=OFF, journal in memory: the file is thrown away"
    with simulation._database(f"sqlite:///{tmp_path / 'kept.db'}") as engine:
        synchronous, journal = _pragmas(engine)
    assert (synchronous > 0, journal) == (True, "wal"), "a database the caller keeps is written as the app writes"
