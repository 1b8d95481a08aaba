"""The agents of one tip computed together (:func:`agents.runner.compute_outputs`): the outputs and runs each agent
alone would write, in one write; a slot another worker wrote meanwhile keeps that worker's output while the others
are still written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents import runner
from agents.base import Agent
from agents.eligibility import eligible_agents
from oo_app.models import AgentOutput, AgentRun, PrefSource, User, UserPreference
from tests.conftest import NOW
from tests.test_profile_helpers import make_person


@contextmanager
def savepoints(session: Session) -> Iterator[list[str]]:
    """The savepoints the session's database opened inside the block."""
    opened: list[str] = []

    def seen(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SAVEPOINT"):
            opened.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        yield opened
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


def _written(outputs: list[AgentOutput | None]) -> list[tuple[Any, ...]]:
    return [
        (o.agent_id, o.job_key, o.snippet, o.data, o.computed_at, o.expires_at) if o is not None else None
        for o in outputs
    ]


def _runs(session: Session) -> list[tuple[str, str]]:
    return [tuple(row) for row in session.exec(select(AgentRun.agent_id, AgentRun.status).order_by(col(AgentRun.id)))]


def test_the_agents_of_a_tip_write_in_one_go_what_each_alone_would(session: Session, demo_user: User) -> None:
    agents = eligible_agents(session, demo_user.id, NOW)
    assert len(agents) > 3
    with savepoints(session) as opened:
        together = runner.compute_outputs(session, demo_user, agents, NOW)
    assert len(opened) == 1, "one write for all the agents"
    written, runs = _written(together), _runs(session)
    again = runner.compute_outputs(session, demo_user, agents, NOW)
    assert [o.id for o in again] == [o.id for o in together], "a slot already written is read, never written twice"
    assert len(_runs(session)) == len(runs)
    session.rollback()

    with savepoints(session) as opened:
        alone = [runner.compute_output(session, demo_user, agent, NOW) for agent in agents]
    assert len(opened) == len(agents)
    assert None not in written
    assert written == _written(alone), "the outputs each agent alone writes, in the same order"
    assert runs == _runs(session) == [(agent.manifest.id, "ok") for agent in agents]


def test_a_failing_agent_records_its_run_and_the_others_are_written(session: Session, demo_user: User) -> None:
    def fails(*args: Any) -> Any:
        raise ValueError("a planted failure")

    agents = eligible_agents(session, demo_user.id, NOW)
    broken = agents[1] = dataclasses.replace(agents[1], compute=fails)
    outputs = runner.compute_outputs(session, demo_user, agents, NOW)
    assert outputs[1] is None
    assert None not in outputs[:1] + outputs[2:]
    failed = session.exec(select(AgentRun).where(AgentRun.status == "error")).all()
    assert [(run.agent_id, run.error) for run in failed] == [(broken.manifest.id, "ValueError: a planted failure")]


def test_the_values_a_person_set_win_and_are_never_overwritten(session: Session, demo_user: User) -> None:
    session.add(
        UserPreference(user_id=demo_user.id, scope="time-of-day", key="preferred_hour", value=3, source=PrefSource.user)
    )
    session.flush()
    outputs = runner.compute_outputs(session, demo_user, eligible_agents(session, demo_user.id, NOW), NOW)
    time_of_day = next(output for output in outputs if output is not None and output.agent_id == "time-of-day")
    assert time_of_day.data["preferred_hour"] == 3, "the person's own value, not the inferred one"
    own = session.exec(
        select(UserPreference).where(UserPreference.user_id == demo_user.id, UserPreference.key == "preferred_hour")
    ).one()
    assert (own.value, own.source) == (3, PrefSource.user)
    inferred = session.exec(
        select(UserPreference.key).where(
            UserPreference.user_id == demo_user.id,
            UserPreference.scope == "time-of-day",
            UserPreference.source == PrefSource.inferred,
        )
    ).all()
    assert sorted(inferred) == ["peak_hours", "quiet_end", "quiet_start", "tz"], "the others inferred and stored"


def test_a_slot_another_worker_wrote_meanwhile_keeps_its_output_and_the_others_are_written(
    any_database: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = any_database
    person = make_person(session, "together@example.com")
    agents = eligible_agents(session, person.id, NOW)
    first: Agent = agents[0]
    computed_alone = runner._computed_alone

    def another_worker_writes_the_first(db: Session, user: User, agent: Agent, now: Any, *own: Any) -> runner.Computed:
        if agent is first:
            with Session(db.get_bind()) as other:
                other.add(
                    AgentOutput(
                        user_id=user.id,
                        agent_id=agent.manifest.id,
                        agent_version=agent.manifest.version,
                        job_key=runner.job_key(user.id, agent, now),
                        snippet="written by another worker",
                        data={},
                        computed_at=now,
                        expires_at=now + agent.manifest.ttl,
                    )
                )
                other.commit()
        return computed_alone(db, user, agent, now, *own)

    monkeypatch.setattr(runner, "_computed_alone", another_worker_writes_the_first)
    outputs = runner.compute_outputs(session, person, agents, NOW)
    session.commit()

    assert None not in outputs
    assert outputs[0].snippet == "written by another worker"
    stored = session.exec(select(AgentOutput.agent_id).where(AgentOutput.user_id == person.id)).all()
    assert sorted(stored) == sorted(agent.manifest.id for agent in agents), "each slot written once"
