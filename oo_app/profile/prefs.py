"""A person's preferences per scope ("global" or an agent id): what oO inferred, what they set, and which one applies.

Contract: a value the person sets is validated (:mod:`oo_app.profile.param_rules`) and stored with source ``user``;
inference never overwrites it (:func:`agents.inference.save_inferred`). Resetting deletes the person's value and puts
back what oO infers from their history now, with source ``inferred``. The table holds one row per (person, scope,
key), so the inferred value shown beside an override is inferred afresh from the history, as the runner would.
Functions here flush and never commit: the caller's session is the transaction.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import AgentManifest, UserHistory
from agents.eligibility import ENABLED_KEY
from agents.inference import learned_keys, run_inference, save_inferred
from agents.registry import registry
from agents.runner import load_history, with_tip_outcomes
from oo_app.errors import InvalidInput
from oo_app.models import PrefSource, User, UserPreference
from oo_app.profile.param_rules import ENABLED, meaning, rule_for
from oo_app.profile.plain_words import Statement, statements
from oo_app.profile.zone import ZONE_KEY

GLOBAL_SCOPE = "global"
GLOBAL_DESCRIPTION = "Settings for every agent at once. None exist yet; each agent's own settings are below."

Source = Literal["user", "inferred", "default"]
AREAS_KEY = "preferred_areas"  # the parameter whose control offers the person's projects as chips
AREA_CHOICES = 8  # projects the area chips offer at most, besides the chosen ones


@dataclass(frozen=True)
class ParamState:
    """One parameter as the person sees it.

    ``value`` is what the agent computes with; ``source`` says where it comes from: ``user`` (the person set it),
    ``inferred`` (oO learned it from their history) or ``default`` (the cold-start default: too little history yet).
    ``inferred`` is what oO would use without the person's value (beside an override, inferred from the history now).
    ``expects`` describes a valid value.
    """

    key: str
    description: str
    value: Any
    source: Source
    inferred: Any
    default: Any
    expects: str
    updated_at: datetime | None
    learned: bool = False  # ``inferred`` is learned from the person's history (False: the cold-start default)


@dataclass(frozen=True)
class ScopePrefs:
    """The settings of one scope: ``enabled`` is False when the person switched the agent off (``global``: True);
    ``in_words`` says its parameters as a person reads them (:mod:`oo_app.profile.plain_words`)."""

    scope: str
    description: str
    enabled: bool
    params: list[ParamState]
    in_words: list[Statement] = field(default_factory=list)


def scopes() -> list[str]:
    """Every scope a preference may have: ``global``, then the agent ids of the registry."""
    return [GLOBAL_SCOPE, *registry()]


def setting_keys() -> list[str]:
    """Every key some scope takes (``enabled`` and each agent parameter), sorted."""
    return sorted({ENABLED_KEY} | {param.key for agent in registry().values() for param in agent.manifest.params})


def _manifest(scope: str) -> AgentManifest | None:
    """The agent manifest of ``scope`` (None for ``global``); InvalidInput for an unknown scope."""
    if scope == GLOBAL_SCOPE:
        return None
    agent = registry().get(scope)
    if agent is None:
        raise InvalidInput(f"unknown preference scope {scope!r}; use one of: {', '.join(scopes())}")
    return agent.manifest


def _rows(session: Session, user_id: int, scope: str | None = None) -> list[UserPreference]:
    query = select(UserPreference).where(UserPreference.user_id == user_id)
    if scope is not None:
        query = query.where(UserPreference.scope == scope)
    return list(session.exec(query))


class _Lazy:
    """The person's history and fresh inference, loaded only when a listing needs them, at most once."""

    def __init__(self, session: Session, user: User, now: datetime) -> None:
        self._session, self._user, self._now = session, user, now
        self._history: UserHistory | None = None
        self._inferred: dict[str, dict[str, Any]] = {}
        self._learned: dict[str, set[str]] = {}

    @property
    def zone(self) -> str:
        return self._user.tz

    @property
    def history(self) -> UserHistory:
        if self._history is None:
            self._history = load_history(self._session, self._user, self._now)
        return self._history

    def _agent_history(self, manifest: AgentManifest) -> UserHistory:
        return with_tip_outcomes(self._session, self._user.id, manifest, self.history)

    def inferred(self, manifest: AgentManifest) -> dict[str, Any]:
        if manifest.id not in self._inferred:
            self._inferred[manifest.id] = run_inference(manifest, self._agent_history(manifest))
        return self._inferred[manifest.id]

    def learned(self, manifest: AgentManifest) -> set[str]:
        """The keys the person's own history tells something of now (:func:`agents.inference.learned_keys`)."""
        if manifest.id not in self._learned:
            self._learned[manifest.id] = learned_keys(manifest, self._agent_history(manifest))
        return self._learned[manifest.id]

    def areas(self) -> list[str]:
        """The person's projects, most done first (at most :data:`AREA_CHOICES`): what the area chips offer."""
        done = Counter(completion.project for completion in self.history.task_completions if completion.project)
        return [project for project, _ in done.most_common(AREA_CHOICES)]


def _agent_prefs(manifest: AgentManifest, rows: list[UserPreference], lazy: _Lazy) -> ScopePrefs:
    by_key = {row.key: row for row in rows}
    enabled_row = by_key.get(ENABLED_KEY)
    params: list[ParamState] = []
    learned = lazy.learned(manifest)
    for param in manifest.params:
        row = by_key.get(param.key)
        # The zone starts as the person's own (``users.tz``), as the agent would infer it with no history.
        default = lazy.zone if param.key == ZONE_KEY else copy.deepcopy(param.cold_start_default)
        rule = rule_for(param.key, param.cold_start_default)
        # A stored value is learned only while the person's history tells it now; otherwise it is the default the
        # runner stored for want of history (or a value their history no longer bears out), and says so.
        known = param.key in learned
        if row is not None and row.source == PrefSource.user:
            value, source, inferred = row.value, "user", lazy.inferred(manifest)[param.key]
        elif row is not None:
            value, source, inferred = row.value, "inferred" if known else "default", row.value
        else:
            value, source, inferred = default, "default", default
        params.append(
            ParamState(
                key=param.key,
                description=meaning(param.key, param.description),
                value=value,
                source=source,
                inferred=inferred,
                default=default,
                expects=rule.expects,
                updated_at=row.updated_at if row is not None else None,
                learned=known,
            )
        )
    uses_areas = any(param.key == AREAS_KEY for param in manifest.params)
    return ScopePrefs(
        scope=manifest.id,
        description=manifest.description,
        enabled=not (enabled_row is not None and enabled_row.value is False),
        params=params,
        in_words=statements(params, lazy.areas() if uses_areas else ()),
    )


def _global_prefs() -> ScopePrefs:
    return ScopePrefs(scope=GLOBAL_SCOPE, description=GLOBAL_DESCRIPTION, enabled=True, params=[])


def list_preferences(session: Session, user: User, now: datetime | None = None) -> list[ScopePrefs]:
    """Every scope's settings for ``user``, ``global`` first, then each agent of the registry."""
    lazy = _Lazy(session, user, now or datetime.now(UTC))
    rows = _rows(session, user.id)
    listing = [_global_prefs()]
    for agent_id, agent in registry().items():
        listing.append(_agent_prefs(agent.manifest, [row for row in rows if row.scope == agent_id], lazy))
    return listing


def scope_preferences(session: Session, user: User, scope: str, now: datetime | None = None) -> ScopePrefs:
    """The settings of one scope for ``user``; InvalidInput for an unknown scope."""
    manifest = _manifest(scope)
    if manifest is None:
        return _global_prefs()
    return _agent_prefs(manifest, _rows(session, user.id, scope), _Lazy(session, user, now or datetime.now(UTC)))


def _validated(scope: str, manifest: AgentManifest | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` with every value checked (None: reset); InvalidInput naming the first bad key and what it takes."""
    if manifest is None:
        if changes:
            key = next(iter(changes))
            raise InvalidInput(
                f"the global scope has no setting {key!r} yet; set an agent's own settings instead "
                f"(scopes: {', '.join(scopes()[1:])})"
            )
        return {}
    params = {param.key: param for param in manifest.params}
    checked: dict[str, Any] = {}
    for key, value in changes.items():
        if key != ENABLED_KEY and key not in params:
            known = ", ".join([ENABLED_KEY, *params])
            raise InvalidInput(f"{scope} has no setting {key!r}; its settings are: {known}")
        if value is None:
            checked[key] = None
            continue
        rule = ENABLED if key == ENABLED_KEY else rule_for(key, params[key].cold_start_default)
        try:
            checked[key] = rule(value)
        except ValueError as error:
            raise InvalidInput(f"{scope}.{key}: {error}, not {value!r}"[:500]) from None
    return checked


def _set_user_value(session: Session, user_id: int, scope: str, key: str, value: Any, now: datetime) -> None:
    row = session.exec(
        select(UserPreference).where(
            UserPreference.user_id == user_id, UserPreference.scope == scope, UserPreference.key == key
        )
    ).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    UserPreference(
                        user_id=user_id, scope=scope, key=key, value=value, source=PrefSource.user, updated_at=now
                    )
                )
            return
        except sa.exc.IntegrityError:
            # The runner stored an inferred value meanwhile: the person's value replaces it below.
            row = session.exec(
                select(UserPreference).where(
                    UserPreference.user_id == user_id, UserPreference.scope == scope, UserPreference.key == key
                )
            ).one()
    row.value, row.source, row.updated_at = value, PrefSource.user, now
    session.add(row)


def set_preferences(
    session: Session, user: User, scope: str, changes: Mapping[str, Any], now: datetime | None = None
) -> ScopePrefs:
    """Apply ``changes`` ({key: value, or None to reset}) to ``scope`` for ``user``, all or nothing; the scope after.

    Every value is checked before anything is written: an unknown scope or key, or an invalid value, raises
    InvalidInput and changes nothing. A value is stored with source ``user`` (inference never overwrites it); a reset
    deletes it and stores what oO infers from the history now (``enabled``: the agent is on again).
    """
    manifest = _manifest(scope)
    checked = _validated(scope, manifest, changes)
    if manifest is None or not checked:
        return scope_preferences(session, user, scope, now)
    now = now or datetime.now(UTC)
    resets = [key for key, value in checked.items() if value is None]
    for key, value in checked.items():
        if value is not None:
            _set_user_value(session, user.id, scope, key, value, now)
    if resets:
        session.exec(
            sa.delete(UserPreference).where(
                UserPreference.user_id == user.id,
                UserPreference.scope == scope,
                col(UserPreference.key).in_(resets),
                UserPreference.source == PrefSource.user,
            )
        )
        inferred_keys = [key for key in resets if key != ENABLED_KEY]
        if inferred_keys:
            history = with_tip_outcomes(session, user.id, manifest, load_history(session, user, now))
            inferred = run_inference(manifest, history)
            save_inferred(session, user.id, scope, {key: inferred[key] for key in inferred_keys})
    session.flush()
    return scope_preferences(session, user, scope, now)


def set_preference(
    session: Session, user: User, scope: str, key: str, value: Any, now: datetime | None = None
) -> ScopePrefs:
    """Set one value (see :func:`set_preferences`); ``value`` None resets it."""
    return set_preferences(session, user, scope, {key: value}, now)


def reset_preference(session: Session, user: User, scope: str, key: str, now: datetime | None = None) -> ScopePrefs:
    """Drop the person's own value of ``key``: oO's inferred value applies again (see :func:`set_preferences`)."""
    return set_preferences(session, user, scope, {key: None}, now)
