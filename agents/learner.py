"""Learner agent: what kind of tip this person takes up, learned from how they answered oO's tips.

Reads only ``UserHistory.tip_outcomes`` (consent ``activity``) and the population prior the runner hands it
(``UserHistory.tip_prior``: what works for most people). Infers ``tastes``: per lead agent (``generic`` for the
tips no agent leads) the Beta posterior ``{"alpha", "beta"}`` of a tip being taken up = the prior + the person's
rewards (:data:`agents.rewards.REWARDS`), and per lead and part of the day (``momentum@morning``) or context
(``momentum@in:work``) once the person answered enough of them there: that lead's posterior mean, held as a few
answers' worth, plus the answers given there (a taste that differs by hour or place shows; one that does not stays
close to the lead's). A person's own
``tastes`` (set on /settings: a lead's share of tips taken up, 0 to 1, or its alpha and beta) replace the learned
ones. Its snippet says it in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from agents.base import Agent, AgentManifest, InferredParam, Snippet, TipOutcome, UserHistory
from agents.rewards import GENERIC, LEARNER, REWARDS, WEAK_PRIOR, context_key, kind_key, part_key, part_of_day
from oo_app.clock import zone
from oo_app.models import ACCEPTING_REACTIONS, Reaction

TASTES = "tastes"
SET_BY_HAND = 1_000.0  # a share set by hand weighs as this many reactions: the person's word wins
MIN_TO_SAY = 3  # reactions to a lead before the snippet speaks of it
MIN_BY_KIND = 5  # reactions to a (lead, kind) before it has its own posterior
MIN_BY_PART = 4  # answers to a lead in one part of the day (or context) before it has its own posterior
PART_SHRINK = 4.0  # the lead's mean weighs as this many answers in a part's (or context's) posterior
SAID = 3  # leads the snippet names at most
MOST, FEW = 0.6, 0.25  # shares of tips taken up that read "most" and "few"
WORDS = {GENERIC: "general"}


def _reward(outcome: TipOutcome) -> float:
    try:
        return REWARDS[Reaction(outcome.reaction)]
    except ValueError:
        return 0.0  # a reaction of a newer oO: counted, never rewarded


def _lead(outcome: TipOutcome) -> str:
    return outcome.lead_agent or GENERIC


def _update(prior: Mapping[str, tuple[float, float]], outcomes: list[tuple[str, float]]) -> dict[str, dict]:
    """``prior`` updated with ``(key, reward)`` outcomes: alpha += reward, beta += 1 - reward."""
    found = {key: [float(alpha), float(beta)] for key, (alpha, beta) in prior.items()}
    for key, reward in outcomes:
        alpha_beta = found.setdefault(key, list(WEAK_PRIOR))
        alpha_beta[0] += reward
        alpha_beta[1] += 1.0 - reward
    return {key: {"alpha": round(alpha, 3), "beta": round(beta, 3)} for key, (alpha, beta) in sorted(found.items())}


def infer_tastes(history: UserHistory) -> dict[str, dict[str, float]] | None:
    """Per lead (and per kind, as ``kind:todo``) the Beta posterior: the population prior plus the person's rewards;
    None (the default: no tastes, the composer's order decides) while nobody has reacted to any tip."""
    outcomes = history.tip_outcomes
    prior = {key: (alpha, beta) for key, alpha, beta in history.tip_prior}
    if not outcomes and not prior:
        return None
    rewards = [(_lead(o), _reward(o)) for o in outcomes] + [(kind_key(o.kind), _reward(o)) for o in outcomes]
    tastes = _update(prior, rewards)
    return tastes | _by_situation(outcomes, tastes, history.tz)


def _by_situation(
    outcomes: tuple[TipOutcome, ...], tastes: Mapping[str, Mapping[str, float]], tz: str
) -> dict[str, dict[str, float]]:
    """Per lead and part of the day, and per lead and context, with at least :data:`MIN_BY_PART` answers there:
    Beta(1 + s m, 1 + s (1 - m)) with m the lead's posterior mean in ``tastes`` and s :data:`PART_SHRINK`, plus the
    rewards given there."""
    local = zone(tz)
    by_part: dict[str, list[float]] = {}
    for outcome in outcomes:
        part = part_of_day(outcome.at.astimezone(local).hour)
        by_part.setdefault(part_key(outcome.lead_agent, part), []).append(_reward(outcome))
        if outcome.context:
            by_part.setdefault(context_key(outcome.lead_agent, outcome.context), []).append(_reward(outcome))
    found = {}
    for name, rewards in sorted(by_part.items()):
        if len(rewards) < MIN_BY_PART:
            continue
        lead = tastes[name.split("@")[0]]
        mean = lead["alpha"] / (lead["alpha"] + lead["beta"])
        alpha = 1.0 + PART_SHRINK * mean + sum(rewards)
        beta = 1.0 + PART_SHRINK * (1.0 - mean) + len(rewards) - sum(rewards)
        found[name] = {"alpha": round(alpha, 3), "beta": round(beta, 3)}
    return found


def posterior(tastes: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``tastes`` as Beta posteriors: a share set by hand (0 to 1) becomes a posterior as sure as
    :data:`SET_BY_HAND` reactions; ``{"alpha", "beta"}`` stays as it is."""
    found = {}
    for key, taste in tastes.items():
        if isinstance(taste, int | float) and not isinstance(taste, bool):
            share = min(1.0, max(0.0, float(taste)))
            found[str(key)] = {"alpha": 1.0 + SET_BY_HAND * share, "beta": 1.0 + SET_BY_HAND * (1.0 - share)}
        elif isinstance(taste, Mapping) and {"alpha", "beta"} <= set(taste):
            found[str(key)] = {"alpha": float(taste["alpha"]), "beta": float(taste["beta"])}
    return found


def counts(outcomes: tuple[TipOutcome, ...]) -> dict[str, dict[str, int]]:
    """Per lead, and per ``lead/kind`` with at least :data:`MIN_BY_KIND` reactions: tips taken up (done or liked)
    and reactions."""
    found: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        taken = outcome.reaction in ACCEPTING_REACTIONS
        for key in (_lead(outcome), f"{_lead(outcome)}/{outcome.kind}"):
            seen = found.setdefault(key, {"taken": 0, "reactions": 0})
            seen["taken"] += taken
            seen["reactions"] += 1
    return {key: seen for key, seen in sorted(found.items()) if "/" not in key or seen["reactions"] >= MIN_BY_KIND}


def _rank(share: float) -> int:
    return 0 if share >= MOST else 1 if share <= FEW else 2


def _phrase(lead: str, taken: int, reactions: int) -> str:
    name = WORDS.get(lead, lead)
    share = taken / reactions
    if share >= MOST:
        return f"finishes most {name} tips ({taken} of {reactions})"
    if share <= FEW:
        return f"rarely takes up {name} tips ({taken} of {reactions})"
    return f"takes up some {name} tips ({taken} of {reactions})"


def why(data: Mapping[str, Any], lead: str | None) -> str | None:
    """What oO learned about tips like one led by ``lead``, for "why this tip?" ("You finish most tips like this one
    (7 of 9)."), from the learner's facts; None while it has too few of the person's answers to say. It never names
    the lead: a person reads "tips like this one", not an agent id."""
    seen = (data.get("seen") or {}).get(lead or GENERIC)
    if not isinstance(seen, Mapping) or int(seen.get("reactions", 0)) < MIN_TO_SAY:
        return None
    taken, reactions = int(seen["taken"]), int(seen["reactions"])
    share = taken / reactions
    if share >= MOST:
        return f"You finish most tips like this one ({taken} of {reactions})."
    if share <= FEW:
        return f"You rarely take up tips like this one ({taken} of {reactions})."
    return f"You take up some tips like this one ({taken} of {reactions})."


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    tastes = posterior(params.get(TASTES) or {})
    seen = counts(history.tip_outcomes)
    data: dict[str, Any] = {"tastes": tastes, "seen": seen, "reactions": len(history.tip_outcomes)}
    leads = {key: value for key, value in seen.items() if "/" not in key and value["reactions"] >= MIN_TO_SAY}
    if not leads:
        data["cold_start"] = True
        return Snippet("No reactions to learn from yet.", data)
    # What they take up first, then what they pass over, then the rest; the most answered first within each.
    clearest = sorted(
        leads.items(), key=lambda item: (_rank(item[1]["taken"] / item[1]["reactions"]), -item[1]["reactions"])
    )
    said = [_phrase(lead, value["taken"], value["reactions"]) for lead, value in clearest[:SAID]]
    text = "; ".join(said)
    return Snippet(f"{text[0].upper()}{text[1:]}.", data)


AGENT = Agent(
    manifest=AgentManifest(
        id=LEARNER,
        version="1.0.0",
        description="Learns from how you answer oO's tips which kinds of tip you take up, and leads with those.",
        ttl=timedelta(hours=6),
        schedule=timedelta(minutes=30),
        consents=("activity",),
        tip_outcomes=True,
        reads_history=False,
        params=(
            InferredParam(
                TASTES,
                {},
                infer_tastes,
                description="how likely you are to take up a tip, by the agent it comes from (0 to 1: your word "
                "replaces what oO learned)",
            ),
        ),
    ),
    compute=compute,
)
