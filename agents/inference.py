"""Per-person parameter inference: ``run_inference`` and the rules for storing its results.

Contract: below ``min_history`` events a parameter takes its cold-start default; an ``infer()`` error also yields
the default and is logged, never raised. Stored values have source ``inferred``; a ``user`` value is never overwritten.
:func:`infer_params` also says which values are assumed (a cold-start default: nothing learned), so an agent never
states one as learned (:data:`agents.base.ASSUMED`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from agents.base import ASSUMED, AgentManifest, UserHistory
from agents.registry import registry
from oo_app.models import PrefSource, UserPreference, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inferred:
    """Every parameter of an agent for one history: ``values`` by key, and the keys of ``assumed`` values (their
    cold-start default, for too little history or a failed inference: nothing learned)."""

    values: dict[str, Any]
    assumed: frozenset[str]

    def params(self, own: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What the agent computes with: these values, the person's ``own`` over them, and :data:`ASSUMED` (the
        assumed keys, less those the person set: their value is theirs, never an assumption)."""
        own = own or {}
        return {**self.values, **own, ASSUMED: self.assumed - own.keys()}


def infer_params(manifest: AgentManifest, history: UserHistory) -> Inferred:
    """Every inferred parameter of ``manifest`` for ``history``: inferred, or its cold-start default (assumed)."""
    values: dict[str, Any] = {}
    assumed: set[str] = set()
    for param in manifest.params:
        if len(history.events) < param.min_history:
            values[param.key] = copy.deepcopy(param.cold_start_default)
            assumed.add(param.key)
            continue
        try:
            value = param.infer(history)
        except Exception:
            log.exception("inference of %s.%s failed; using its cold-start default", manifest.id, param.key)
            value = None
        if value is None:
            value = copy.deepcopy(param.cold_start_default)
            assumed.add(param.key)
        values[param.key] = value
    return Inferred(values, frozenset(assumed))


def run_inference(manifest: AgentManifest, history: UserHistory) -> dict[str, Any]:
    """Every inferred parameter of ``manifest`` for ``history``: inferred, or its cold-start default."""
    return infer_params(manifest, history).values


def learned_keys(manifest: AgentManifest, history: UserHistory) -> set[str]:
    """The parameters of ``manifest`` that ``history`` tells something of: inferred (not assumed) from the person's
    own history, without the population prior (what most people take up is not something oO learned about this
    person)."""
    own = dataclasses.replace(history, tip_prior=()) if history.tip_prior else history
    inferred = infer_params(manifest, own)
    return set(inferred.values) - inferred.assumed


def infer_all(history: UserHistory) -> dict[str, dict[str, Any]]:
    """Every registered agent's parameters for ``history``, by agent id; the values are JSON-ready."""
    return {agent_id: run_inference(agent.manifest, history) for agent_id, agent in registry().items()}


# Every agent run reads them: built once, their values bound at each call (building a statement costs SQLAlchemy more
# CPU than running it).
_IN_SCOPE = select(UserPreference).where(
    UserPreference.user_id == sa.bindparam("user_id"), UserPreference.scope == sa.bindparam("scope")
)
_OWN_IN_SCOPE = _IN_SCOPE.where(UserPreference.source == PrefSource.user)
_IN_SCOPES = select(UserPreference).where(
    UserPreference.user_id == sa.bindparam("user_id"),
    col(UserPreference.scope).in_(sa.bindparam("scopes", expanding=True)),
)
_OWN_IN_SCOPES = _IN_SCOPES.where(UserPreference.source == PrefSource.user)


def stored_in(
    session: Session, user_id: int, scopes: Sequence[str], *, own_only: bool = False
) -> dict[str, list[UserPreference]]:
    """The person's stored rows under each of ``scopes`` (only those they set themselves with ``own_only``), by scope
    (a scope without rows is missing), read in one query: several agents computed together read them once."""
    bound = {"user_id": user_id, "scopes": list(scopes)}
    found: dict[str, list[UserPreference]] = {}
    for pref in session.exec(_OWN_IN_SCOPES if own_only else _IN_SCOPES, params=bound):
        found.setdefault(pref.scope, []).append(pref)
    return found


def save_inferred(
    session: Session,
    user_id: int,
    scope: str,
    values: Mapping[str, Any],
    stored: Sequence[UserPreference] | None = None,
) -> dict[str, Any]:
    """Store inferred values under ``scope``; rows the person set themselves (source ``user``) stay untouched, and
    their values are returned (what :func:`effective_params` reads, without reading them again). ``stored``: the rows
    under ``scope`` when the caller read them since the values were computed (:func:`stored_in`)."""
    rows = stored if stored is not None else session.exec(_IN_SCOPE, params={"user_id": user_id, "scope": scope})
    existing = {pref.key: pref for pref in rows}
    for key, value in values.items():
        pref = existing.get(key)
        if pref is None:
            upsert_inferred(session, user_id, scope, key, value)
        elif pref.source == PrefSource.inferred and pref.value != value:
            pref.value = value
            pref.updated_at = utcnow()
            session.add(pref)
    return {key: pref.value for key, pref in existing.items() if pref.source == PrefSource.user}


def _upsert(dialect: Any) -> Any:
    """The insert-or-update of one inferred value in ``dialect`` (PostgreSQL's or SQLite's), its values bound at each
    call (an insert's parameters may not be named as its columns)."""
    table = UserPreference.__table__
    statement = dialect.insert(table).values(
        user_id=sa.bindparam("the_person"),
        scope=sa.bindparam("the_scope"),
        key=sa.bindparam("the_key"),
        value=sa.bindparam("the_value", type_=table.c.value.type),
        source=PrefSource.inferred.value,
        updated_at=sa.bindparam("the_time", type_=table.c.updated_at.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.scope, table.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        where=table.c.source == PrefSource.inferred.value,
    )


# Every agent run may upsert: built once per dialect (building a statement costs SQLAlchemy more CPU than running it).
_UPSERTS = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


def upsert_inferred(session: Session, user_id: int, scope: str, key: str, value: Any) -> None:
    """Insert an inferred value; when another run stored the same key meanwhile (two workers computing one person),
    update that row instead, unless the person set it. One statement: no unique-key error, no lost value."""
    dialect = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    bound = {"the_person": user_id, "the_scope": scope, "the_key": key, "the_value": value, "the_time": utcnow()}
    session.execute(_UPSERTS[dialect], bound)


def own_values(session: Session, user_id: int, scope: str) -> dict[str, Any]:
    """The values the person set themselves under ``scope`` (source ``user``), by key; reads only."""
    rows = session.exec(_OWN_IN_SCOPE, params={"user_id": user_id, "scope": scope})
    return {pref.key: pref.value for pref in rows}


def effective_params(
    session: Session, user_id: int, manifest: AgentManifest, inferred: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters an agent computes with: the person's own values win over inferred ones."""
    return {**inferred, **own_values(session, user_id, manifest.id)}
