"""The learner agent reads how a person answered oO's tips: Beta posteriors per lead (the population prior plus their
rewards), in plain words in its snippet; a share the person sets by hand replaces what it learned."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from agents.base import TipOutcome, UserHistory
from agents.inference import run_inference
from agents.learner import AGENT, SET_BY_HAND, compute, infer_tastes
from agents.registry import registry
from agents.runner import HISTORY_DAYS, compute_output, tip_outcomes_of
from oo_app.models import Tip, User
from tests.conftest import NOW


def _outcome(minutes: int, lead: str | None, reaction: str, kind: str = "todo") -> TipOutcome:
    return TipOutcome(NOW - timedelta(minutes=minutes), lead, kind, reaction)


def _history(outcomes: list[TipOutcome], prior: tuple = ()) -> UserHistory:
    base = UserHistory.build([], [], "Europe/Berlin", NOW)
    return dataclasses.replace(base, tip_outcomes=tuple(outcomes), tip_prior=prior)


def _answers(lead: str | None, taken: int, other: int, other_reaction: str = "dismissed") -> list[TipOutcome]:
    return [_outcome(i, lead, "done") for i in range(taken)] + [
        _outcome(100 + i, lead, other_reaction) for i in range(other)
    ]


def test_the_learner_is_registered_behind_the_activity_consent_and_reads_tip_outcomes() -> None:
    assert registry()["learner"] is AGENT
    assert AGENT.manifest.consents == ("activity",)
    assert AGENT.manifest.tip_outcomes
    assert all(param.description for param in AGENT.manifest.params)


def test_with_no_reactions_anywhere_it_learns_nothing_and_says_so() -> None:
    history = _history([])
    values = run_inference(AGENT.manifest, history)
    assert values == {"tastes": {}}, "no tastes: the composer's order decides"
    snippet = compute(history, values)
    assert snippet.text == "No reactions to learn from yet."
    assert snippet.data["cold_start"] is True


def test_rewards_update_each_leads_beta_posterior_and_the_snippet_says_it_plainly() -> None:
    outcomes = [
        *_answers("momentum", 7, 2),
        *_answers("focus-area", 0, 5),
        *_answers(None, 1, 1, "snoozed"),
    ]
    tastes = infer_tastes(_history(outcomes))
    assert tastes["momentum"] == {"alpha": 8.0, "beta": 3.0}
    assert tastes["focus-area"] == {"alpha": 1.0, "beta": 6.0}
    assert tastes["generic"] == {"alpha": 2.25, "beta": 1.75}, "a snooze is worth a quarter"
    assert tastes["kind:todo"]["alpha"] == pytest.approx(1 + 7 + 1.25)
    snippet = compute(_history(outcomes), {"tastes": tastes})
    assert "Finishes most momentum tips (7 of 9)" in snippet.text
    assert "rarely takes up focus-area tips (0 of 5)" in snippet.text
    assert snippet.data["seen"]["momentum/todo"] == {"taken": 7, "reactions": 9}
    assert snippet.data["tastes"] == tastes


def test_a_new_person_starts_from_the_population_prior() -> None:
    prior = (("momentum", 4.0, 2.0), ("focus-area", 1.5, 5.5))
    tastes = infer_tastes(_history([], prior))
    assert tastes == {"focus-area": {"alpha": 1.5, "beta": 5.5}, "momentum": {"alpha": 4.0, "beta": 2.0}}
    one = infer_tastes(_history([_outcome(1, "focus-area", "done")], prior))
    assert one["focus-area"] == {"alpha": 2.5, "beta": 5.5}


def test_a_share_set_by_hand_replaces_the_learned_posterior() -> None:
    snippet = compute(_history(_answers("momentum", 7, 2)), {"tastes": {"momentum": 0.0, "kind:todo": 0.75}})
    tastes = snippet.data["tastes"]
    assert tastes["momentum"] == {"alpha": 1.0, "beta": 1.0 + SET_BY_HAND}
    assert tastes["kind:todo"]["alpha"] == pytest.approx(1 + 0.75 * SET_BY_HAND)


def test_the_runner_hands_the_learner_only_the_persons_shown_answered_tips(session: Session, demo_user: User) -> None:
    def tip(minutes_ago: int, **fields) -> Tip:
        at = NOW - timedelta(minutes=minutes_ago)
        base = {"user_id": demo_user.id, "text": "t", "prompt_version": "v", "model_alias": "a", "model": "m"}
        return Tip(**{**base, "policy": "p", "created_at": at, **fields})

    old = NOW - timedelta(days=HISTORY_DAYS + 1)
    session.add_all(
        [
            tip(30, lead_agent="momentum", kind="todo", reaction="done", reacted_at=NOW - timedelta(minutes=20)),
            tip(60, lead_agent=None, reaction="dismissed", reacted_at=NOW - timedelta(minutes=50)),
            tip(10, lead_agent="momentum", shadow=True, reaction="done", reacted_at=NOW - timedelta(minutes=5)),
            tip(5, lead_agent="focus-area"),  # not answered
            tip(1, lead_agent="focus-area", reaction="done", reacted_at=NOW + timedelta(minutes=5)),  # after now
            tip(10**6, lead_agent="calendar", reaction="done", reacted_at=old),
        ]
    )
    session.flush()
    outcomes = tip_outcomes_of(session, demo_user.id, NOW)
    assert outcomes == (
        TipOutcome(NOW - timedelta(minutes=50), None, "advice", "dismissed"),
        TipOutcome(NOW - timedelta(minutes=20), "momentum", "todo", "done"),
    )
    output = compute_output(session, demo_user, AGENT, NOW)
    assert output is not None
    assert output.data["reactions"] == 2
    assert output.data["tastes"]["momentum"]["alpha"] > output.data["tastes"]["momentum"]["beta"]


def test_the_runner_loads_no_outcomes_for_an_agent_that_does_not_read_them(session: Session, demo_user: User) -> None:
    from agents.runner import with_tip_outcomes

    history = UserHistory.build([], [], "UTC", datetime(2026, 11, 20, tzinfo=UTC))
    assert with_tip_outcomes(session, demo_user.id, registry()["mood"].manifest, history) is history


def test_why_this_tip_can_say_what_oo_learned_about_tips_like_it() -> None:
    from agents.learner import why

    snippet = compute(_history([*_answers("momentum", 7, 2), *_answers(None, 0, 1)]), {"tastes": {}})
    assert why(snippet.data, "momentum") == "You finish most tips like this one (7 of 9).", "no agent id: plain words"
    assert why(snippet.data, None) is None, "one answer is too few to say anything"
    assert why({}, "calendar") is None


def test_a_lead_taken_up_in_the_morning_only_gets_a_posterior_per_part_of_the_day() -> None:
    # NOW is 13:00 in Berlin: 4 to 7 hours earlier is the morning, 4 hours later (a day before) the evening.
    morning = [TipOutcome(NOW - timedelta(hours=4 + i), "momentum", "todo", "done") for i in range(4)]
    evening = [TipOutcome(NOW - timedelta(hours=20 - i), "momentum", "todo", "dismissed") for i in range(4)]
    once = [TipOutcome(NOW - timedelta(hours=5), "focus-area", "todo", "done")]

    tastes = infer_tastes(_history(morning + evening + once))

    def mean(name: str) -> float:
        return tastes[name]["alpha"] / (tastes[name]["alpha"] + tastes[name]["beta"])

    assert mean("momentum@morning") > mean("momentum") > mean("momentum@evening")
    assert tastes["momentum"] == {"alpha": 5.0, "beta": 5.0}, "the lead's own posterior counts every answer"
    assert "focus-area@morning" not in tastes, "one answer in a part of the day is too few to set it apart"


def test_a_lead_taken_up_at_work_only_gets_a_posterior_for_that_context() -> None:
    at_work = [TipOutcome(NOW - timedelta(hours=i), "momentum", "todo", "done", "work") for i in range(4)]
    at_home = [TipOutcome(NOW - timedelta(hours=i), "momentum", "todo", "dismissed", "home") for i in range(4)]

    tastes = infer_tastes(_history(at_work + at_home))

    def mean(name: str) -> float:
        return tastes[name]["alpha"] / (tastes[name]["alpha"] + tastes[name]["beta"])

    assert mean("momentum@in:work") > mean("momentum") > mean("momentum@in:home")
