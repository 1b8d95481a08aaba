"""When an agent's output is due again for a person: the rule, and the order that names a pair's latest output.

One rule for the single computations (:func:`agents.runner.is_due`: a tip, a recompute) and the scheduler's rounds.
Reads only; never writes an output.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlmodel import col

from agents.base import AgentManifest
from oo_app.models import AgentOutput

# A pair's latest output: the last computed, of two computed at one moment the last written.
NEWEST_FIRST = (col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())


class Stamps(NamedTuple):
    """What the rule reads of an output (an :class:`AgentOutput` has the same attributes)."""

    agent_version: str
    computed_at: datetime
    expires_at: datetime


def is_stale(latest: AgentOutput | Stamps | None, manifest: AgentManifest, now: datetime) -> bool:
    """Whether the agent of ``manifest`` is due at ``now`` for a person whose latest output of it is ``latest``: none
    yet, another version's, expired, or computed a whole schedule ago."""
    return (
        latest is None
        or latest.agent_version != manifest.version
        or latest.expires_at <= now
        or latest.computed_at + manifest.schedule <= now
    )
