"""The agent registry: every module of the ``agents`` package that defines ``AGENT``, discovered at first use.

Adding an agent is adding a module; no other file lists agents.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import agents
from agents.base import Agent


@lru_cache
def registry() -> dict[str, Agent]:
    """All agents by id, in a stable (id) order."""
    found: dict[str, Agent] = {}
    for module_info in pkgutil.iter_modules(agents.__path__):
        module = importlib.import_module(f"agents.{module_info.name}")
        agent = getattr(module, "AGENT", None)
        if isinstance(agent, Agent):
            if agent.manifest.id in found:
                raise RuntimeError(f"two agents share the id {agent.manifest.id!r}")
            found[agent.manifest.id] = agent
    return dict(sorted(found.items()))


def get_agent(agent_id: str) -> Agent:
    try:
        return registry()[agent_id]
    except KeyError:
        raise KeyError(f"no agent {agent_id!r}; known: {', '.join(registry())}") from None
