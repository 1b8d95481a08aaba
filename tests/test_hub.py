"""The operator hub: its queries give the seeded figures on SQLite and PostgreSQL, and the notebook runs headless."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from oo_app import hub_queries
from oo_app.db import make_engine, migrate
from oo_app.models import Tip, User

NOTEBOOK = Path(__file__).resolve().parents[1] / "admin_notebooks" / "hub.py"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SEEDED_TEXT = "Seeded tip: close one open loop before 16:00."
MLFLOW_UI_URL = "http://mlflow.hub-test.example:5000"


def seed(url: str) -> None:
    """Two persons; five shown tips (three today) with known reactions, and one shadow tip that must not count."""
    engine = make_engine(url)
    with Session(engine) as session:
        ada, bob = User(email="ada@example.com"), User(email="bob@example.com")
        session.add_all([ada, bob])
        session.flush()

        def tip(user: User, text: str, at: datetime, reaction: str | None = None, shadow: bool = False) -> Tip:
            return Tip(
                user_id=user.id,
                text=text,
                prompt_version="orchestrator-v1",
                model_alias="tip-generator",
                model="oo-rules/composer",
                policy="incumbent",
                sources=[{"agent_id": "time-of-day", "agent_version": "1.0.0", "output_id": 1}],
                created_at=at,
                reaction=reaction,
                shadow=shadow,
            )

        session.add_all(
            [
                tip(ada, SEEDED_TEXT, NOW - timedelta(hours=1), "done"),
                tip(ada, "b", NOW - timedelta(hours=2), "snoozed"),
                tip(bob, "c", NOW - timedelta(hours=3)),
                tip(bob, "d", NOW - timedelta(days=1), "done"),
                tip(bob, "e", NOW - timedelta(days=2), "dismissed"),
                tip(bob, "shadow", NOW - timedelta(minutes=90), shadow=True),
            ]
        )
        session.commit()
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated and seeded database: a SQLite file, or a throwaway PostgreSQL database (skipped if down)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    migrate(url)
    seed(url)
    return url


@pytest.fixture
def hub_engine(seeded_url: str) -> Iterator[Engine]:
    engine = make_engine(seeded_url)
    yield engine
    engine.dispose()


def test_overview_counts_seeded_persons_tips_and_reactions(hub_engine: Engine) -> None:
    stats = hub_queries.overview(hub_engine, now=NOW)
    assert (stats.persons, stats.tips, stats.tips_today) == (2, 5, 3)
    assert stats.reactions == {"done": 2, "snoozed": 1, "dismissed": 1}
    assert stats.reaction_rate == pytest.approx(4 / 5)
    assert stats.done_rate == pytest.approx(2 / 5)


def test_tips_per_day_has_every_day_and_the_reaction_split(hub_engine: Engine) -> None:
    frame = hub_queries.tips_per_day(hub_engine, days=7, now=NOW)
    assert len(frame) == 7
    by_day = frame.set_index("date")
    today, yesterday = NOW.date(), (NOW - timedelta(days=1)).date()
    assert by_day.loc[today, ["tips", "done", "snoozed", hub_queries.NO_REACTION]].tolist() == [3, 1, 1, 1]
    assert by_day.loc[yesterday, ["tips", "done"]].tolist() == [1, 1]
    assert int(frame["tips"].sum()) == 5


def test_recent_tips_lists_newest_first_with_person_and_agents(hub_engine: Engine) -> None:
    frame = hub_queries.recent_tips(hub_engine, limit=3)
    assert frame["text"].tolist() == [SEEDED_TEXT, "shadow", "b"]
    assert frame["shadow"].tolist() == [False, True, False]
    assert frame.loc[0, "person"] == "ada@example.com"
    assert frame.loc[0, "agents"] == "time-of-day"
    assert frame.loc[0, "reaction"] == "done"


def test_hub_queries_never_select_a_token_column(hub_engine: Engine) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(hub_engine, "before_cursor_execute", record)
    hub_queries.overview(hub_engine, now=NOW)
    hub_queries.tips_per_day(hub_engine, now=NOW)
    hub_queries.recent_tips(hub_engine)
    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 6, statements
    assert not [statement for statement in selects if "token" in statement.lower()]


def test_notebook_runs_headless_over_the_seeded_database(seeded_url: str, configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL=seeded_url)
    from admin_notebooks.hub import app

    _outputs, defs = app.run()
    assert defs["stats"].persons == 2
    assert SEEDED_TEXT in defs["tips"]["text"].tolist()


def test_notebook_exports_to_html_with_the_seeded_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'export.db'}"
    migrate(url)
    seed(url)
    out = tmp_path / "hub.html"
    marimo = str(Path(sys.executable).with_name("marimo"))
    env = {**os.environ, "OO_DATABASE_URL": url, "OO_MLFLOW_UI_URL": MLFLOW_UI_URL}
    result = subprocess.run(
        [marimo, "export", "html", str(NOTEBOOK), "-o", str(out)], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    html = out.read_text()
    assert SEEDED_TEXT in html
    assert "ada@example.com" in html
    assert MLFLOW_UI_URL in html, "the hub links out to the MLflow UI"


def test_marimo_check_is_clean() -> None:
    marimo = str(Path(sys.executable).with_name("marimo"))
    result = subprocess.run([marimo, "check", str(NOTEBOOK)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
