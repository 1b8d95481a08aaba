"""What the learner counts: a reaction's reward, the keys of its posteriors, the prior of nothing known, the parts of
the day it learns apart.

Shared by the learner agent (:mod:`agents.learner`) and the recommender's choice (:mod:`oo_app.recommender.learning`),
which imports it from here, never the reverse. Pure names and two helpers.
"""

from __future__ import annotations

from oo_app.models import Reaction

LEARNER = "learner"  # the agent whose output carries a person's posterior (agents/learner.py)
# What a reaction is worth: taken up (done, liked) 1; a snooze is "not now", weakly positive; no 0.
REWARDS: dict[Reaction, float] = {
    Reaction.done: 1.0,
    Reaction.liked: 1.0,
    Reaction.snoozed: 0.25,
    Reaction.dismissed: 0.0,
    Reaction.disliked: 0.0,
}
GENERIC = "generic"  # the lead a generic draft (lead None) competes as
WEAK_PRIOR = (1.0, 1.0)  # Beta(1, 1): nothing known


def key(lead: str | None) -> str:
    """The posterior key of a lead: the lead itself, :data:`GENERIC` for None."""
    return lead if lead is not None else GENERIC


def kind_key(kind: str) -> str:
    """The posterior key of a tip kind (``kind:todo``, ``kind:advice``), beside the leads' keys."""
    return f"kind:{kind}"


# The parts of a local day a lead is learned apart in (a person may take up momentum tips in the morning only): by the
# local hour a part begins, the night running into the morning.
PARTS: tuple[tuple[int, str], ...] = ((5, "morning"), (12, "afternoon"), (17, "evening"), (22, "night"))


def part_of_day(hour: int) -> str:
    """The part of the day a local ``hour`` (0-23) falls in: ``morning`` 05-12, ``afternoon`` 12-17, ``evening``
    17-22, ``night`` 22-05."""
    return next((name for start, name in reversed(PARTS) if hour >= start), PARTS[-1][1])


def part_key(lead: str | None, part: str) -> str:
    """The posterior key of a lead in one part of the day (``momentum@morning``)."""
    return f"{key(lead)}@{part}"


def context_key(lead: str | None, context: str) -> str:
    """The posterior key of a lead in one of the person's contexts, by its name (``momentum@in:work``)."""
    return f"{key(lead)}@in:{context}"
