"""The ``judge`` alias: the guardrail checks stand in offline and say so; a model judge speaks the same contract."""

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


@pytest.mark.parametrize(
    ("tip", "score", "reason"),
    [
        ("Before 16:00, pick one Work task you can finish today.", 1.0, "passes all 6"),
        ("Give the 7 Tax tasks a due date before Monday.", 0.0, "ungrounded: 7, Tax, Monday"),
        ("Finish one Work task now. " * 6, 0.75, "length"),
        ("Before 16:00, pick one Work task.", 0.75, "repeats a recent tip"),
    ],
    ids=["grounded", "invented", "too-long", "repeat"],
)
def test_offline_the_guardrail_checks_stand_in_for_the_judge_and_say_so(tip: str, score: float, reason: str) -> None:
    verdict = judge(tip, LINES, ["Before 16:00, pick one Work task."])

    assert verdict is not None
    assert verdict.score == score
    assert reason in verdict.reason
    assert (verdict.judge, verdict.stand_in) == (CHECKS_MODEL, True)


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
