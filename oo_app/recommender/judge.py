"""The ``judge`` alias: a score in [0, 1] for one tip against the facts it was written from.

Production points ``judge`` at a stronger model than the writer, prompted with ``prompts/judge-v1.txt`` to answer
``{"score": 1-5, "reason": ...}``. Offline, the embedded ``oo-rules/checks`` provider answers the same contract from
the guardrail and grounding checks alone; a :class:`Verdict` says which judged (``stand_in``), and so do the results
built from it. A judge that fails or breaks its contract yields no verdict (None), never a guessed score.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError

from oo_app.recommender.guardrails import CHECKS, check_failures, rejection_reason
from oo_app.recommender.prompts import template

log = logging.getLogger(__name__)

JUDGE_PROMPT = "judge-v1"
STAND_IN_PROVIDER = "oo-rules/"


class JudgeAnswer(BaseModel):
    """The output contract of the ``judge`` alias."""

    score: int = Field(ge=1, le=5)
    reason: str = Field(default="", max_length=500)


@dataclass(frozen=True)
class Verdict:
    score: float  # (answer - 1) / 4: 0 is bad, 1 excellent
    reason: str
    judge: str  # the model that judged
    stand_in: bool  # True when the offline checks stood in for a model judge


def checks_answer(tip: str, lines: Sequence[str], recent: Sequence[str]) -> JudgeAnswer:
    """The offline judge: 5 when every guardrail check passes, a point less per failed one, 1 when ungrounded."""
    failures = check_failures(tip, lines, recent)
    score = 1 if any(failure.startswith("ungrounded") for failure in failures) else max(1, 5 - len(failures))
    reason = "guardrail checks: " + ("; ".join(failures) if failures else f"passes all {len(CHECKS)}")
    return JudgeAnswer(score=score, reason=reason)


def judge_prompt(tip: str, lines: Sequence[str], recent: Sequence[str]) -> str:
    return template(JUDGE_PROMPT).substitute(
        signals="\n".join(f"- {line}" for line in lines) or "- (none)",
        recent="\n".join(f"- {text}" for text in recent) or "- (none)",
        tip=tip,
    )


def judge(tip: str, lines: Sequence[str], recent: Sequence[str] = ()) -> Verdict | None:
    """The ``judge`` alias's verdict on ``tip``; None (logged) when the judge fails or breaks its contract."""
    from oo_app.llm.aliases import JUDGE
    from oo_app.llm.router import get_router

    try:
        response = get_router().completion(
            model=JUDGE,
            messages=[{"role": "user", "content": judge_prompt(tip, lines, recent)}],
            metadata={"oo_judge": {"tip": tip, "lines": list(lines), "recent": list(recent)}},
        )
        answer = JudgeAnswer.model_validate(json.loads(response.choices[0].message.content or ""))
    except (ValidationError, ValueError) as error:
        log.warning("judge answer rejected (%s)", rejection_reason(error))
        return None
    except Exception as error:
        log.warning("judge failed (%s: %s)", type(error).__name__, error)
        return None
    model = str(response.model or "unknown")
    return Verdict(
        score=(answer.score - 1) / 4,
        reason=answer.reason,
        judge=model,
        stand_in=model.startswith(STAND_IN_PROVIDER),
    )
