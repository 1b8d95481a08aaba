"""The recommender always answers with a logged tip: from the model when it keeps the contract, else the composer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agents import runner
from agents.registry import registry
from agents.runner import run_due
from oo_app.db import is_unavailable
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import AgentOutput, AgentRun, Event, Reaction, Tip, User
from oo_app.recommender import current_tip, react, recommend, refresh_tips, replacement_tip
from oo_app.recommender.prompts import CURRENT_VERSION, render
from oo_app.tasks.scheduler import run_round
from tests.conftest import NOW
from tests.test_profile_helpers import make_person


def _aliases(configure: Callable[..., None], deployment: dict) -> None:
    aliases = {"tip-generator": [deployment], "embedder": [{"model": LOCAL_EMBEDDING_MODEL}]}
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0", OO_LLM_TIMEOUT_S="3")


def test_tip_is_logged_with_the_agent_outputs_that_fed_it(session: Session, demo_user: User) -> None:
    tip = recommend(session, demo_user, NOW)
    outputs = session.exec(select(AgentOutput).where(AgentOutput.user_id == demo_user.id)).all()
    assert {o.agent_id for o in outputs} == set(registry()), "every consented agent fed the tip"
    assert sorted(tip.sources, key=lambda s: s["output_id"]) == [
        {"agent_id": o.agent_id, "agent_version": o.agent_version, "output_id": o.id}
        for o in sorted(outputs, key=lambda o: o.id)
    ]
    assert tip.text
    assert len(tip.text) <= 140
    assert (tip.model, tip.model_alias, tip.prompt_version) == (COMPOSER_MODEL, "tip-generator", CURRENT_VERSION)


def test_a_model_that_keeps_the_contract_writes_the_tip(session: Session, demo_user: User, configure) -> None:
    answer = {"text": "Your peak hour is near: block it for the report.", "kind": "todo"}
    _aliases(configure, {"model": "openai/gpt-4o-mini", "mock_response": json.dumps(answer), "api_key": "test"})
    tip = recommend(session, demo_user, NOW)
    assert (tip.text, tip.kind) == (answer["text"], "todo")
    assert tip.model != COMPOSER_MODEL
    assert "gpt-4o-mini" in tip.model


@pytest.mark.parametrize(
    "deployment",
    [
        {"model": "openai/oo-down", "api_base": "http://127.0.0.1:9/v1", "api_key": "test"},
        {"model": "openai/oo-limited", "mock_response": "litellm.RateLimitError", "api_key": "test"},
        {"model": "openai/oo-garbage", "mock_response": "Sure! Here is a tip: drink water", "api_key": "test"},
        {"model": "openai/oo-long", "mock_response": json.dumps({"text": "x" * 141}), "api_key": "test"},
        {"model": "openai/oo-liar", "mock_response": json.dumps({"text": "Give the 12 Tax tasks a due date."})},
    ],
    ids=["server-down", "rate-limited", "not-json", "too-long", "invents-facts"],
)
def test_a_failing_model_yields_the_composer_tip_never_a_blank(
    session: Session, demo_user: User, configure, deployment: dict
) -> None:
    _aliases(configure, deployment)
    tip = recommend(session, demo_user, NOW)
    assert tip.model == COMPOSER_MODEL
    assert tip.text.strip()
    assert tip.id is not None


def test_a_model_repeating_a_recent_tip_is_overruled(session: Session, demo_user: User, configure) -> None:
    first = recommend(session, demo_user, NOW)
    _aliases(configure, {"model": "openai/parrot", "mock_response": json.dumps({"text": first.text}), "api_key": "t"})
    second = recommend(session, demo_user, NOW)
    assert second.model == COMPOSER_MODEL
    assert second.text != first.text


def test_the_prompt_lists_five_recent_tips_but_a_repeat_of_the_eighth_is_still_overruled(
    session: Session, demo_user: User, configure
) -> None:
    earlier = [recommend(session, demo_user, NOW + timedelta(minutes=i)).text for i in range(8)]
    prompt = render([], list(reversed(earlier)))
    assert [line for line in earlier if f"- {line}" in prompt] == earlier[3:], "only the newest five are listed"
    oldest = earlier[0]
    _aliases(configure, {"model": "openai/parrot", "mock_response": json.dumps({"text": oldest}), "api_key": "t"})
    tip = recommend(session, demo_user, NOW + timedelta(minutes=9))
    assert tip.model == COMPOSER_MODEL
    assert tip.text != oldest


def test_a_model_paraphrasing_a_recent_tip_is_overruled(session: Session, demo_user: User, configure) -> None:
    first = recommend(session, demo_user, NOW)
    paraphrase = "So: " + first.text.rstrip(".") + "!"  # not an exact repeat, the same tip
    _aliases(configure, {"model": "openai/echo", "mock_response": json.dumps({"text": paraphrase}), "api_key": "t"})
    second = recommend(session, demo_user, NOW)
    assert second.model == COMPOSER_MODEL
    assert second.text != first.text


def test_once_the_composer_has_shown_every_candidate_it_repeats_the_oldest_without_a_rejection(
    session: Session, demo_user: User, caplog
) -> None:
    shown = [recommend(session, demo_user, NOW + timedelta(minutes=i)).text for i in range(12)]
    distinct = list(dict.fromkeys(shown))
    assert len(distinct) < len(shown), "the demo person's facts give fewer than 12 composer candidates"
    first_repeat = next(i for i, text in enumerate(shown) if text in shown[:i])
    assert shown[:first_repeat] == distinct[:first_repeat], "no repeat while an unused candidate remains"
    assert shown[first_repeat] == shown[0], "then the tip shown longest ago comes back first"
    assert "answer rejected" not in caplog.text


def test_done_logs_the_reaction_and_the_next_tip_differs(session: Session, demo_user: User) -> None:
    seen = []
    for _ in range(4):
        tip = current_tip(session, demo_user, NOW)
        seen.append(tip.text)
        react(session, demo_user, tip.id, "done", NOW)
    assert len(set(seen)) == 4, seen
    events = session.exec(select(Event).where(Event.user_id == demo_user.id, Event.type == "tip_done", Event.at == NOW))
    assert sorted(e.payload["tip_id"] for e in events) == sorted(
        t.id for t in session.exec(select(Tip).where(Tip.reaction == "done"))
    )


@pytest.mark.parametrize("word", ["done", "snoozed", "dismissed", "liked", "disliked"])
def test_each_reaction_is_stored_as_its_word_and_logged_as_its_event(
    session: Session, demo_user: User, word: str
) -> None:
    tip = recommend(session, demo_user, NOW)
    react(session, demo_user, tip.id, word, NOW)
    session.expire_all()

    stored = session.exec(sa.text("SELECT reaction FROM tips WHERE id = :id"), params={"id": tip.id}).one()[0]
    assert stored == word, "the column keeps the plain word: no migration, old rows read the same"
    event = session.exec(select(Event).where(Event.user_id == demo_user.id, Event.at == NOW)).one()
    assert (event.type, event.payload["tip_id"]) == (f"tip_{word}", tip.id)
    assert Reaction(word).event_type == f"tip_{word}"


def test_reactions_are_validated_and_scoped_to_their_person(session: Session, demo_user: User) -> None:
    tip = recommend(session, demo_user, NOW)
    stranger = User(email="stranger@example.com")
    session.add(stranger)
    session.flush()
    with pytest.raises(NotFound):
        react(session, stranger, tip.id, "done")
    with pytest.raises(InvalidInput):
        react(session, demo_user, tip.id, "exploded")
    react(session, demo_user, tip.id, "snoozed")
    with pytest.raises(Conflict):
        react(session, demo_user, tip.id, "done")
    assert session.get(Tip, tip.id).reaction == "snoozed"


def test_a_database_failure_while_learning_from_a_reaction_reaches_the_caller_as_itself(
    session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The learner recomputes inside the reaction's transaction: a connection lost there is the database's failure
    (the API's 503, tried again later), never recorded as the agent's and never turned into a PendingRollbackError
    (a 500) by writing into the dead transaction."""
    tip = recommend(session, demo_user, NOW)
    session.commit()
    cut = ConnectionError("server closed the connection unexpectedly")
    lost = sa.exc.OperationalError("SELECT", {}, cut, connection_invalidated=True)  # as psycopg's dialect raises it

    def connection_lost(*_args: object, **_kwargs: object) -> None:
        raise lost

    monkeypatch.setattr("agents.runner.tip_outcomes_of", connection_lost)  # the learner reads only its answers
    with pytest.raises(sa.exc.OperationalError) as raised:
        react(session, demo_user, tip.id, "done", NOW + timedelta(minutes=1))
    assert raised.value is lost
    assert is_unavailable(raised.value), "the API answers it with 503 and Retry-After"
    session.rollback()
    assert session.get(Tip, tip.id).reaction is None, "the reaction was not half-written"
    assert not session.exec(select(AgentRun).where(AgentRun.status == "error")).all(), "no agent failure recorded"


@pytest.mark.parametrize("provide", ["provide_prior", "provide_busy", "provide_open_tasks"])
def test_a_connection_lost_in_a_provider_reaches_the_caller_not_an_empty_answer(
    session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch, provide: str
) -> None:
    """A provider's own failure (Todoist, a calendar) gives an empty answer; the database's failure under it must not:
    swallowed, the next statement of the request raised PendingRollbackError, a 500 where the outage is a 503."""
    lost = sa.exc.OperationalError("SELECT", {}, ConnectionError("server closed the connection"), True)

    def provider(*_args: object) -> None:
        raise lost

    read = {"provide_prior": "prior_of", "provide_busy": "busy_of", "provide_open_tasks": "open_tasks_of"}[provide]
    monkeypatch.setattr(f"agents.runner._{provide.removeprefix('provide_')}_provider", provider)
    args = (session,) if read == "prior_of" else (session, demo_user.id)
    with pytest.raises(sa.exc.OperationalError) as raised:
        getattr(runner, read)(*args)
    assert raised.value is lost

    def failing(*_args: object) -> None:
        raise RuntimeError("the calendar server answered 502")

    monkeypatch.setattr(f"agents.runner._{provide.removeprefix('provide_')}_provider", failing)
    assert getattr(runner, read)(*args) == (), "a provider's own failure is an empty answer"


def test_a_transaction_whose_connection_died_is_the_database_unavailable_and_other_pending_rollbacks_are_bugs() -> None:
    assert is_unavailable(
        sa.exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back", code="8s2b")
    )
    assert not is_unavailable(sa.exc.PendingRollbackError("rolled back due to a previous exception", code="7s2a"))


def test_scheduler_round_writes_outputs_and_a_fresher_tip_replaces_the_shown_one(
    session: Session, demo_user: User
) -> None:
    shown = recommend(session, demo_user, NOW - timedelta(hours=2))
    session.commit()
    refreshed: list[set[int]] = []
    assert run_round(refreshed.append) == len(registry())
    assert refreshed == [{demo_user.id}]
    newer = refresh_tips(session, {demo_user.id})
    assert len(newer) == 1
    assert newer[0].id != shown.id
    assert replacement_tip(session, demo_user, shown.id).id == newer[0].id
    assert replacement_tip(session, demo_user, newer[0].id) is None, "a fresh tip stands"


def test_two_answers_at_once_keep_the_first_and_refuse_the_second(any_database: Session) -> None:
    """A double tap, two devices, or the page beside a notification: the answers serialize on the tip's row."""
    user = make_person(any_database, "two-answers@example.com")
    run_due(any_database, NOW, [user.id])
    tip = recommend(any_database, user, NOW)
    any_database.commit()
    engine, start, outcomes = any_database.get_bind(), threading.Barrier(2), []

    def answer(word: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            person = session.get(User, user.id)
            start.wait()
            try:
                outcomes.append(react(session, person, tip.id, word, NOW).reaction)
                session.commit()
            except Conflict as error:
                session.rollback()
                outcomes.append(error)

    answers = [threading.Thread(target=answer, args=(word,)) for word in ("done", "dismissed")]
    for thread in answers:
        thread.start()
    for thread in answers:
        thread.join(timeout=60)

    recorded = [outcome for outcome in outcomes if isinstance(outcome, Reaction)]
    assert len(recorded) == 1, outcomes
    assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 1, outcomes
    any_database.expire_all()
    assert any_database.get(Tip, tip.id).reaction == recorded[0]
    events = any_database.exec(select(Event).where(Event.user_id == user.id)).all()
    assert [event.type for event in events if event.payload.get("tip_id") == tip.id] == [recorded[0].event_type]
