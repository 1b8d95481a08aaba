"""A person's tips and agent outputs are looked up with their id: nobody reacts to, sees or is shown another person's
tip or agent output by naming its id, not through the API, not through the page's handler, and not through ids a
tip's sources carry (an id a deleted person's row once had, on a database that reused it). Real rows, real sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agents.registry import registry
from agents.runner import compute_output, job_key
from oo_app.errors import NotFound
from oo_app.models import AgentOutput, Event, Tip, User
from oo_app.recommender import react, recommend
from oo_app.recommender.orchestrator import good_examples
from oo_app.recommender.shadow import inputs_of
from oo_app.state.tip import _react_and_next
from tests.auth_helpers import session_cookies
from tests.conftest import NOW
from tests.test_profile_helpers import signed_in

OTHERS_SNIPPET = "Their divorce hearing is at 15:00 on Friday."


@pytest.fixture
def other(session: Session) -> User:
    """A second person, with one agent output of their own."""
    person = User(email="bea@example.com", display_name="Bea", tz="Europe/Berlin")
    session.add(person)
    session.flush()
    session.add(
        AgentOutput(
            user_id=person.id,
            agent_id="time-of-day",
            agent_version="1.0.0",
            job_key=f"{person.id}:time-of-day@1.0.0:1",
            snippet=OTHERS_SNIPPET,
            computed_at=NOW,
            expires_at=NOW + timedelta(days=1),
        )
    )
    session.commit()
    return person


def _others_output(session: Session, other: User) -> AgentOutput:
    return session.exec(select(AgentOutput).where(AgentOutput.user_id == other.id)).one()


def _events(session: Session) -> list[tuple[int, str]]:
    session.commit()
    return [(event.user_id, event.type) for event in session.exec(select(Event).order_by(Event.id))]


def _answered(session: Session, tip_id: int) -> str | None:
    session.commit()
    return session.exec(select(Tip.reaction).where(Tip.id == tip_id)).one()


# --- reactions ------------------------------------------------------------------------------------------------------


def test_reacting_to_another_persons_tip_through_the_api_is_a_404_and_changes_nothing(
    session: Session, demo_user: User, other: User
) -> None:
    tip = recommend(session, demo_user, NOW)
    session.commit()
    before = _events(session)

    with signed_in(other) as client:
        response = client.post(f"/api/tips/{tip.id}/reaction", json={"reaction": "done"})

    assert response.status_code == 404, response.text
    assert "no tip" in response.json()["error"]
    assert _answered(session, tip.id) is None
    assert _events(session) == before


def test_reacting_to_another_persons_tip_through_the_pages_handler_is_not_found_and_changes_nothing(
    session: Session, demo_user: User, other: User
) -> None:
    tip = recommend(session, demo_user, NOW)
    session.commit()
    before = _events(session)
    cookies = session_cookies(session, other)

    with pytest.raises(NotFound, match="no tip"):
        _react_and_next(cookies, tip.id, "done")

    assert _answered(session, tip.id) is None
    assert _events(session) == before


def test_a_shadow_tip_cannot_be_reacted_to_even_by_its_person(session: Session, demo_user: User) -> None:
    tip = recommend(session, demo_user, NOW)
    tip.shadow = True
    session.commit()

    with pytest.raises(NotFound):
        react(session, demo_user, tip.id, "done")


# --- ids in a tip's sources -----------------------------------------------------------------------------------------


def _tip_naming(session: Session, person: User, output: AgentOutput, reaction: str | None = None) -> Tip:
    """The person's tip, its sources also naming ``output`` (as a reused id would after a deletion)."""
    tip = recommend(session, person, NOW)
    tip.sources = [
        *tip.sources,
        {"agent_id": "borrowed", "agent_version": output.agent_version, "output_id": output.id},
    ]
    tip.reaction, tip.shown_at = reaction, NOW
    session.add(tip)
    session.commit()
    return tip


def test_the_examples_of_good_tips_never_carry_another_persons_snippet(
    session: Session, demo_user: User, other: User
) -> None:
    _tip_naming(session, demo_user, _others_output(session, other), reaction="liked")

    examples = good_examples(session, demo_user.id)

    assert examples, "the person's own liked tip is an example"
    assert all(OTHERS_SNIPPET not in example["facts"] for example in examples), examples


def test_a_shadow_is_written_only_from_its_persons_outputs(session: Session, demo_user: User, other: User) -> None:
    shown = _tip_naming(session, demo_user, _others_output(session, other))

    inputs = inputs_of(session, shown)

    assert inputs.outputs, "the person's own outputs stay"
    assert {output.user_id for output in inputs.outputs} == {demo_user.id}


def test_an_agent_slot_is_looked_up_with_its_person(
    session: Session, demo_user: User, other: User, configure: Callable[..., None]
) -> None:
    agent = registry()["time-of-day"]
    # Another person's row under this person's slot key: what an id reused after a deletion would leave behind.
    borrowed = _others_output(session, other)
    borrowed.job_key = job_key(demo_user.id, agent, NOW)
    session.add(borrowed)
    session.commit()

    try:
        output = compute_output(session, demo_user, agent, NOW)
    except sa.exc.SQLAlchemyError:  # the slot's key is taken: no output for this person, rather than another's
        session.rollback()
        output = None

    assert output is None or output.user_id == demo_user.id, "another person's output was returned as theirs"
