"""The ``judge`` alias: offline the sense classifier, held down by the guardrail checks, stands in and says so; a model
judge speaks the same contract."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from oo_app.llm.aliases import CHECKS_MODEL
from oo_app.recommender.judge import judge, judge_prompt

LINES = [
    "It is 13:00 on Friday; they get most done around 16:00 (peak hours 15:00, 16:00); quiet hours 22:00-07:00.",
    "Their main areas: Work (40 done), then Home (12 done).",
]


GOOD = "Before 16:00, pick one Work task you can finish today."


def test_offline_the_sense_classifier_judges_a_grounded_tip_and_says_so() -> None:
    verdict = judge(GOOD, LINES, ["Before 16:00, pick one Work task."])

    assert verdict is not None
    assert verdict.score >= 0.75
    assert verdict.reason.startswith("sense 0.")
    assert "passes all 6 guardrail checks" in verdict.reason
    assert (verdict.judge, verdict.stand_in) == (CHECKS_MODEL, True)


def test_offline_a_grounded_tip_that_reads_badly_scores_low_though_it_passes_every_check() -> None:
    verdict = judge("If they are not working, pick a task that you can finish today.", LINES)

    assert verdict is not None
    assert "passes all 6 guardrail checks" in verdict.reason, "the checks that decide what is shown let it through"
    assert verdict.score <= 0.25, verdict.reason


@pytest.mark.parametrize(
    ("tip", "reason"),
    [
        ("Give the 7 Tax tasks a due date before Monday.", "ungrounded: 7, Tax, Monday"),
        ("See example.com before 16:00.", "carries a link"),
    ],
    ids=["invented", "link"],
)
def test_offline_an_ungrounded_tip_or_a_link_scores_the_lowest(tip: str, reason: str) -> None:
    verdict = judge(tip, LINES)

    assert verdict is not None
    assert (verdict.score, reason in verdict.reason) == (0.0, True), verdict.reason


def test_offline_each_failed_check_costs_a_point() -> None:
    recent = ["Before 16:00, pick one Work task."]
    alone = judge("Before 16:00, pick one Work task.", LINES)
    repeated = judge("Before 16:00, pick one Work task.", LINES, recent)

    assert alone is not None
    assert repeated is not None
    assert "repeats a recent tip" in repeated.reason
    assert repeated.score == max(0.0, alone.score - 0.25), (alone.reason, repeated.reason)


def _judge_alias(configure: Callable[..., None], deployment: dict) -> None:
    configure(OO_LLM_ALIASES=json.dumps({"judge": [deployment]}), OO_LLM_RETRIES="0", OO_LLM_TIMEOUT_S="3")


def test_a_model_judge_answers_on_a_1_to_5_scale_scaled_to_0_1(configure: Callable[..., None]) -> None:
    answer = json.dumps({"score": 4, "reason": "fits the afternoon"})
    _judge_alias(configure, {"model": "openai/judge-big", "mock_response": answer, "api_key": "test"})

    verdict = judge("Before 16:00, pick one Work task you can finish today.", LINES)

    assert verdict is not None
    assert (verdict.score, verdict.reason, verdict.stand_in) == (0.75, "fits the afternoon", False)
    assert "judge-big" in verdict.judge


@pytest.mark.parametrize(
    "mock_response",
    ["I think it is a 4", json.dumps({"score": 9}), "litellm.RateLimitError"],
    ids=["prose", "out-of-scale", "failing"],
)
def test_a_judge_that_breaks_its_contract_gives_no_verdict_not_a_guess(
    configure: Callable[..., None], mock_response: str
) -> None:
    _judge_alias(configure, {"model": "openai/judge-big", "mock_response": mock_response, "api_key": "test"})

    assert judge("Before 16:00, pick one Work task you can finish today.", LINES) is None


def test_the_judge_prompt_carries_the_signals_the_recent_tips_and_the_tip() -> None:
    prompt = judge_prompt("Do the thing.", LINES, ["An older tip."])

    assert all(line in prompt for line in LINES)
    assert "- An older tip." in prompt
    assert prompt.rstrip().endswith("Tip: Do the thing.")
    assert '{"score": <1-5>' in prompt
