"""Offline simulation: persons with planted preferences (the personas) react to oO's tips day after day.

Two sides, kept apart as in production:

* **oO** sees only a person's history: the persona's events and task completions, stored through the models in a
  migrated database, and what the simulation adds to it as it happens (tip events, further completions). The due
  agents run once at the start (:func:`agents.runner.run_due`, the scheduler's part); afterwards the recommender
  computes the outputs that have expired when it needs them, as it does in production. Each local day oO reads the
  time-of-day parameters it holds and delivers a tip at each of :func:`oo_app.recommender.timing.delivery_moments`: the
  inferred preferred hour and the inferred peak hours nearest to it, at most three a day, never inside the inferred
  quiet window. A policy's tip writer writes the tip, which is marked shown; the person's reaction goes through
  :func:`oo_app.recommender.react`, so it becomes an event the agents read on their next run.
* **The simulated person** alone reads the persona's ``truth``, the planted habits. Their reaction model:

  - a tip delivered inside their TRUE quiet window is a quiet-hours violation: they are annoyed and dismiss it;
  - otherwise they do it (``done``) with probability ``p``, capped at 0.9, where ``p`` is 0.10, plus 0.05 when their
    engagement trend is rising (minus 0.05 when falling), plus 0.25 / 0.15 / 0.05 when the tip arrives 0 / 1 / 2
    hours from their true preferred hour, plus 0.25 when its text names one of their true preferred areas (as their
    projects are spelled), plus 0.10 when it names a clock time within an hour of their true preferred hour, plus
    0.10 for a todo when they are punctual (lateness tolerance at most half a day); ``p`` is halved when they saw the
    very same text among their last ten tips;
  - a tip they do not do is ``snoozed`` when it touched one of those preferences (area, time, todo) and
    ``dismissed`` when it did not. Nobody ``likes`` a tip (it would count as accepted).

  ``weekly_cycle_strong`` and ``cold_start`` plant nothing they react to. Their life goes on: each local day they
  complete the tasks of a past day of their own history with the same weekday, drawn at random, at the same wall-clock
  times, so the agents keep seeing a living history instead of empty days.

Every policy runs on its own copy of the persons (users ``<persona>.<policy>@simulation.invalid``) with the same seed.
Random draws are keyed by (seed, persona, moment), so a delivery meets the same draw under every policy, and timing is
decided from the history alone: policies differ by their tips' content. The baseline ``random-agent`` always runs: the
composer's tip from the freshest snippet of ONE eligible agent drawn at random.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.base import as_utc, zone
from agents.runner import run_due
from oo_app.db import make_engine, migrate
from oo_app.demo import grant_consents, store_history
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.models import ACCEPTING_REACTIONS, Reaction, Tip, TipKind, User
from oo_app.recommender import mark_shown, react, recommend
from oo_app.recommender.composer import compose
from oo_app.recommender.orchestrator import freshest_outputs, recent_tip_texts
from oo_app.recommender.prompts import SignalLine, facts_of
from oo_app.recommender.timing import delivery_moments, hour_distance, is_quiet, timing_params

TipWriter = Callable[[Session, User, datetime], Tip]

BASELINE = "random-agent"
REACTION_DELAY = timedelta(minutes=10)
NO_PROMPT = "none"  # the baseline's tips are composed directly: no prompt, no alias

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


# --- the simulated person: the only reader of ``truth`` ---------------------------------------------------------------


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

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Truth:
        return cls(
            tz=str(data["tz"]),
            preferred_hour=int(data["preferred_hour"]),
            quiet_start=int(data["quiet_start"]),
            quiet_end=int(data["quiet_end"]),
            preferred_areas=tuple(str(area) for area in data.get("preferred_areas") or ()),
            lateness_tolerance_days=float(data.get("lateness_tolerance_days", 0.0)),
            engagement_trend=str(data.get("engagement_trend", "steady")),
        )

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
        truth = self.persona.truth
        found = set()
        if any(re.search(rf"\b{re.escape(area)}\b", tip.text) for area in truth.preferred_areas):
            found.add("area")
        if any(hour_distance(int(hour), truth.preferred_hour) <= 1 for hour in CLOCK.findall(tip.text)):
            found.add("time")
        if tip.kind == TipKind.todo and truth.lateness_tolerance_days <= PUNCTUAL_DAYS:
            found.add("todo")
        return found

    def done_probability(self, tip: Tip, moment: datetime) -> float:
        truth = self.persona.truth
        distance = hour_distance(moment.astimezone(self.zone).hour, truth.preferred_hour)
        p = BASE_DONE + TREND_SHIFT.get(truth.engagement_trend, 0.0)
        p += TIMING_BONUS[distance] if distance < len(TIMING_BONUS) else 0.0
        p += sum(CONTENT_BONUS[preference] for preference in self.touches(tip))
        if tip.text in self.seen:
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


# --- policies ---------------------------------------------------------------------------------------------------------


def random_agent_writer(seed: int) -> TipWriter:
    """The baseline policy: the composer's tip from the freshest snippet of ONE eligible agent, drawn at random (keyed
    by ``seed``, the person and the moment), logged like any tip with policy ``random-agent``."""

    def write(session: Session, user: User, now: datetime) -> Tip:
        outputs = freshest_outputs(session, user, now)
        chosen = [random.Random(f"{seed}:{user.email}:{now.isoformat()}").choice(outputs)] if outputs else []
        signals = [SignalLine(o.agent_id, o.snippet, o.data) for o in chosen]
        draft = compose(facts_of(signals, recent_tip_texts(session, user.id)))
        tip = Tip(
            user_id=user.id,
            text=draft.text,
            kind=draft.kind,
            prompt_version=NO_PROMPT,
            model_alias=NO_PROMPT,
            model=COMPOSER_MODEL,
            sources=[{"agent_id": o.agent_id, "agent_version": o.agent_version, "output_id": o.id} for o in chosen],
            policy=BASELINE,
            created_at=now,
        )
        session.add(tip)
        session.flush()
        return tip

    return write


# --- the report -------------------------------------------------------------------------------------------------------


@dataclass
class PolicyResult:
    """What one policy's tips met: reactions by persona, and tips delivered in a TRUE quiet window."""

    reactions_by_persona: dict[str, Counter[str]] = field(default_factory=dict)
    quiet_violations: int = 0

    def record(self, persona_id: str, reaction: Reaction, quiet: bool) -> None:
        self.reactions_by_persona.setdefault(persona_id, Counter())[reaction.value] += 1
        self.quiet_violations += quiet

    @property
    def reactions(self) -> dict[str, int]:
        """Tips by reaction, every kind of reaction listed."""
        total = sum(self.reactions_by_persona.values(), Counter())
        return {kind.value: total[kind.value] for kind in Reaction}

    @property
    def delivered(self) -> int:
        return sum(self.reactions.values())

    @property
    def accepted(self) -> int:
        return sum(self.reactions[kind] for kind in ACCEPTING_REACTIONS)

    @property
    def acceptance(self) -> float:
        """Accepted (done or liked) per delivered tip; 0 when none was delivered."""
        return self.accepted / self.delivered if self.delivered else 0.0

    def persona_acceptance(self) -> dict[str, float]:
        return {
            persona: sum(counts[kind] for kind in ACCEPTING_REACTIONS) / total if (total := counts.total()) else 0.0
            for persona, counts in self.reactions_by_persona.items()
        }


@dataclass(frozen=True)
class SimulationReport:
    """Per policy (the baseline ``random-agent`` included): tips, reactions, acceptance, quiet-hours violations."""

    days: int
    seed: int
    personas: tuple[str, ...]
    policies: dict[str, PolicyResult]

    def lift(self, policy: str) -> float | None:
        """``policy``'s acceptance divided by the baseline's; None when the baseline accepted nothing."""
        baseline = self.policies[BASELINE].acceptance
        return self.policies[policy].acceptance / baseline if baseline else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "seed": self.seed,
            "personas": list(self.personas),
            "baseline": BASELINE,
            "policies": {
                name: {
                    "delivered": result.delivered,
                    "reactions": result.reactions,
                    "accepted": result.accepted,
                    "acceptance": result.acceptance,
                    "lift": self.lift(name),
                    "quiet_hours_violations": result.quiet_violations,
                    "acceptance_by_persona": result.persona_acceptance(),
                }
                for name, result in self.policies.items()
            },
        }

    def table(self) -> str:
        """A short text table: one line per policy, then acceptance per persona."""
        kinds = [kind.value for kind in Reaction if any(r.reactions[kind.value] for r in self.policies.values())]
        width = max(len(name) for name in [*self.policies, *self.personas, "persona"])
        header = ["tips", *kinds, "acceptance", "lift", "quiet-hours"]
        lines = [
            f"{len(self.personas)} personas x {self.days} days, seed {self.seed}; lift = acceptance / {BASELINE}'s",
            f"{'policy':<{width}}  " + "  ".join(f"{column:>10}" for column in header),
        ]
        for name, result in self.policies.items():
            lift = self.lift(name)
            cells = [result.delivered, *(result.reactions[kind] for kind in kinds)]
            cells += [f"{result.acceptance:.1%}", "-" if lift is None else f"x{lift:.2f}", result.quiet_violations]
            lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>10}" for cell in cells))
        lines += ["", f"{'persona':<{width}}  " + "  ".join(f"{name:>12}" for name in self.policies)]
        by_policy = {name: result.persona_acceptance() for name, result in self.policies.items()}
        for persona in self.personas:
            cells = [f"{by_policy[name].get(persona, 0.0):.1%}" for name in self.policies]
            lines.append(f"{persona:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
        return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------------------------------


@contextmanager
def _database(url: str | None) -> Iterator[Engine]:
    """An engine on ``url`` migrated to head, or on a fresh SQLite file that is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="oo-simulation-") as folder:
        url = url or f"sqlite:///{Path(folder) / 'simulation.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _enroll(session: Session, persona: Persona, policy: str) -> User:
    """A person for ``persona`` under ``policy``, with the persona's history and the demo consents."""
    user = User(email=f"{persona.id}.{policy}@simulation.invalid", display_name=persona.id, tz=persona.history["tz"])
    session.add(user)
    session.flush()
    grant_consents(session, user)
    store_history(session, user, persona.history, source="persona")
    session.flush()
    return user


def _store_life(
    session: Session, user: User, completions: list[dict[str, str]], until: datetime
) -> list[dict[str, str]]:
    """Store those of ``completions`` done by ``until`` (they have happened); the others are returned."""
    happened = [c for c in completions if as_utc(c["completed_at"]) <= until]
    store_history(session, user, {"events": [], "task_completions": happened}, source=f"life-{until.isoformat()}")
    return [c for c in completions if as_utc(c["completed_at"]) > until]


def _deliver(session: Session, user: User, person: SimulatedPerson, writer: TipWriter, moment: datetime) -> Reaction:
    tip = mark_shown(session, writer(session, user, moment), moment)
    reaction = person.reaction(tip, moment)
    react(session, user, tip.id, reaction.value, moment + REACTION_DELAY)
    return reaction


def _live(
    session: Session, person: SimulatedPerson, policy: str, writer: TipWriter, days: int, result: PolicyResult
) -> None:
    """``person`` receives ``policy``'s tips for ``days`` days from their persona's ``now``, day by local day."""
    persona = person.persona
    user = _enroll(session, persona, policy)
    start = as_utc(persona.history["now"])
    end = start + timedelta(days=days)
    local_zone = zone(user.tz)
    run_due(session, start, [user.id])
    first = start.astimezone(local_zone).date()
    life: list[dict[str, str]] = []  # the person's completions still to happen
    for offset in range((end.astimezone(local_zone).date() - first).days + 1):
        day = first + timedelta(days=offset)
        life += [c for c in person.completions_on(day) if start < as_utc(c["completed_at"]) <= end]
        for moment in delivery_moments(timing_params(session, user), day):
            if start < moment <= end:
                life = _store_life(session, user, life, moment)
                reaction = _deliver(session, user, person, writer, moment)
                result.record(persona.id, reaction, person.in_quiet_hours(moment))
        life = _store_life(session, user, life, datetime.combine(day + timedelta(days=1), time(), tzinfo=local_zone))
        session.commit()


def simulate(
    personas: list[Path],
    *,
    days: int = 30,
    policies: dict[str, TipWriter] | None = None,
    seed: int = 0,
    database_url: str | None = None,
) -> SimulationReport:
    """Run every policy (default: the incumbent :func:`~oo_app.recommender.recommend`) and the baseline
    ``random-agent`` on copies of ``personas`` for ``days`` days, and report how their tips fared.

    ``database_url`` names a database to keep (migrated here; it must hold none of the simulation's persons); by
    default a temporary SQLite file is used. The tip writer is whatever the settings configure.
    """
    writers = dict(policies) if policies is not None else {"incumbent": recommend}
    if BASELINE in writers:
        raise ValueError(f"{BASELINE!r} is the baseline the simulation adds itself; name the policy differently")
    writers[BASELINE] = random_agent_writer(seed)
    loaded = [load_persona(path) for path in personas]
    results = {name: PolicyResult() for name in writers}
    with _database(database_url) as engine:
        for name, writer in writers.items():
            for persona in loaded:
                with Session(engine, expire_on_commit=False) as session:
                    _live(session, SimulatedPerson(persona, seed), name, writer, days, results[name])
    return SimulationReport(days=days, seed=seed, personas=tuple(p.id for p in loaded), policies=results)
