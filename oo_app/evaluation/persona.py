"""The simulated person of :mod:`oo_app.evaluation.simulation`: a persona file split into the history oO may see
and the ``truth`` only the person knows, and how they live and react to tips. This is the only reader of ``truth``.

The reaction model:

- a tip delivered inside their TRUE quiet window is a quiet-hours violation: they are annoyed and dismiss it;
- otherwise they do it (``done``) with probability ``p``, capped at 0.9, where ``p`` is 0.10, plus 0.05 when their
  engagement trend is rising (minus 0.05 when falling), plus 0.25 / 0.15 / 0.05 when the tip arrives 0 / 1 / 2
  hours from their true preferred hour, plus 0.25 when its text names one of their true preferred areas (as their
  projects are spelled), plus 0.10 when it names a clock time within an hour of their true preferred hour, plus
  0.10 for a todo when they are punctual (lateness tolerance at most half a day), plus their hidden tastes:
  ``tastes.agents[tip.lead_agent]`` (nothing when the tip has no lead agent) and ``tastes.kinds[tip.kind]``;
  ``p`` is halved when they saw the very same text among their last ten tips, and never goes below 0;
- a tip they do not do is ``snoozed`` when it touched one of those preferences (area, time, todo) and
  ``dismissed`` when it did not. Nobody ``likes`` a tip (it would count as accepted).

``weekly_cycle_strong`` and ``cold_start`` plant nothing they react to. Their life goes on: each local day they
complete the tasks of a past day of their own history with the same weekday, drawn at random, at the same wall-clock
times, so the agents keep seeing a living history instead of empty days.
"""

from __future__ import annotations

import json
import random
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from oo_app.clock import as_utc, zone
from oo_app.models import Reaction, Tip, TipKind
from oo_app.recommender.timing import hour_distance, is_quiet

# The reaction model (see the module docstring).
BASE_DONE = 0.10
TREND_SHIFT = {"rising": 0.05, "steady": 0.0, "falling": -0.05}
TIMING_BONUS = (0.25, 0.15, 0.05)  # by hours between delivery and the true preferred hour
CONTENT_BONUS = {"area": 0.25, "time": 0.10, "todo": 0.10}
PUNCTUAL_DAYS = 0.5
REPEAT_FACTOR = 0.5
MAX_DONE = 0.9
SEEN_TIPS = 10
CLOCK = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")


@dataclass(frozen=True)
class Truth:
    """The habits planted in a persona that the reaction model uses (local hours in ``tz``)."""

    tz: str
    preferred_hour: int
    quiet_start: int
    quiet_end: int
    preferred_areas: tuple[str, ...]
    lateness_tolerance_days: float
    engagement_trend: str
    agent_tastes: Mapping[str, float] = field(default_factory=dict)
    kind_tastes: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Truth:
        tastes = data.get("tastes") or {}
        return cls(
            tz=str(data["tz"]),
            preferred_hour=int(data["preferred_hour"]),
            quiet_start=int(data["quiet_start"]),
            quiet_end=int(data["quiet_end"]),
            preferred_areas=tuple(str(area) for area in data.get("preferred_areas") or ()),
            lateness_tolerance_days=float(data.get("lateness_tolerance_days", 0.0)),
            engagement_trend=str(data.get("engagement_trend", "steady")),
            agent_tastes={str(k): float(v) for k, v in (tastes.get("agents") or {}).items()},
            kind_tastes={str(k): float(v) for k, v in (tastes.get("kinds") or {}).items()},
        )

    def taste(self, lead_agent: str | None, kind: str) -> float:
        """How much their hidden tastes shift the chance of doing a tip led by ``lead_agent`` of ``kind``."""
        shift = self.agent_tastes.get(lead_agent, 0.0) if lead_agent else 0.0
        return shift + self.kind_tastes.get(kind, 0.0)

    @property
    def quiet(self) -> dict[str, Any]:
        """The true quiet window in the form :func:`is_quiet` reads."""
        return {"tz": self.tz, "quiet_start": self.quiet_start, "quiet_end": self.quiet_end}


@dataclass(frozen=True)
class Persona:
    """A persona file split in two: ``history`` (what oO may see) and ``truth`` (what only the person knows)."""

    id: str
    history: dict[str, Any]
    truth: Truth


def load_persona(path: Path) -> Persona:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    truth = Truth.from_mapping(data.pop("truth"))
    return Persona(id=str(data.get("id") or Path(path).stem), history=data, truth=truth)


class SimulatedPerson:
    """One persona living through a simulation: the tasks they complete each day and their reactions to tips."""

    def __init__(self, persona: Persona, seed: int) -> None:
        self.persona = persona
        self.seed = seed
        self.zone = zone(persona.truth.tz)
        self.seen: deque[str] = deque(maxlen=SEEN_TIPS)
        self.past_days, self.completed = _completions_by_day(persona.history, self.zone)

    def rng(self, *key: object) -> random.Random:
        """A generator keyed by the seed, the persona and ``key``: the same draw under every policy."""
        return random.Random(":".join(str(part) for part in (self.seed, self.persona.id, *key)))

    def completions_on(self, day: date) -> list[dict[str, str]]:
        """The tasks they complete on their local ``day`` (persona format): those of a past day with the same
        weekday drawn at random, moved to ``day`` at the same wall-clock times, as late as they were."""
        same_weekday = [past for past in self.past_days if past.weekday() == day.weekday()]
        if not same_weekday:
            return []
        source = self.rng("life", day.isoformat()).choice(same_weekday)
        moved = []
        for completion in self.completed.get(source, []):
            done = as_utc(completion["completed_at"])
            completed_at = datetime.combine(day, done.astimezone(self.zone).time(), tzinfo=self.zone).astimezone(UTC)
            entry = {"completed_at": completed_at.isoformat(), "project": completion.get("project", "")}
            if completion.get("due_at"):
                entry["due_at"] = (completed_at - (done - as_utc(completion["due_at"]))).isoformat()
            moved.append(entry)
        return moved

    def in_quiet_hours(self, moment: datetime) -> bool:
        return is_quiet(self.persona.truth.quiet, moment)

    def touches(self, tip: Tip) -> set[str]:
        """The planted preferences a tip speaks to: ``area``, ``time`` and (for the punctual) ``todo``."""
        return self._touches(tip.text, str(tip.kind))

    def _touches(self, text: str, kind: str) -> set[str]:
        truth = self.persona.truth
        found = set()
        if any(re.search(rf"\b{re.escape(area)}\b", text) for area in truth.preferred_areas):
            found.add("area")
        if any(hour_distance(int(hour), truth.preferred_hour) <= 1 for hour in CLOCK.findall(text)):
            found.add("time")
        if kind == TipKind.todo and truth.lateness_tolerance_days <= PUNCTUAL_DAYS:
            found.add("todo")
        return found

    def done_probability(self, tip: Tip, moment: datetime) -> float:
        """Their chance of doing ``tip`` delivered at ``moment`` outside their quiet window (the reaction model)."""
        return self.chance(tip.text, str(tip.kind), tip.lead_agent, moment)

    def chance(self, text: str, kind: str, lead_agent: str | None, moment: datetime) -> float:
        """Their chance of doing a tip saying ``text`` (of ``kind``, led by ``lead_agent``) delivered at ``moment``
        outside their quiet window: the reaction model with their hidden tastes. The oracle asks it of each
        candidate."""
        truth = self.persona.truth
        distance = hour_distance(moment.astimezone(self.zone).hour, truth.preferred_hour)
        p = BASE_DONE + TREND_SHIFT.get(truth.engagement_trend, 0.0)
        p += TIMING_BONUS[distance] if distance < len(TIMING_BONUS) else 0.0
        p += sum(CONTENT_BONUS[preference] for preference in self._touches(text, kind))
        p += truth.taste(lead_agent, kind)
        if text in self.seen:
            p *= REPEAT_FACTOR
        return max(0.0, min(p, MAX_DONE))

    def reaction(self, tip: Tip, moment: datetime) -> Reaction:
        """How they answer ``tip`` delivered at ``moment`` (see the module docstring)."""
        if self.in_quiet_hours(moment):
            answer = Reaction.dismissed
        elif self.rng("tip", moment.isoformat()).random() < self.done_probability(tip, moment):
            answer = Reaction.done
        else:
            answer = Reaction.snoozed if self.touches(tip) else Reaction.dismissed
        self.seen.append(tip.text)
        return answer


def _completions_by_day(
    history: Mapping[str, Any], local_zone: ZoneInfo
) -> tuple[list[date], dict[date, list[dict[str, Any]]]]:
    """Every whole local day of ``history`` (empty ones included) and its completions by local day."""
    completed: dict[date, list[dict[str, Any]]] = {}
    for completion in history.get("task_completions") or []:
        day = as_utc(completion["completed_at"]).astimezone(local_zone).date()
        completed.setdefault(day, []).append(completion)
    moments = [as_utc(c["completed_at"]) for c in history.get("task_completions") or []]
    moments += [as_utc(e["at"]) for e in history.get("events") or []]
    if not moments:
        return [], completed
    first = min(moments).astimezone(local_zone).date()
    today = as_utc(history["now"]).astimezone(local_zone).date()
    return [first + timedelta(days=offset) for offset in range((today - first).days)], completed
