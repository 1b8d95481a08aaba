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
* **The simulated person** (:mod:`oo_app.evaluation.persona`) alone reads the persona's ``truth``, the planted
  habits, and reacts to each tip by the reaction model written there.

Every policy runs on its own copy of the persons (users ``<persona>.<policy>@simulation.invalid``) with the same seed.
Random draws are keyed by (seed, persona, moment), so a delivery meets the same draw under every policy, and timing is
decided from the history alone: policies differ by their tips' content. The baseline ``random-agent`` always runs: the
composer's tip from the freshest snippet of ONE eligible agent drawn at random.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.runner import run_due
from oo_app.clock import as_utc, zone
from oo_app.db import make_engine, migrate
from oo_app.demo import grant_consents, store_history
from oo_app.evaluation.persona import Persona, SimulatedPerson, load_persona
from oo_app.evaluation.simulation_report import BASELINE, PolicyResult, SimulationReport
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.models import Reaction, Tip, User
from oo_app.recommender import mark_shown, react, recommend
from oo_app.recommender.composer import compose
from oo_app.recommender.orchestrator import freshest_outputs, recent_tip_texts
from oo_app.recommender.prompts import SignalLine, facts_of
from oo_app.recommender.timing import delivery_moments, timing_params

TipWriter = Callable[[Session, User, datetime], Tip]

REACTION_DELAY = timedelta(minutes=10)
NO_PROMPT = "none"  # the baseline's tips are composed directly: no prompt, no alias

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
                day_index = min((moment - start) // timedelta(days=1), days - 1)
                result.record(persona.id, reaction, person.in_quiet_hours(moment), day_index)
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
