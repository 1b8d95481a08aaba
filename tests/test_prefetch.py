"""Tips written ahead: once a tip is shown its successor is written in the background, and answering the tip shows
that successor at once, while it is fresh; until then it is invisible everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from agents.rewards import GENERIC, LEARNER
from oo_app.api import api
from oo_app.hub import overview as overview_queries
from oo_app.models import AgentOutput, Tip, User
from oo_app.recommender import current_tip, feedback, mark_shown, next_tip, prefetch, react, replacement_tip
from oo_app.recommender.feedback import TIP_SHELF_LIFE, latest_tip
from oo_app.recommender.orchestrator import recent_tip_texts
from tests.auth_helpers import sign_in
from tests.conftest import NOW


@pytest.fixture
def ahead(configure: Callable[..., None]) -> None:
    configure(OO_PREPARE_NEXT_TIP="true")


def _tips(session: Session, user: User) -> list[Tip]:
    session.expire_all()
    return list(session.exec(select(Tip).where(Tip.user_id == user.id).order_by(Tip.id)))


def _show(session: Session, user: User, now=NOW) -> Tip:
    """What the page does: the current tip, marked shown, committed; then the background job runs."""
    tip = mark_shown(session, current_tip(session, user, now), now)
    session.commit()
    assert prefetch.drain(timeout=60)
    return tip


def test_showing_a_tip_writes_its_successor_which_waits_unseen(session: Session, demo_user: User, ahead: None) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    assert waiting is not None
    assert (waiting.follows, waiting.shown_at, waiting.reaction) == (shown.id, None, None)
    assert waiting.text != shown.text
    assert latest_tip(session, demo_user.id).id == shown.id
    assert current_tip(session, demo_user, NOW).id == shown.id, "a reload keeps the tip on screen"
    assert replacement_tip(session, demo_user, shown.id, NOW) is None, "an open page does not swap it in"
    assert waiting.text not in recent_tip_texts(session, demo_user.id), "prompts list only tips people saw"


def test_answering_shows_the_tip_written_ahead_without_writing_another(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = _show(session, demo_user)
    waiting_id = prefetch.waiting_successor(session, shown.id).id
    before = len(_tips(session, demo_user))
    answered = react(session, demo_user, shown.id, "dismissed", NOW + timedelta(minutes=1))
    following = mark_shown(session, next_tip(session, demo_user, answered, NOW + timedelta(minutes=1)))
    session.commit()
    assert following.id == waiting_id
    assert following.shown_at is not None
    assert len(_tips(session, demo_user)) == before, "no tip was written on the reaction's path"
    assert prefetch.drain(timeout=60)
    assert prefetch.waiting_successor(session, following.id) is not None, "and the next one is on its way"


def test_a_stale_tip_written_ahead_gives_way_to_a_fresh_one(session: Session, demo_user: User, ahead: None) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    late = waiting.created_at + TIP_SHELF_LIFE + timedelta(minutes=1)  # the job wrote it on the wall clock
    answered = react(session, demo_user, shown.id, "done", late)
    following = next_tip(session, demo_user, answered, late)
    assert following.id != waiting.id
    assert following.follows is None
    assert prefetch.waiting_successor(session, shown.id).shown_at is None, "the stale one is never shown"


def test_news_from_the_agents_makes_the_tip_written_ahead_stale(session: Session, demo_user: User, ahead: None) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    output = session.exec(select(AgentOutput).where(AgentOutput.user_id == demo_user.id)).first()
    output.computed_at = waiting.created_at + timedelta(seconds=1)
    session.add(output)
    session.flush()
    answered = react(session, demo_user, shown.id, "done", NOW + timedelta(minutes=2))
    assert next_tip(session, demo_user, answered, NOW + timedelta(minutes=2)).id != waiting.id


def test_switched_off_nothing_is_written_ahead(session: Session, demo_user: User, configure) -> None:
    configure(OO_PREPARE_NEXT_TIP="false")
    shown = _show(session, demo_user)
    assert prefetch.waiting_successor(session, shown.id) is None
    assert len(_tips(session, demo_user)) == 1


def test_a_tip_is_written_ahead_once_however_often_it_is_asked(session: Session, demo_user: User, ahead) -> None:
    shown = _show(session, demo_user)
    assert prefetch.write_ahead(session, shown.id) is None
    assert session.exec(select(func.count()).select_from(Tip).where(Tip.follows == shown.id)).one() == 1


def test_the_hub_counts_only_tips_people_were_given(
    session: Session, demo_user: User, engine: Engine, ahead: None
) -> None:
    _show(session, demo_user)
    assert len(_tips(session, demo_user)) == 2
    assert overview_queries.overview(engine, now=NOW).tips == 1


def test_the_reaction_route_answers_with_the_tip_written_ahead(session: Session, demo_user: User, ahead: None) -> None:
    client = TestClient(api, raise_server_exceptions=False)
    sign_in(client, session, demo_user)
    first = client.post("/api/recommend").json()["tip"]
    assert prefetch.drain(timeout=60)
    waiting = prefetch.waiting_successor(session, first["id"])
    answer = client.post(f"/api/tips/{first['id']}/reaction", json={"reaction": "dismissed"})
    assert answer.status_code == 200
    assert answer.json()["next"]["id"] == waiting.id


def test_answering_before_the_tip_written_ahead_is_ready_never_waits_on_the_model(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = mark_shown(session, current_tip(session, demo_user, NOW), NOW)
    session.flush()  # not committed: no tip is being written ahead yet, as when the person answers at once
    answered = react(session, demo_user, shown.id, "dismissed", NOW + timedelta(seconds=2))
    following = next_tip(session, demo_user, answered, NOW + timedelta(seconds=2))
    assert following.model_alias == "tip-generator-fallback", "the composer wrote it, by design"
    assert following.policy == shown.policy
    session.commit()
    assert prefetch.drain(timeout=60)
    overview = overview_queries.overview(session.get_bind(), now=NOW)
    assert (overview.tips, overview.fallbacks) == (2, 0), "by design: not counted as a model failure"


def test_a_tip_written_ahead_is_not_taken_once_the_same_words_were_shown_meanwhile(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    # The person was given the same words meanwhile (the composer writes the same tip from the same facts).
    meanwhile = Tip(
        user_id=demo_user.id,
        text=waiting.text,
        prompt_version=shown.prompt_version,
        model_alias="tip-generator-fallback",
        model=shown.model,
        policy=shown.policy,
        created_at=NOW,
        shown_at=NOW,
    )
    session.add(meanwhile)
    session.flush()
    answered = react(session, demo_user, shown.id, "done", NOW + timedelta(minutes=1))

    following = next_tip(session, demo_user, answered, NOW + timedelta(minutes=1))

    assert following.id != waiting.id
    assert following.text != waiting.text


# --- the learner and the reaction's path ---------------------------------------------------------------------------


def _learned_from(session: Session, answered: Tip) -> AgentOutput | None:
    """The learner's output computed for the reaction to ``answered``, if it was."""
    session.expire_all()
    query = select(AgentOutput).where(
        AgentOutput.agent_id == LEARNER, col(AgentOutput.job_key).endswith(f"+tip{answered.id}")
    )
    return session.exec(query).first()


def _answers_to(output: AgentOutput, lead: str | None) -> int:
    return int(output.data.get("seen", {}).get(lead or GENERIC, {}).get("reactions", 0))


def _lead_other_than(lead: str | None) -> str:
    return "momentum" if lead != "momentum" else "focus-area"


def test_the_learner_reads_a_reaction_off_its_path_before_the_tip_after_next_is_written(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    waiting.lead_agent = _lead_other_than(shown.lead_agent)  # its "why this tip?" does not count this answer
    session.add(waiting)
    session.commit()
    later = datetime.now(UTC)  # the jobs write on the wall clock: the tip after next reads the newest learner output

    answered = react(session, demo_user, shown.id, "done", later)
    following = mark_shown(session, next_tip(session, demo_user, answered, later), later)
    assert following.id == waiting.id
    assert _learned_from(session, answered) is None, "not on the reaction's path"
    session.commit()
    assert prefetch.drain(timeout=60)

    learned = _learned_from(session, answered)
    assert learned is not None, "read once the reaction was committed"
    assert _answers_to(learned, shown.lead_agent) >= 1
    after_next = prefetch.waiting_successor(session, following.id)
    assert after_next is not None
    assert learned.id in {source["output_id"] for source in after_next.sources}, "the tip after next reads it"


def test_a_tip_taken_with_the_answered_tips_lead_counts_the_answer_in_its_why(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = _show(session, demo_user)
    waiting = prefetch.waiting_successor(session, shown.id)
    waiting.lead_agent = shown.lead_agent
    session.add(waiting)
    session.commit()
    later = NOW + timedelta(minutes=1)

    answered = react(session, demo_user, shown.id, "done", later)
    following = next_tip(session, demo_user, answered, later)

    assert following.id == waiting.id
    learned = _learned_from(session, answered)
    assert learned is not None, "read on the reaction's path"
    assert _answers_to(learned, shown.lead_agent) >= 1
    session.commit()
    assert prefetch.drain(timeout=60)
    runs = select(func.count()).where(AgentOutput.agent_id == LEARNER, col(AgentOutput.job_key) == learned.job_key)
    assert session.exec(runs).one() == 1, "and read once only"


def test_a_next_tip_written_on_the_reactions_path_reads_the_reaction(
    session: Session, demo_user: User, ahead: None
) -> None:
    shown = mark_shown(session, current_tip(session, demo_user, NOW), NOW)
    session.flush()  # nothing written ahead yet: the reaction's path writes the next tip

    answered = react(session, demo_user, shown.id, "done", NOW + timedelta(seconds=2))
    following = next_tip(session, demo_user, answered, NOW + timedelta(seconds=2))

    assert following.follows is None
    learned = _learned_from(session, answered)
    assert learned is not None
    assert learned.id in {source["output_id"] for source in following.sources}


def test_the_learner_after_a_reaction_writes_nothing_for_a_person_deleted_meanwhile(
    session: Session, demo_user: User, engine: Engine, ahead: None
) -> None:
    shown = _show(session, demo_user)
    outputs = session.exec(select(func.count()).select_from(AgentOutput)).one()

    feedback._learning_job(engine, demo_user.id + 1000, shown.id, NOW)  # no such person (any more)

    assert session.exec(select(func.count()).select_from(AgentOutput)).one() == outputs


def test_a_reaction_rolled_back_is_never_learned_from(session: Session, demo_user: User, ahead: None) -> None:
    shown = _show(session, demo_user)
    answered = react(session, demo_user, shown.id, "done", NOW + timedelta(minutes=1))
    session.rollback()
    session.commit()  # the same session goes on and commits other work
    assert prefetch.drain(timeout=60)
    assert _learned_from(session, answered) is None
