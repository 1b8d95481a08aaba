"""Queries of the people notebook (``admin_notebooks/people.py``): what an operator may see of one person (the
settings page's profile, never a token), their latest tips and newest output per agent. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from oo_app.errors import NotFound
from oo_app.hub.shared import hub_session
from oo_app.hub.tips import TipFilters, tip_rows
from oo_app.models import AgentOutput, User
from oo_app.profile.overview import Profile, profile_of


@dataclass(frozen=True)
class PersonCard:
    """What an operator may see of one person: the profile of the settings page (never a token), their latest tips
    (columns :data:`TIP_LOG_COLUMNS`) and their newest output per agent."""

    profile: Profile
    tips: pd.DataFrame
    outputs: pd.DataFrame


def find_person(engine: Engine, who: str, now: datetime | None = None, tips: int = 20) -> PersonCard:
    """The :class:`PersonCard` of the person whose id or exact email (any case) is ``who``; NotFound otherwise."""
    now = now or datetime.now(UTC)
    who = who.strip()
    with hub_session(engine) as session:
        if who.isdigit():
            user = session.get(User, int(who))
        else:
            user = session.exec(select(User).where(func.lower(User.email) == who.lower())).first()
        if user is None:
            raise NotFound(f"no person with the id or email {who!r}")
        profile = profile_of(session, user, now)
        latest = session.exec(
            select(
                AgentOutput.agent_id,
                AgentOutput.agent_version,
                AgentOutput.computed_at,
                AgentOutput.expires_at,
                AgentOutput.snippet,
            )
            .where(AgentOutput.user_id == user.id)
            .order_by(col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())
        ).all()
        log_rows = tip_rows(session, TipFilters(person=str(user.id), shadow=None), tips)
    newest: dict[str, tuple[Any, ...]] = {}
    for agent_id, version, computed_at, expires_at, snippet in latest:
        newest.setdefault(agent_id, (agent_id, version, computed_at, expires_at, expires_at > now, snippet))
    outputs = pd.DataFrame(
        [newest[agent_id] for agent_id in sorted(newest)],
        columns=["agent", "version", "computed_at", "expires_at", "fresh", "snippet"],
    )
    return PersonCard(profile=profile, tips=log_rows, outputs=outputs)
