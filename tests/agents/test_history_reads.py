"""How often the runner reads a person's history: once per moment for the agents computed together, never for an
agent that reads none (the learner), and always afresh at the next moment or outside such a round."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agents import runner
from agents.base import AgentManifest, InferredParam
from agents.registry import get_agent
from oo_app.models import AgentOutput, Consent, Event, User
from oo_app.recommender.orchestrator import freshest_outputs
from tests.conftest import NOW


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The moments at which the runner read a person's history from the database."""
    done: list[object] = []
    read = runner._read_history

    def counted(session: Session, user: User, now: object) -> object:
        done.append(now)
        return read(session, user, now)

    monkeypatch.setattr(runner, "_read_history", counted)
    return done


def _snippets(outputs: list[AgentOutput]) -> dict[str, tuple[str, dict]]:
    return {output.agent_id: (output.snippet, output.data) for output in outputs}


def test_the_agents_of_one_tip_share_one_reading_of_the_history(
    session: Session, demo_user: User, reads: list[object]
) -> None:
    shared = freshest_outputs(session, demo_user, NOW)
    assert len(shared) > 3, "several agents were computed"
    assert reads == [NOW], "one reading for all of them"
    session.rollback()
    reads.clear()
    alone = [runner.compute_output(session, demo_user, get_agent(o.agent_id), NOW) for o in shared]
    assert _snippets(alone) == _snippets(shared), "the same outputs as each agent reading for itself"
    assert len(reads) == len([o for o in shared if get_agent(o.agent_id).manifest.reads_history])


def test_a_later_moment_or_a_call_outside_a_round_reads_the_history_afresh(session: Session, demo_user: User) -> None:
    later = NOW + timedelta(hours=1)
    with runner.one_history_per_moment():
        before = runner.load_history(session, demo_user, NOW)
        assert runner.load_history(session, demo_user, NOW) is before
        session.add(Event(user_id=demo_user.id, type="app_open", at=NOW + timedelta(minutes=30)))
        session.flush()
        assert len(runner.load_history(session, demo_user, later).events) == len(before.events) + 1
    session.add(Event(user_id=demo_user.id, type="app_open", at=later))
    session.flush()
    assert len(runner.load_history(session, demo_user, later).events) == len(before.events) + 2


def test_the_learner_computes_without_reading_the_history(
    session: Session, demo_user: User, reads: list[object]
) -> None:
    output = runner.compute_output(session, demo_user, get_agent("learner"), NOW)
    assert output is not None
    assert output.snippet
    assert reads == [], "the learner reads only the person's answers to tips"


def test_an_agent_that_reads_no_history_cannot_need_a_minimum_of_it() -> None:
    with pytest.raises(ValueError, match="reads no history"):
        AgentManifest(
            id="probe",
            version="1",
            description="",
            ttl=timedelta(hours=1),
            schedule=timedelta(hours=1),
            params=(InferredParam("x", 0, lambda history: 1, min_history=5),),
            reads_history=False,
        )


def test_a_moment_reads_each_persons_consents_once_and_a_call_outside_it_afresh(
    session: Session, demo_user: User
) -> None:
    other = User(email="other@example.com", display_name="other", tz="UTC")
    session.add(other)
    session.flush()
    session.add(Consent(user_id=other.id, key="calendar", granted=True))
    session.flush()
    seen: list[str] = []

    def consents_read(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM consents" in statement:
            seen.append(statement)

    sa.event.listen(session.get_bind(), "before_cursor_execute", consents_read)
    try:
        with runner.one_history_per_moment():
            answers = [runner._granted(session, demo_user.id, key) for key in ("mood", "calendar", "push")]
            assert answers == [True, True, False]
            assert [runner._granted(session, other.id, key) for key in ("mood", "calendar")] == [False, True]
    finally:
        sa.event.remove(session.get_bind(), "before_cursor_execute", consents_read)
    assert len(seen) == 2, "one read a person in the moment"

    mood = session.exec(select(Consent).where(Consent.user_id == demo_user.id, Consent.key == "mood")).one()
    mood.granted = False
    session.flush()
    assert not runner._granted(session, demo_user.id, "mood"), "outside a moment: read afresh"
