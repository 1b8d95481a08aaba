"""Off-policy evaluation: a candidate policy's acceptance estimated from logged tips, without showing it to anyone.

Each logged tip names the lead agent it was about, the candidate leads it was chosen from and the propensity (the
chance the logging policy picked that lead). A candidate policy gives each candidate lead a probability; the estimators
are inverse propensity scoring (IPS) and self-normalised IPS (SNIPS), each with a normal confidence interval (SNIPS by
the delta method). Reward is 1 for an accepted tip (done or liked), else 0. Pure functions; reading the log is
:func:`logged_tips`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from oo_app.errors import OOError
from oo_app.models import ACCEPTING_REACTIONS, Chooser, Tip

GENERIC = None  # the lead of a tip that states no agent's facts
Z_95 = 1.959964


class OffPolicyError(OOError):
    """The log cannot answer: no usable tip, or a propensity that is not a probability."""


@dataclass(frozen=True)
class LoggedTip:
    """One tip as the estimators read it: the lead shown, the candidate leads, its propensity and its reward."""

    lead: str | None
    candidates: tuple[str | None, ...]
    propensity: float
    reward: float

    @property
    def options(self) -> tuple[str | None, ...]:
        """The distinct candidate leads, in the order logged (the composer's, best first)."""
        return tuple(dict.fromkeys(self.candidates or (self.lead,)))


# A candidate policy: for a logged tip, the probability it gives each of the tip's candidate leads.
CandidatePolicy = Callable[[LoggedTip], Mapping[str | None, float]]


def composer_order(tip: LoggedTip) -> dict[str | None, float]:
    """The ``no-learning`` policy: the composer's first candidate, always."""
    return {tip.options[0]: 1.0}


def uniform(tip: LoggedTip) -> dict[str | None, float]:
    """The ``random-agent`` policy: each distinct candidate lead equally likely."""
    return {lead: 1.0 / len(tip.options) for lead in tip.options}


# The policies' choosers an estimate can express from a log: the composer's order (learning off). Thompson sampling
# needs the posteriors of each moment, which the log does not keep.
CHOOSERS: dict[Chooser, CandidatePolicy] = {Chooser.composer_order: composer_order}


def prefer(order: Sequence[str | None]) -> CandidatePolicy:
    """A policy that picks the first lead of ``order`` among the candidates (else the composer's first)."""

    def choose(tip: LoggedTip) -> dict[str | None, float]:
        chosen = next((lead for lead in order if lead in tip.options), tip.options[0])
        return {chosen: 1.0}

    return choose


@dataclass(frozen=True)
class Estimate:
    """An estimated acceptance with its confidence interval; ``effective_tips`` is Kish's effective sample size."""

    method: str
    value: float
    low: float
    high: float
    tips: int
    effective_tips: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "tips": self.tips,
            "effective_tips": self.effective_tips,
        }

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def _weights(tips: Sequence[LoggedTip], policy: CandidatePolicy) -> list[float]:
    if not tips:
        raise OffPolicyError("no logged tip with a propensity and a reaction: nothing to estimate from yet")
    weights = []
    for tip in tips:
        if not 0.0 < tip.propensity <= 1.0:
            raise OffPolicyError(f"a logged propensity of {tip.propensity} is not a probability in (0, 1]")
        weights.append(policy(tip).get(tip.lead, 0.0) / tip.propensity)
    return weights


def _effective(weights: Sequence[float]) -> float:
    squares = sum(w * w for w in weights)
    return sum(weights) ** 2 / squares if squares else 0.0


def ips(tips: Sequence[LoggedTip], policy: CandidatePolicy, z: float = Z_95) -> Estimate:
    """Inverse propensity scoring: the mean of weight x reward, unbiased when every propensity is right and positive
    wherever ``policy`` puts weight; its interval is the normal one of that mean."""
    weights = _weights(tips, policy)
    terms = [w * tip.reward for w, tip in zip(weights, tips, strict=True)]
    n = len(terms)
    value = sum(terms) / n
    variance = sum((term - value) ** 2 for term in terms) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(variance / n)
    return Estimate("ips", value, value - half, value + half, n, _effective(weights))


def snips(tips: Sequence[LoggedTip], policy: CandidatePolicy, z: float = Z_95) -> Estimate:
    """Self-normalised IPS: weight x reward over the sum of the weights (slightly biased, far less variable, always a
    rate in [0, 1]); its interval comes from the delta method. 0 with an empty interval when no logged tip is one the
    policy could have shown."""
    weights = _weights(tips, policy)
    n, total = len(weights), sum(weights)
    if total == 0:
        return Estimate("snips", 0.0, 0.0, 0.0, n, 0.0)
    value = sum(w * tip.reward for w, tip in zip(weights, tips, strict=True)) / total
    mean_weight = total / n
    spread = sum((w * (tip.reward - value)) ** 2 for w, tip in zip(weights, tips, strict=True)) / n
    half = z * math.sqrt(spread / n) / mean_weight
    return Estimate("snips", value, max(0.0, value - half), min(1.0, value + half), n, _effective(weights))


def estimate(tips: Sequence[LoggedTip], policies: Mapping[str, CandidatePolicy]) -> dict[str, dict[str, Estimate]]:
    """IPS and SNIPS of each named policy on ``tips``."""
    return {name: {"ips": ips(tips, policy), "snips": snips(tips, policy)} for name, policy in policies.items()}


def logged_tips(session: Session, *, since: datetime | None = None, policy: str | None = None) -> list[LoggedTip]:
    """The shown tips with a propensity and a reaction, oldest first, as the estimators read them; ``since`` and
    ``policy`` narrow them."""
    query = select(Tip).where(col(Tip.propensity).is_not(None), col(Tip.reaction).is_not(None), ~col(Tip.shadow))
    if since is not None:
        query = query.where(col(Tip.created_at) >= since)
    if policy is not None:
        query = query.where(Tip.policy == policy)
    return [
        LoggedTip(
            lead=tip.lead_agent,
            candidates=tuple(tip.candidates or ()),
            propensity=float(tip.propensity),
            reward=1.0 if tip.reaction in ACCEPTING_REACTIONS else 0.0,
        )
        for tip in session.exec(query.order_by(col(Tip.created_at), col(Tip.id))).all()
    ]
