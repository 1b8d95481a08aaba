"""Which agents may speak for a person: consents granted, not switched off, fitting the active context.

Used by the runner (what to compute) and the recommender (whose snippets to read), so both agree.
"""

from __future__ import annotations

from sqlmodel import Session, select

from agents.base import Agent
from agents.registry import registry
from oo_app.models import Consent, Context, UserPreference

ENABLED_KEY = "enabled"


def eligible_agents(session: Session, user_id: int) -> list[Agent]:
    granted = set(
        session.exec(select(Consent.key).where(Consent.user_id == user_id, Consent.granted == True))  # noqa: E712
    )
    disabled = {
        pref.scope
        for pref in session.exec(
            select(UserPreference).where(UserPreference.user_id == user_id, UserPreference.key == ENABLED_KEY)
        )
        if pref.value is False
    }
    active_contexts = set(
        session.exec(select(Context.name).where(Context.user_id == user_id, Context.active == True))  # noqa: E712
    )
    return [
        agent
        for agent in registry().values()
        if set(agent.manifest.consents) <= granted
        and agent.manifest.id not in disabled
        and (not agent.manifest.contexts or not active_contexts or active_contexts & set(agent.manifest.contexts))
    ]
