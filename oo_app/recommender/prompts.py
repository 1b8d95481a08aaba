"""Versioned orchestrator prompts: templates live in ``prompts/<version>.txt`` beside this module.

A tip records the version it was written with; changing a template means adding a new version, never editing one
that tips already point to. The structured facts travel beside the prompt (LiteLLM ``metadata``), read by local
writers only; v1 carried them on its last line (``Facts (JSON):``), which :func:`parse_facts` still reads. v3 asks
for a gentler tip when the mood agent's line says energy is low now; v6 fits the tip to the calendar's free time; v7
says which signal the tip leads with (chosen by :mod:`.learning` from what the person takes up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from string import Template
from typing import Any

from agents.contexts import ContextKind, InEffect

PROMPTS_DIR = Path(__file__).parent / "prompts"
# v3 adds the context in effect; v4 (mood) gentleness; v5 quoted task titles; v6 the calendar's free time; v7 the lead
CURRENT_VERSION = "orchestrator-v7"
FACTS_PREFIX = "Facts (JSON): "
# The prompt lists the newest few recent tips (a budget of ~450 prompt tokens: the context, mood and task-title rules
# of v3-v5 took the last 50; v6's calendar rule and the calendar line, v7's lead and learner lines, one short line
# each); the repeat and
# near-duplicate guards check every recent tip the orchestrator passes (ten) whatever the prompt shows.
RECENT_IN_PROMPT = 5


@dataclass(frozen=True)
class SignalLine:
    agent_id: str
    text: str
    data: dict[str, Any]


@cache
@lru_cache(maxsize=64)
def template(version: str) -> Template:
    """The prompt of ``version``, read once per process: a version's file never changes (a changed prompt is a new
    version), and every tip renders one."""
    path = PROMPTS_DIR / f"{version}.txt"
    if not path.is_file():
        raise KeyError(f"no prompt version {version!r} in {PROMPTS_DIR}")
    return Template(path.read_text(encoding="utf-8"))


def facts_of(
    signals: list[SignalLine],
    recent_tips: list[str],
    examples: list[dict[str, str]] | None = None,
    context: InEffect | None = None,
) -> dict[str, Any]:
    """The structured facts of one generation: agent data and lines, recent tips, the person's good tips, and the
    context in effect (``{"name", "kind"}``, or None)."""
    return {
        "signals": {s.agent_id: s.data for s in signals},
        "lines": {s.agent_id: s.text for s in signals},
        "recent_tips": recent_tips,
        "examples": examples or [],
        "context": {"name": context.name, "kind": str(context.kind)} if context is not None else None,
    }


def context_line(context: InEffect | None) -> str:
    """The context as the prompt states it: ``context: holiday (rest)``, or ``context: none``."""
    if context is None:
        return "context: none"
    if context.kind is ContextKind.any:
        return f"context: {context.name}"
    return f"context: {context.name} ({context.kind})"


def fact_lines(facts: dict[str, Any]) -> list[str]:
    """What a tip may state (:mod:`.grounding`): the agents' lines and the context line."""
    stated = facts.get("context")
    context = InEffect(stated["name"], ContextKind(stated["kind"]), False) if stated else None
    return [*facts["lines"].values(), context_line(context)]


def lead_line(lead: str | None, signals: list[SignalLine]) -> str:
    """What the tip leads with, as v7 states it: a signal's line when that agent leads, else a general tip."""
    if lead is not None and any(s.agent_id == lead for s in signals):
        return f"Lead with the [{lead}] signal."
    return "Lead with no one signal: a general tip."


def render(
    signals: list[SignalLine],
    recent_tips: list[str],
    version: str = CURRENT_VERSION,
    context: InEffect | None = None,
    lead: str | None = None,
) -> str:
    """The prompt of ``version`` (the context line and the lead only in versions that have a place for them)."""
    facts = facts_of(signals, recent_tips)
    return template(version).substitute(
        lead=lead_line(lead, signals),
        context=context_line(context),
        signals="\n".join(f"- [{s.agent_id}] {s.text}" for s in signals) or "- (none yet)",
        recent="\n".join(f"- {tip}" for tip in recent_tips[:RECENT_IN_PROMPT]) or "- (none)",
        facts=json.dumps({k: facts[k] for k in ("signals", "recent_tips")}, ensure_ascii=False, sort_keys=True),
    )


def parse_facts(prompt: str) -> dict[str, Any]:
    """The facts a prompt carries on its ``Facts (JSON):`` line; empty facts when there is none."""
    for line in reversed(prompt.splitlines()):
        if line.startswith(FACTS_PREFIX):
            return json.loads(line.removeprefix(FACTS_PREFIX))
    return facts_of([], [])


def facts_from(messages: list, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The structured facts of a generation as a custom provider receives it: sent beside the prompt in ``metadata``,
    or (v1 prompts) inside it."""
    metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
    if "oo_facts" in metadata:
        return metadata["oo_facts"]
    return parse_facts("\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user"))
