"""A round over many persons computes each agent for all of them at once, and stores what computing each person
alone stores: the same snippets, facts and inferred preferences, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from agents import batch, runner
from agents.registry import registry
from agents.runner import compute_output, run_due
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.models import AgentOutput, AgentRun, Event, User, UserPreference
from tests.conftest import NOW

ZONES = ("Europe/Berlin", "Asia/Kathmandu", "Pacific/Marquesas", "America/New_York")


def _persons(session: Session, count: int) -> list[User]:
    users = []
    for index in range(count):
        habits = Habits(tz=ZONES[index % len(ZONES)], preferred_hour=8 + index, completions_per_day=1.0 + index)
        user = User(email=f"p{index}@example.com", display_name=f"P{index}", tz=habits.tz)
        session.add(user)
        session.flush()
        store_history(session, user, synthetic_history(habits, days=30 + 20 * index, now=NOW, seed=index))
        session.add(Event(user_id=user.id, type="mood", at=NOW - timedelta(hours=index + 1), payload={"level": 1}))
        grant_consents(session, user)
        users.append(user)
    session.commit()
    return users


def test_a_round_computes_each_agent_once_for_all_its_persons(
    any_database: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = _persons(any_database, 4)
    together: list[tuple[str, int]] = []
    real = batch.compute_many

    def counted(agent, population, *args, **kwargs):  # type: ignore[no-untyped-def]
        together.append((agent.manifest.id, population.size))
        return real(agent, population, *args, **kwargs)

    monkeypatch.setattr(runner, "compute_many", counted)
    written = run_due(any_database, NOW)
    assert sorted(together) == sorted((agent_id, len(users)) for agent_id in registry()), together
    assert len(written) == len(users) * len(registry())


def test_a_round_stores_what_computing_each_person_alone_stores(any_database: Session) -> None:
    users = _persons(any_database, 4)
    in_round = {(o.user_id, o.agent_id): (o.snippet, o.data) for o in run_due(any_database, NOW)}
    inferred = {(p.user_id, p.scope, p.key): p.value for p in any_database.exec(select(UserPreference))}
    assert not any_database.exec(select(AgentRun).where(AgentRun.status != "ok")).first()
    for user in users:
        for agent in registry().values():
            alone = compute_output(any_database, user, agent, NOW, fresh_data="alone")
            assert alone is not None
            assert (alone.snippet, alone.data) == in_round[(user.id, agent.manifest.id)], agent.manifest.id
    again = {(p.user_id, p.scope, p.key): p.value for p in any_database.exec(select(UserPreference))}
    assert again == inferred
    assert any_database.exec(select(AgentOutput)).all()


def test_one_person_alone_takes_the_per_person_path(any_database: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    users = _persons(any_database, 2)
    monkeypatch.setattr(runner, "compute_many", lambda *args, **kwargs: pytest.fail("batch for one person"))
    assert {o.agent_id for o in run_due(any_database, NOW, [users[0].id])} == set(registry())
