"""The ``judge`` alias: a score in [0, 1] for one tip against the facts it was written from.

Production points ``judge`` at a stronger model than the writer, prompted with ``prompts/judge-v1.txt`` to answer
``{"score": 1-5, "reason": ...}``. Offline, the embedded ``oo-rules/checks`` provider answers the same contract from
the sense classifier's probability that the tip reads well (:mod:`.sense`), held down by the grounding and guardrail
checks: a graded opinion, not the pass or fail that decided what is shown. A :class:`Verdict` says which judged
(``stand_in``), and so do the results built from it. A judge that fails or breaks its contract (the offline one:
its embedder fails) yields no verdict (None), never a guessed score.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from oo_app.recommender.guardrails import CHECKS, check_failures, rejection_reason
from oo_app.recommender.prompts import template
from oo_app.recommender.sense import reads_well

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


def checks_answer(tip: str, lines: Sequence[str], recent: Sequence[str], sense: float | None = None) -> JudgeAnswer:
    """The offline judge: 1 + 4 x the sense classifier's probability that ``tip`` reads well (``sense``, computed
    when not given; rounded), a point less per other guardrail check it fails, and 1 when it is ungrounded or carries
    a link. Raises when the embedder cannot answer (the judge then gives no verdict)."""
    if sense is None:
        (sense,) = reads_well([tip])
    failures = check_failures(tip, lines, recent)
    if any(failure.startswith(("ungrounded", "carries a link")) for failure in failures):
        score = 1
    else:
        score = max(1, 1 + round(4 * sense) - len(failures))
    checks = "; ".join(failures) if failures else f"passes all {len(CHECKS)} guardrail checks"
    return JudgeAnswer(score=score, reason=f"sense {sense:.2f}; {checks}")


def judge_prompt(tip: str, lines: Sequence[str], recent: Sequence[str]) -> str:
    return template(JUDGE_PROMPT).substitute(
        signals="\n".join(f"- {line}" for line in lines) or "- (none)",
        recent="\n".join(f"- {text}" for text in recent) or "- (none)",
        tip=tip,
    )


def _stands_in() -> bool:
    """Whether the ``judge`` alias is answered by the offline stand-in."""
    from oo_app.llm.aliases import JUDGE
    from oo_app.settings import get_settings

    deployments = get_settings().alias_table.get(JUDGE) or []
    return any(str(d.get("model", "")).startswith(STAND_IN_PROVIDER) for d in deployments)


def judge(tip: str, lines: Sequence[str], recent: Sequence[str] = ()) -> Verdict | None:
    """The ``judge`` alias's verdict on ``tip``; None (logged) when the judge fails or breaks its contract."""
    from oo_app.llm.aliases import JUDGE
    from oo_app.llm.router import get_router

    judged: dict[str, Any] = {"tip": tip, "lines": list(lines), "recent": list(recent)}
    try:
        if _stands_in():
            # Embedded here, in the caller's context (its person's span), not inside the provider's call.
            (judged["sense"],) = reads_well([tip])
        response = get_router().completion(
            model=JUDGE,
            messages=[{"role": "user", "content": judge_prompt(tip, lines, recent)}],
            metadata={"oo_judge": judged},
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
