"""The off-policy estimators checked on the simulation, where the truth is known: from the tips one policy logged
(with their propensities), IPS and SNIPS estimate the acceptance of another, which the simulation also ran for real.

Targets are the policies an estimator can express from the log alone: ``no-learning`` (the composer's first
candidate) and ``random-agent`` (uniform over the candidate leads). The estimate is of the target's choice on the
logging policy's moments, while its realised acceptance comes from its own run: both vary by chance, so the check is
whether the realised figure falls in the interval, not equality.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from oo_app.errors import OOError
from oo_app.evaluation.offpolicy import CandidatePolicy, LoggedTip, composer_order, estimate, logged_tips, uniform
from oo_app.evaluation.simulation_report import PolicyResult

TARGETS: dict[str, CandidatePolicy] = {"no-learning": composer_order, "random-agent": uniform}
LOGGERS = ("incumbent", "random-agent")


def logged_by_policy(session: Session, names: Iterable[str]) -> dict[str, list[LoggedTip]]:
    """The logged tips of each logging policy among ``names`` (:data:`LOGGERS`)."""
    return {name: logged_tips(session, policy=name) for name in names if name in LOGGERS}


def offpolicy_check(logged: Mapping[str, list[LoggedTip]], results: Mapping[str, PolicyResult]) -> dict[str, Any]:
    """For each logging policy that ran (:data:`LOGGERS`, its tips in ``logged``) and each target that ran
    (:data:`TARGETS`, the logger itself excluded): the IPS and SNIPS estimates from the logger's tips, the target's
    realised acceptance, and whether each interval covers it."""
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
                    "realised": results[name].acceptance,
                    **{
                        method: {**value.as_dict(), "covers": value.covers(results[name].acceptance)}
                        for method, value in by_method.items()
                    },
                }
                for name, by_method in estimates.items()
            },
        }
    return found
