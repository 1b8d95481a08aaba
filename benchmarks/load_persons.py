"""The load test's persons in the database: a fresh PostgreSQL database per run, seeded persons with open sessions
and the agent outputs a running deployment would hold, and afterwards what the database says they did (reactions per
person, tips per writer). Used by ``benchmarks/load.py``, ``tests/test_load.py`` and ``tests/test_workers.py``; it
writes only to the database it is given (or creates), never to ``data/oo.db``.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from oo_app import db, settings
from oo_app.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for, start_session
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.llm.router import get_router
from oo_app.models import Event, Tip, User

PG_ADMIN_URL = os.environ.get("OO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REACTION_EVENTS = {"tip_done": "done", "tip_dismissed": "dismissed"}


# --- the database --------------------------------------------------------------------------------------------------


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the local PostgreSQL server for one run, dropped afterwards; its URL."""
    name = f"oo_load_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def configure_for(database_url: str, secret_key: str) -> None:
    """Points this process's settings at the run's database and secret (the CSRF tokens of the sessions opened here
    must be the server's)."""
    os.environ.update(OO_DATABASE_URL=database_url, OO_SECRET_KEY=secret_key, OO_SCHEDULER_ENABLED="false")
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    get_router.cache_clear()


def every_consent() -> tuple[str, ...]:
    from agents.registry import registry

    return tuple(sorted({key for agent in registry().values() for key in agent.manifest.consents}))


def seed_persons(count: int, days: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """``count`` persons with ``days`` of synthetic history, every consent and an open session each, in the
    configured database; ``[{"id", "cookies"}]`` for the locust users."""
    now = now or datetime.now(UTC)
    consents = every_consent()
    persons = []
    with db.session_scope() as session:
        for index in range(count):
            user = User(email=f"person{index}@load.example", display_name=f"Person {index}", tz=Habits().tz)
            session.add(user)
            session.flush()
            grant_consents(session, user, consents)
            store_history(session, user, synthetic_history(Habits(), days=days, now=now, seed=index))
            token = start_session(session, user)
            persons.append({"id": user.id, "cookies": {SESSION_COOKIE: token, CSRF_COOKIE: csrf_token_for(token)}})
    return persons


def compute_agent_outputs() -> int:
    """What a scheduler round would have computed by now for everyone (the steady state of a running deployment);
    the number of outputs written."""
    from oo_app.tasks.scheduler import run_round

    return run_round()


# --- afterwards -----------------------------------------------------------------------------------------------------


def stored_reactions(database_url: str, person_ids: list[int], since: datetime) -> dict[int, list[tuple[int, str]]]:
    """Per person, every reaction stored since ``since`` as (tip id, reaction), in the order stored."""
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            events = session.exec(
                select(Event)
                .where(
                    col(Event.user_id).in_(person_ids),
                    col(Event.type).in_(list(REACTION_EVENTS)),
                    Event.at >= since,
                )
                .order_by(col(Event.id))
            ).all()
    finally:
        engine.dispose()
    stored: dict[int, list[tuple[int, str]]] = {person: [] for person in person_ids}
    for event in events:
        stored[event.user_id].append(((event.payload or {}).get("tip_id"), REACTION_EVENTS[event.type]))
    return stored


def reactions_match(acknowledged: list[Any], unconfirmed: list[Any], stored: list[Any]) -> bool:
    """Every acknowledged reaction is stored exactly once, and nothing is stored that the person did not send (a
    reaction sent without a confirmed answer, failed or cut off by the load generator's stop, may or may not have
    reached the server)."""
    return Counter(acknowledged) <= Counter(stored) <= Counter(acknowledged) + Counter(unconfirmed)


def tips_by_writer(database_url: str, since: datetime) -> Counter[str]:
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            models = session.exec(select(Tip.model).where(Tip.created_at >= since, col(Tip.shadow).is_(False))).all()
    finally:
        engine.dispose()
    return Counter(models)


def tips_written_ahead(database_url: str, since: datetime) -> Counter[str]:
    """The tips written during the run by how they reached the screen: ``taken`` (written ahead, then shown after a
    reaction), ``never shown`` (written ahead, not taken: the person answered before it was ready, or it went stale),
    ``written when asked`` (shown without being written ahead: a reaction that found none ready, the API, a page
    opened)."""
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Tip.follows, Tip.shown_at).where(Tip.created_at >= since, col(Tip.shadow).is_(False))
            ).all()
    finally:
        engine.dispose()
    return Counter(
        ("taken" if shown is not None else "never shown") if follows is not None else "written when asked"
        for follows, shown in rows
    )
