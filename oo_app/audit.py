"""The audit log of operator actions (promoting a policy, computing a person's agents, inferring an agent's parameters
from a posted history): who, what, on what, when.

:func:`record` adds a row in the caller's session and flushes, never commits: an action and its record are one
transaction. The actor is an operator (staff), kept by name or email: operators are not the persons whose data oO
protects. A target names what was acted on by id (``policy:terse-v1``, ``person:42``) and details hold no personal
data: :func:`record` refuses an email in either. The table has no ``user_id``, so the log outlives a deleted person,
who is left in it as a bare id.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from oo_app.errors import InvalidInput
from oo_app.models import AuditEvent, utcnow

log = logging.getLogger(__name__)

PROMOTE_POLICY = "policy.promote"
RECOMPUTE_AGENTS = "agents.recompute"
INFER_AGENT = "agents.infer"
OPERATOR_ENV = "OO_HUB_OPERATOR"  # set by `oo hub` (or by hand) to the operator behind the notebooks
OPERATOR_QUERY_PARAM = "operator"
DEFAULT_OPERATOR = "operator"
MARIMO_USER = "user"  # the name marimo's own authentication gives every visitor
_EMAIL = re.compile(r"[^@\s\"',;:<>()\[\]]+@[^@\s\"',;:<>()\[\]]+\.[A-Za-z]{2,}")


def policy_target(name: str) -> str:
    return f"policy:{name}"


def agent_target(agent_id: str) -> str:
    return f"agent:{agent_id}"


def person_target(user_id: int) -> str:
    """A person as an audit target: by id, never by email."""
    return f"person:{int(user_id)}"


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    now: datetime | None = None,
) -> AuditEvent:
    """Add the audit event ``actor`` did ``action`` on ``target`` (with ``details``) at ``now`` (default: the clock).

    InvalidInput when the actor or the action is empty, or when the target or the details hold an email (a person
    is named by id), or the details are not JSON. Flushes; the caller's transaction commits it with the action.
    """
    actor, action = actor.strip(), action.strip()
    if not actor or not action:
        raise InvalidInput("an audit event needs an actor (the operator) and an action")
    if target is not None and _EMAIL.search(target):
        raise InvalidInput(f"audit target {target!r}: name a person by id ({person_target(42)}), never by email")
    try:
        text = json.dumps(details, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"audit details must be JSON: {error}") from None
    if _EMAIL.search(text):
        raise InvalidInput("audit details must not hold personal data such as an email")
    event = AuditEvent(actor=actor, action=action, target=target, details=json.loads(text), at=now or utcnow())
    session.add(event)
    session.flush()
    log.info("audit: %s did %s on %s %s", actor, action, target, text)
    return event


def events(
    session: Session, *, action: str | None = None, target: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The latest ``limit`` audit events, newest first; only ``action`` and ``target`` when given."""
    query = select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    return list(session.exec(query))


def hub_operator(
    request: Mapping[str, Any] | None = None,
    query_params: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """Who acts in the operator hub, the most trusted source first.

    1. ``request["meta"]["operator"]``: set by the server in front of the notebooks (an ASGI middleware writing
       ``scope["meta"]``; marimo passes ``request`` on as ``mo.app_meta().request``);
    2. ``request["user"]["username"]`` when authenticated, unless it is marimo's own sign-in, which names every
       visitor ``"user"``;
    3. the environment variable ``OO_HUB_OPERATOR``, set for the hub's process;
    4. the query parameter ``?operator=`` (``mo.query_params()``), self-declared by whoever opened the page;
    5. ``"operator"``.
    """
    request = request or {}
    meta = request.get("meta") or {}
    if isinstance(meta, Mapping) and str(meta.get(OPERATOR_QUERY_PARAM) or "").strip():
        return str(meta[OPERATOR_QUERY_PARAM]).strip()
    user = request.get("user") or {}
    if isinstance(user, Mapping) and user.get("is_authenticated"):
        username = str(user.get("username") or "").strip()
        if username and username != MARIMO_USER:
            return username
    if environ.get(OPERATOR_ENV, "").strip():
        return environ[OPERATOR_ENV].strip()
    claimed = (query_params or {}).get(OPERATOR_QUERY_PARAM)
    if isinstance(claimed, list):
        claimed = claimed[0] if claimed else None
    if claimed and str(claimed).strip():
        return str(claimed).strip()
    return DEFAULT_OPERATOR
