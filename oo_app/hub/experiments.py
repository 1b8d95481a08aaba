"""Queries of the experiments notebook (``admin_notebooks/experiments.py``): the policies and each shadow candidate
against the incumbent, with what refuses its promotion. Reads only: the promotion is in :mod:`oo_app.hub.actions`, the
benchmark runs in :mod:`oo_app.hub.mlflow_store`.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from oo_app.hub.shared import hub_session
from oo_app.recommender import policies


def policy_table(engine: Engine) -> pd.DataFrame:
    """Every policy, the incumbent first (the built-in one while none is stored): its role, prompt, alias, offline
    figures and promotion."""
    columns = ["name", "role", "prompt_version", "alias", "offline_judge_score", "offline_pass_rate"]
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
