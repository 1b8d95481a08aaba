"""Queries of the experiments notebook (``admin_notebooks/experiments.py``): the policies, each shadow candidate
against the incumbent with what refuses its promotion, and the off-policy estimates from the logged tips. Reads only:
the promotion is in :mod:`oo_app.hub.actions`, the benchmark and simulation runs in :mod:`oo_app.hub.mlflow_store`.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from oo_app.hub.shared import hub_session
from oo_app.recommender import offpolicy, policies


def policy_table(engine: Engine) -> pd.DataFrame:
    """Every policy, the incumbent first (the built-in one while none is stored): its role, prompt, alias, offline
    figures and promotion."""
    columns = ["name", "role", "chooser", "prompt_version", "alias", "offline_judge_score", "offline_pass_rate"]
    columns += ["offline_run_id", "promoted_at", "promoted_by"]
    with hub_session(engine) as session:
        rows = [
            tuple(str(getattr(policy, column)) if column == "role" else getattr(policy, column) for column in columns)
            for policy in policies.all_policies(session)
        ]
    return pd.DataFrame(rows, columns=columns)


def shadow_comparisons(engine: Engine) -> pd.DataFrame:
    """One row per shadow candidate: its :class:`oo_app.recommender.policies.ShadowReport` against the incumbent,
    ``blockers`` (what refuses its promotion, "; "-joined) and ``promotable``. Empty when no candidate runs."""
    with hub_session(engine) as session:
        rows = []
        for candidate in policies.shadow_policies(session):
            report = policies.shadow_report(session, candidate.name)
            blockers = policies.promotion_blockers(report)
            rows.append({**report.as_dict(), "blockers": "; ".join(blockers), "promotable": not blockers})
    columns = [*policies.ShadowReport.__dataclass_fields__, "blockers", "promotable"]
    return pd.DataFrame(rows, columns=columns)


OFFPOLICY_COLUMNS = ["policy", "method", "acceptance", "low", "high", "tips", "effective_tips"]


def offpolicy_estimates(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """What the logged tips (shown, with a propensity and a reaction, since ``since``) say each policy's acceptance
    would be: IPS and SNIPS with their 95% intervals (:mod:`oo_app.recommender.offpolicy`), and the logged acceptance
    itself ("logged"). Empty (columns :data:`OFFPOLICY_COLUMNS`) when no tip is logged yet."""
    with hub_session(engine) as session:
        tips = offpolicy.logged_tips(session, since=since)
    if not tips:
        return pd.DataFrame(columns=OFFPOLICY_COLUMNS)
    candidates = {"no-learning": offpolicy.composer_order, "random-agent": offpolicy.uniform}
    rows = [
        (name, method, found.value, found.low, found.high, found.tips, found.effective_tips)
        for name, by_method in offpolicy.estimate(tips, candidates).items()
        for method, found in by_method.items()
    ]
    logged = sum(tip.reward for tip in tips) / len(tips)
    rows.append(("logged", "mean", logged, logged, logged, len(tips), float(len(tips))))
    return pd.DataFrame(rows, columns=OFFPOLICY_COLUMNS)
