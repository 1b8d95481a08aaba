"""SQLite has one write lock: no work may hold it while it waits on the network or a model, or another writer (a
Todoist backfill, a scheduler round, a tap on the page) waits past its busy timeout and loses its work ("database is
locked"). Each test tries the lock from another connection, without waiting, at the moment the work is out: an agent
computing (an embedding may take seconds), the person's open tasks being fetched (focus-area and the tip read them).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from sqlmodel import Session, select

from agents.base import Agent, AgentManifest, InferredParam, Snippet
from agents.runner import compute_output
from oo_app.models import User, UserPreference
from tests.conftest import NOW


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
