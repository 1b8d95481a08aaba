"""What the hub writes: the operator actions (promote a shadow policy, recompute a person's agents), each through the
same domain function as the CLI and recorded in the audit log in the same transaction, and the audit log they fill.
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from oo_app import audit
from oo_app.errors import NotFound
from oo_app.hub.shared import hub_session
from oo_app.models import Policy, User
from oo_app.recommender import policies


def audit_log(engine: Engine, limit: int = 100, action: str | None = None, target: str | None = None) -> pd.DataFrame:
    """The latest ``limit`` audit events (only ``action`` and ``target`` when given), newest first: ``id``, ``at``,
    ``actor``, ``action``, ``target``, ``details`` (JSON text)."""
    with hub_session(engine) as session:
        rows = [
            (event.id, event.at, event.actor, event.action, event.target, json.dumps(event.details, sort_keys=True))
            for event in audit.events(session, action=action, target=target, limit=limit)
        ]
    return pd.DataFrame(rows, columns=["id", "at", "actor", "action", "target", "details"])


def promote_policy(
    engine: Engine, name: str, *, actor: str, force: bool = False, now: datetime | None = None
) -> Policy:
    """Promote the shadow candidate ``name`` through :func:`oo_app.recommender.policies.promote`, the domain action
    ``oo policy promote`` calls too, which records ``policy.promote`` by ``actor`` in the audit log. A refused
    promotion (Conflict, NotFound) raises and records nothing."""
    with hub_session(engine, write=True) as session:
        return policies.promote(session, name, actor=actor, force=force, now=now)


def recompute_person(engine: Engine, user_id: int, *, actor: str, now: datetime | None = None) -> list[str]:
    """Compute the due agent outputs of person ``user_id`` now through :func:`agents.runner.run_due` (what
    ``oo agents run --user`` calls) and record ``agents.recompute`` by ``actor``; the agents that wrote an output.
    NotFound for an unknown id. Failed agents write no output and leave their error in ``agent_runs``."""
    from agents.runner import run_due

    with hub_session(engine, write=True) as session:
        if session.get(User, user_id) is None:
            raise NotFound(f"no person with the id {user_id}")
        written = sorted(output.agent_id for output in run_due(session, now=now, user_ids=[user_id]))
        audit.record(
            session,
            actor,
            audit.RECOMPUTE_AGENTS,
            audit.person_target(user_id),
            {"agents": written, "outputs": len(written)},
            now=now,
        )
    return written
