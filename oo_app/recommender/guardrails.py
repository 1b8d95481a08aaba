"""The guardrail checks every written tip must pass before it may be shown (and that hold the offline judge down).

They need no model; whether a model's tip reads well is :mod:`.sense`'s question, asked after these pass.

A rejection is described without the draft's text (:func:`rejection_reason`): drafts never reach the logs above DEBUG.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from oo_app.recommender.composer import normalized
from oo_app.recommender.drafts import MAX_TIP_CHARS
from oo_app.recommender.grounding import links_in, ungrounded

MIN_TIP_CHARS = 15
CHECKS = ("length", "one line", "no repeat", "no verbatim fact", "grounded", "no link")


def check_failures(tip: str, lines: Sequence[str], recent: Sequence[str]) -> list[str]:
    """Which of :data:`CHECKS` ``tip`` fails, each with its detail (empty when it passes them all)."""
    text = tip.strip()
    failures: list[str] = []
    if not MIN_TIP_CHARS <= len(text) <= MAX_TIP_CHARS:
        failures.append(f"length {len(text)} outside {MIN_TIP_CHARS}-{MAX_TIP_CHARS}")
    if "\n" in text:
        failures.append("more than one line")
    if normalized(text) in {normalized(tip) for tip in recent}:
        failures.append("repeats a recent tip")
    if any(normalized(text) in normalized(line) for line in lines):
        failures.append("restates a fact verbatim")
    invented = ungrounded(text, lines)
    if invented:
        failures.append("ungrounded: " + ", ".join(invented))
    if links_in(text):
        failures.append("carries a link")
    return failures


def rejection_reason(error: Exception) -> str:
    """Why a model's answer was rejected, fit for a WARNING log line: never the answer's text (pydantic's own message
    quotes the input, so its errors are summarised by place and rule)."""
    if isinstance(error, ValidationError):
        places = (".".join(str(part) for part in problem["loc"]) or "answer" for problem in error.errors())
        return "; ".join(f"{place}: {problem['msg']}" for place, problem in zip(places, error.errors(), strict=True))
    return str(error)
