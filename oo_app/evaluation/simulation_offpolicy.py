"""The off-policy estimators checked on the simulation, where the truth is known: from the tips one policy logged
(with their propensities), IPS and SNIPS estimate the acceptance of another.

Targets are the policies an estimator can express from the log alone: ``no-learning`` (the composer's first
candidate) and ``random-agent`` (uniform over the candidate leads). An estimate is of the target's choices at the
logging policy's moments, so it is checked against the truth there: at each logged moment the simulated person's true
chance of taking up the draft the target would have chosen among the same drafts (:func:`counterfactual_chance`),
averaged (``truth``); the check is whether the interval covers it. The target's acceptance in its own run
(``realised``) is shown beside it: it differs by more than chance, since each policy's tips shape what the person saw
and what oO learned, so the moments themselves differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from oo_app.errors import OOError
from oo_app.evaluation.persona import SimulatedPerson
from oo_app.evaluation.simulation_report import PolicyResult
from oo_app.models import Tip, User
from oo_app.recommender.composer import TipDraft
from oo_app.recommender.learning import leads_of, observe_choices
from oo_app.recommender.offpolicy import CandidatePolicy, LoggedTip, composer_order, estimate, logged_tips, uniform

TARGETS: dict[str, CandidatePolicy] = {"no-learning": composer_order, "random-agent": uniform}
LOGGERS = ("incumbent", "random-agent")


def _first(offered: Sequence[TipDraft]) -> dict[int, float]:
    return {0: 1.0}


def _uniform_over_leads(offered: Sequence[TipDraft]) -> dict[int, float]:
    leads = leads_of(offered)
    return {next(i for i, draft in enumerate(offered) if draft.lead == lead): 1.0 / len(leads) for lead in leads}


# The drafts each target writes among those offered, as the simulation runs it: no-learning the composer's first,
# random-agent the first draft of a lead drawn uniformly.
DRAFT_CHOICES: dict[str, Callable[[Sequence[TipDraft]], dict[int, float]]] = {
    "no-learning": _first,
    "random-agent": _uniform_over_leads,
}


def counterfactual_chance(person: SimulatedPerson, offered: Sequence[TipDraft], moment: datetime, target: str) -> float:
    """The true chance that ``target``'s choice among ``offered`` at ``moment`` is taken up by ``person``."""
    picks = DRAFT_CHOICES[target](offered)
    total = 0.0
    for index, p in picks.items():
        draft = offered[index]
        total += p * person.chance(draft.text, str(draft.kind), draft.lead, moment)
    return total


def recording_counterfactuals(
    writer: Callable[[Session, User, datetime], Tip], person: SimulatedPerson, logger: str, result: PolicyResult
) -> Callable[[Session, User, datetime], Tip]:
    """``writer`` (the logging policy ``logger``'s), recording in ``result`` at each tip it writes the true chance of
    each target's choice among the drafts the tip was chosen from, before the person sees the tip."""
    targets = [target for target in DRAFT_CHOICES if target != logger]

    def write(session: Session, user: User, now: datetime) -> Tip:
        offers: list[list[TipDraft]] = []
        with observe_choices(lambda offered, _choice: offers.append(list(offered))):
            tip = writer(session, user, now)
        if offers:  # the first choice is the shown tip's
            for target in targets:
                result.record_counterfactual(target, counterfactual_chance(person, offers[0], now, target))
        return tip

    return write


def logged_by_policy(session: Session, names: Iterable[str]) -> dict[str, list[LoggedTip]]:
    """The logged tips of each logging policy among ``names`` (:data:`LOGGERS`)."""
    return {name: logged_tips(session, policy=name) for name in names if name in LOGGERS}


def offpolicy_check(logged: Mapping[str, list[LoggedTip]], results: Mapping[str, PolicyResult]) -> dict[str, Any]:
    """For each logging policy that ran (:data:`LOGGERS`, its tips in ``logged``) and each target that ran
    (:data:`TARGETS`, the logger itself excluded): the IPS and SNIPS estimates from the logger's tips, the truth at
    the logger's moments, whether each interval covers it, and the target's acceptance in its own run."""
    found: dict[str, Any] = {}
    for logger in LOGGERS:
        if logger not in results:
            continue
        tips = logged.get(logger, [])
        targets = {name: policy for name, policy in TARGETS.items() if name in results and name != logger}
        try:
            estimates = estimate(tips, targets)
        except OOError as error:
            found[logger] = {"error": str(error)}
            continue
        found[logger] = {
            "tips": len(tips),
            "estimates": {
                name: {
                    "truth": truth,
                    "realised": results[name].acceptance,
                    **{
                        method: {**value.as_dict(), "covers": truth is not None and value.covers(truth)}
                        for method, value in by_method.items()
                    },
                }
                for name, by_method in estimates.items()
                for truth in [results[logger].counterfactual_acceptance(name)]
            },
        }
    return found
