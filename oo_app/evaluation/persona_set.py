"""Independent persona sets: synthetic people whose habits and hidden tastes are drawn from a seed, written in the
shared persona format (``../shared/personas/README.md``), so the agents and the simulation can be checked on people
nobody tuned them on.

Contract: the same (seed, count) writes the same files; every file loads with
:func:`oo_app.evaluation.persona.load_persona` and its ``truth`` holds every key the README lists. The truth is what
was planted, drawn clear of the agents' decision boundaries (:func:`plant`); a cold-start persona's history is too
thin for some of it, as the README allows. Never reads the sample personas.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oo_app.clock import as_utc
from oo_app.demo import Habits, synthetic_history
from oo_app.errors import InvalidInput
from oo_app.models import TipKind

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Pacific/Marquesas",
    "Africa/Casablanca",
)
PROJECTS = ("Work", "Home", "Health", "Errands", "Learning", "Family")
HISTORY_DAYS = 90
# One person in seven is a cold start, as among the samples: about one completion every four days, too few for the
# agents that need volume (momentum wants 14 in the last five weeks, recent-patterns 30 in the last twelve) but
# enough for the time of day. Their history is drawn again until its counts are clear of those thresholds.
COLD_START_EVERY = 7
COLD_START_PER_DAY = (0.17, 0.21)
COLD_START_AT_MOST = {35: 10, 84: 24}  # completions in the last N days
COLD_START_AT_LEAST = 18  # completions in all
# Hidden tastes (README "Hidden tastes"): shifts of the chance of doing a tip by its lead agent and by its kind.
TASTE_AGENTS = ("time-of-day", "momentum", "overdue-task", "recent-patterns", "focus-area")
AGENT_TASTES = (-0.15, 0.25)
KIND_TASTES = (-0.05, 0.05)


@dataclass(frozen=True)
class Planted:
    """The habits planted in one synthetic person, and what the agents should recover of them."""

    habits: Habits
    trend: str
    lateness: float
    areas: list[str]
    firmest_project: str  # the project whose due dates are kept most strictly

    @property
    def weekly_strength(self) -> float:
        """(max - min) / (max + min) of the planted completion rate per weekday."""
        habits = self.habits
        rates = [w * (habits.weekend_factor if day >= 5 else 1.0) for day, w in enumerate(habits.weekday_weights)]
        return (max(rates) - min(rates)) / (max(rates) + min(rates))


def _weekly_habit(rng: random.Random) -> dict[str, Any]:
    """A flat week, a week that stops at the weekend, or a week with one or two much busier days."""
    shape = rng.choice(("flat", "weekend-off", "peaks"))
    if shape == "weekend-off":
        return {"weekend_factor": rng.uniform(0.05, 0.2)}
    if shape == "peaks":
        peaks = rng.sample(range(7), rng.choice((1, 2)))
        return {"weekday_weights": tuple(rng.uniform(4.0, 6.0) if day in peaks else 1.0 for day in range(7))}
    return {"weekday_weights": tuple(rng.uniform(0.85, 1.15) for _ in range(7))}


def plant(seed: int, trend: str | None = None) -> Planted:
    """Habits drawn from ``seed``: a clear trend, rhythm, lateness and two leading projects."""
    rng = random.Random(seed)
    trend = trend or rng.choice(("rising", "steady", "falling"))
    preferred = rng.randrange(24)
    quiet_hours = rng.randint(5, 9)
    quiet_start = (preferred + rng.randint(3, 22 - quiet_hours)) % 24
    names = rng.sample(PROJECTS, rng.randint(4, 6))
    weights = [rng.uniform(0.4, 0.5), rng.uniform(0.22, 0.28)] + [rng.uniform(0.05, 0.1) for _ in names[2:]]
    lateness = round(rng.uniform(-1.5, 4.0), 2)
    firmest = rng.choice(names[2:])
    habits = Habits(
        tz=rng.choice(ZONES),
        preferred_hour=preferred,
        quiet_start=quiet_start,
        quiet_end=(quiet_start + quiet_hours) % 24,
        projects=tuple(zip(names, weights, strict=True)),
        completions_per_day=rng.uniform(2.5, 6.0),
        lateness_days=lateness,
        recent_factor={"rising": rng.uniform(2.2, 2.8), "steady": 1.0, "falling": rng.uniform(0.05, 0.25)}[trend],
        project_lateness=tuple((name, lateness - 1.0 if name == firmest else lateness) for name in names),
        **_weekly_habit(rng),
    )
    return Planted(habits, trend, lateness, names[:2], firmest)


def sparse(seed: int) -> Planted:
    """A cold-start person drawn from ``seed``: :func:`plant`'s daily rhythm, projects and lateness, with a steady,
    flat week and few completions."""
    planted = plant(seed, trend="steady")
    rng = random.Random(f"sparse:{seed}")
    habits = dataclasses.replace(
        planted.habits,
        completions_per_day=rng.uniform(*COLD_START_PER_DAY),
        weekend_factor=1.0,
        weekday_weights=(1.0,) * 7,
    )
    return dataclasses.replace(planted, habits=habits)


def is_thin(history: dict[str, Any]) -> bool:
    """Whether a cold-start ``history`` has its completions clear of the volume the agents need (see
    :data:`COLD_START_AT_MOST`) and enough of them for the time of day."""
    done = [as_utc(c["completed_at"]) for c in history["task_completions"]]
    now = as_utc(history["now"])
    within = {days: sum(now - at <= timedelta(days=days) for at in done) for days in COLD_START_AT_MOST}
    return len(done) >= COLD_START_AT_LEAST and all(within[days] <= most for days, most in COLD_START_AT_MOST.items())


def _history(planted: Planted, cold_start: bool, seed: int) -> dict[str, Any]:
    """The persona-format history of ``planted`` drawn from ``seed``; a cold start's drawn again (from the next
    seeds) until :func:`is_thin`."""
    while True:
        history = synthetic_history(planted.habits, days=HISTORY_DAYS, now=NOW, seed=seed)
        if not cold_start or is_thin(history):
            return history
        seed += 1


def draw_tastes(rng: random.Random) -> dict[str, dict[str, float]]:
    """Hidden tastes: each lead agent's shift in :data:`AGENT_TASTES`, each kind's in :data:`KIND_TASTES`."""
    return {
        "agents": {agent: round(rng.uniform(*AGENT_TASTES), 2) for agent in TASTE_AGENTS},
        "kinds": {str(kind): round(rng.uniform(*KIND_TASTES), 2) for kind in TipKind},
    }


def persona_id(seed: int, index: int) -> str:
    return f"persona-{seed}-{index:02d}"


def persona_data(seed: int, index: int) -> dict[str, Any]:
    """Persona ``index`` of the set ``seed`` in the shared format: its history and the truth planted in it."""
    name = persona_id(seed, index)
    own_seed = random.Random(name).getrandbits(32)
    cold_start = index % COLD_START_EVERY == COLD_START_EVERY - 1
    planted = sparse(own_seed) if cold_start else plant(own_seed)
    habits = planted.habits
    history = _history(planted, cold_start, own_seed)
    truth = {
        "tz": habits.tz,
        "preferred_hour": habits.preferred_hour,
        "quiet_start": habits.quiet_start,
        "quiet_end": habits.quiet_end,
        "engagement_trend": planted.trend,
        "lateness_tolerance_days": planted.lateness,
        "preferred_areas": planted.areas,
        "weekly_cycle_strong": planted.weekly_strength > 0.5,
        "cold_start": cold_start,
        "tastes": draw_tastes(random.Random(f"tastes:{name}")),
    }
    return {"id": name, **history, "truth": truth}


def write_persona_set(folder: Path, count: int = 21, seed: int = 1) -> list[Path]:
    """Write personas ``persona-<seed>-00.json`` ... of the set ``seed`` into ``folder`` (created when missing;
    files of the same names are replaced) and return their paths. Raises :class:`~oo_app.errors.InvalidInput` when
    ``folder`` is a file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"{folder} is a file, not a folder: name a folder for the personas")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{persona_id(seed, index)}.json"
        path.write_text(json.dumps(persona_data(seed, index), indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
