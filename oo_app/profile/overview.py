"""What the settings page reads in one go: the person, their preferences, consents, contexts and integrations, and the
catalogue of agents. Reading only; integration tokens are never read, let alone decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from agents.registry import registry
from oo_app.models import Integration, User
from oo_app.profile.consents import ConsentState, list_consents
from oo_app.profile.contexts import ContextState, list_contexts
from oo_app.profile.param_rules import meaning, rule_for
from oo_app.profile.prefs import ScopePrefs, list_preferences


@dataclass(frozen=True)
class PersonInfo:
    id: int
    email: str
    display_name: str
    tz: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class IntegrationState:
    """A connected service as the person sees it: never a token, only since when and what for."""

    provider: str
    status: str
    scopes: str
    connected_since: datetime
    expires_at: datetime | None
    last_synced_at: datetime | None = None
    last_error: str | None = None  # why the last sync failed, in words for the person; None after a success


@dataclass(frozen=True)
class Profile:
    person: PersonInfo
    prefs: list[ScopePrefs]
    consents: list[ConsentState]
    contexts: list[ContextState]
    integrations: list[IntegrationState]


@dataclass(frozen=True)
class ParamInfo:
    key: str
    description: str
    min_history: int
    cold_start_default: Any
    expects: str


@dataclass(frozen=True)
class AgentInfo:
    """An agent's manifest as the registry API shows it (durations in seconds)."""

    id: str
    version: str
    description: str
    ttl_s: float
    schedule_s: float
    consents: list[str]
    contexts: list[str]
    params: list[ParamInfo]


def person_info(user: User) -> PersonInfo:
    return PersonInfo(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        tz=user.tz,
        role=str(user.role),
        created_at=user.created_at,
    )


def integration_states(session: Session, user: User) -> list[IntegrationState]:
    """The person's integrations; the token columns are not even selected."""
    rows = session.exec(
        select(
            Integration.provider,
            Integration.status,
            Integration.scopes,
            Integration.created_at,
            Integration.expires_at,
            Integration.last_synced_at,
            Integration.last_error,
        )
        .where(Integration.user_id == user.id)
        .order_by(col(Integration.id))
    )
    return [IntegrationState(*row) for row in rows]


def profile_of(session: Session, user: User, now: datetime | None = None) -> Profile:
    """Everything the settings page shows about ``user``."""
    return Profile(
        person=person_info(user),
        prefs=list_preferences(session, user, now),
        consents=list_consents(session, user),
        contexts=list_contexts(session, user),
        integrations=integration_states(session, user),
    )


def agent_catalogue() -> list[AgentInfo]:
    """Every agent of the registry with its manifest, in id order."""
    return [
        AgentInfo(
            id=manifest.id,
            version=manifest.version,
            description=manifest.description,
            ttl_s=manifest.ttl.total_seconds(),
            schedule_s=manifest.schedule.total_seconds(),
            consents=list(manifest.consents),
            contexts=list(manifest.contexts),
            params=[
                ParamInfo(
                    key=param.key,
                    description=meaning(param.key, param.description),
                    min_history=param.min_history,
                    cold_start_default=param.cold_start_default,
                    expects=rule_for(param.key, param.cold_start_default).expects,
                )
                for param in manifest.params
            ],
        )
        for manifest in (agent.manifest for agent in registry().values())
    ]
