"""SQLite has one write lock: no work may hold it while it waits on the network or a model, or another writer (a
Todoist backfill, a scheduler round, a tap on the page) waits past its busy timeout and loses its work ("database is
locked"). Each test tries the lock from another connection, without waiting, at the moment the work is out: an agent
computing (an embedding may take seconds), the person's open tasks being fetched (focus-area and the tip read them).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents import runner
from agents.base import Agent, AgentManifest, InferredParam, OpenTask, Snippet
from agents.due import Due
from agents.registry import registry
from agents.runner import compute_output, run_due
from oo_app.auth.accounts import person_for_claims
from oo_app.db import SQLITE_BUSY_TIMEOUT_S
from oo_app.demo import grant_consents
from oo_app.integrations.oauth import IssuedTokens, save_connection, todoist_provider
from oo_app.integrations.todoist import sync
from oo_app.models import Event, EventType, User, UserPreference
from oo_app.profile.first_run import answer_first_run, first_tip
from oo_app.recommender import recommend
from oo_app.tasks.agent_jobs import _refresh
from oo_app.tasks.scheduler import run_round
from tests.conftest import NOW
from tests.fakes.todoist import FakeTodoist

PROBE = "zz-probe"


def lock_is_free(sqlite_url: str) -> bool:
    """Whether another connection could take the write lock of the database at ``sqlite_url`` right now."""
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise
        return False
    finally:
        other.close()


@pytest.fixture
def fetches(sqlite_url: str) -> Iterator[list[bool]]:
    """While wired, every fetch of open tasks tries the write lock first; yields whether it was free, fetch by fetch.
    The person has a task due nine days before NOW and one without a date."""
    free: list[bool] = []

    def fetch(user_id: int, session: Session) -> list[OpenTask]:
        free.append(lock_is_free(sqlite_url))
        return [OpenTask("Renew passport", "Admin", Due(NOW.date() - timedelta(days=9))), OpenTask("Buy milk", "")]

    wired = runner._open_tasks_provider
    runner.provide_open_tasks(fetch)
    yield free
    runner.provide_open_tasks(wired)


@pytest.fixture
def last_agent(sqlite_url: str) -> Iterator[list[bool]]:
    """An agent that reads tasks, registered after the others (so computed after they wrote): it tries the write lock
    while it computes. Yields whether the lock was free, compute by compute."""
    free: list[bool] = []

    def compute(history: object, params: object) -> Snippet:
        free.append(lock_is_free(sqlite_url))
        return Snippet("Probed.")

    hour = timedelta(hours=1)
    agents = registry()
    agents[PROBE] = Agent(AgentManifest(PROBE, "1.0.0", "", hour, hour, consents=("tasks",)), compute)
    yield free
    del agents[PROBE]


def test_an_agent_writes_what_it_inferred_only_after_it_computed(
    session: Session, demo_user: User, sqlite_url: str
) -> None:
    free: list[bool] = []

    def compute(history, params) -> Snippet:
        free.append(lock_is_free(sqlite_url))
        return Snippet(f"{params['hours']} hours.")

    manifest = AgentManifest(
        "probe", "1.0.0", "", timedelta(hours=1), timedelta(hours=1), params=(InferredParam("hours", 7, lambda h: 8),)
    )
    output = compute_output(session, demo_user, Agent(manifest, compute), NOW)
    session.commit()

    assert free == [True], "no write of the agent's is pending while it computes"
    assert output is not None
    assert output.snippet == "8 hours."
    stored = session.exec(select(UserPreference.value).where(UserPreference.scope == "probe")).all()
    assert stored == [8], "what it inferred is stored all the same"


def test_the_first_tip_holds_no_write_lock_while_it_waits_on_the_network(session: Session, fetches: list[bool]) -> None:
    claims = {"sub": "sub-eve", "email": "eve@example.com", "email_verified": True, "name": "Eve"}
    person = person_for_claims(session, "oidc", claims)
    answer_first_run(session, person, {"activity": True, "tasks": True}, now=NOW, zone="Europe/Paris")
    session.commit()

    first = first_tip(session, person, now=NOW)
    session.commit()

    assert "focus-area" in first.agents
    assert first.tip.text.startswith("'Renew passport' is 9 days overdue"), first.tip.text
    assert len(fetches) == 2, "focus-area's fetch and the tip's"
    assert all(fetches), f"the write lock was held while open tasks were fetched: {fetches}"


def test_a_writer_waits_for_the_lock_longer_than_another_holds_it(
    sqlite_url: str, engine: Engine, demo_user: User
) -> None:
    """Another writer holds the lock for 6 s (a cold agent compute did for 14); a write of the app waits, then lands."""
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    releases = threading.Timer(6, holder.commit)
    releases.start()
    try:
        with Session(engine) as session:
            session.add(Event(user_id=demo_user.id, type=EventType.app_open, at=NOW))
            session.commit()
    finally:
        releases.join()
        holder.close()
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == SQLITE_BUSY_TIMEOUT_S * 1000


def test_a_scheduler_round_holds_no_write_lock_while_an_agent_computes(demo_user: User, last_agent: list[bool]) -> None:
    assert run_round() > 1
    assert last_agent == [True], "the agents computed before it in the round were committed"


def test_the_agents_recomputed_after_a_todoist_sync_hold_no_write_lock_while_the_next_computes(
    configure: Callable[..., None], session: Session, demo_user: User, last_agent: list[bool]
) -> None:
    with FakeTodoist() as fake:
        configure(
            OO_TOKEN_KEYS=json.dumps([Fernet.generate_key().decode()]),
            OO_TODOIST_CLIENT_ID=fake.client_id,
            OO_TODOIST_CLIENT_SECRET=fake.client_secret,
            OO_TODOIST_OAUTH_URL=fake.oauth_url,
            OO_TODOIST_API_URL=fake.api_url,
        )
        fake.add_completed("Done thing", fake.add_project("Errands"), datetime.now(UTC) - timedelta(hours=3))
        issued = IssuedTokens(fake._issue("data:read").access_token, scope="data:read")
        save_connection(session, demo_user, todoist_provider(), issued)
        session.commit()

        report = sync(session, demo_user)

    assert PROBE in report.recomputed
    assert len(report.recomputed) > 1, "other agents that read tasks were computed before it"
    assert last_agent == [True]


def test_a_rounds_fresher_tips_hold_no_write_lock_while_they_wait_on_the_network(
    session: Session, demo_user: User, fetches: list[bool]
) -> None:
    """After a round, each person's stale tip is rewritten: one person's new tip is not pending while the next
    person's tip fetches their open tasks (or waits on its model)."""
    other = User(email="other@example.com", tz="Europe/Paris")
    session.add(other)
    session.flush()
    grant_consents(session, other)
    now = datetime.now(UTC)
    for person in (demo_user, other):
        recommend(session, person, now - timedelta(days=1))
    run_due(session, now)  # fresh outputs: the fresher tips compute none
    session.commit()
    fetches.clear()

    _refresh({demo_user.id, other.id})

    assert len(fetches) == 2, "one fetch for each person's fresher tip"
    assert all(fetches), f"the write lock was held while open tasks were fetched: {fetches}"


def test_a_tip_fetches_open_tasks_before_the_agents_it_computes_inline_write(
    session: Session, demo_user: User, fetches: list[bool]
) -> None:
    """With no fresh output, the tip computes its agents inline (they write): its own fetch of open tasks comes first,
    while nothing is pending, and a cached fetch then serves focus-area."""
    tip = recommend(session, demo_user, NOW)

    assert "focus-area" in tip.agent_ids, "agents were computed inline"
    assert fetches[0] is True, f"the write lock was held during the tip's own fetch: {fetches}"
