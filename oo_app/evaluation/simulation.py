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
decided from the history alone: policies differ by their tips' content. The baselines differ from the incumbent
only in how the lead of a tip is chosen among the composer's candidates (:mod:`oo_app.recommender.learning`):
``no-learning`` in the composer's order, ``random-agent`` uniformly among the leads, ``oracle`` by the person's true
chance (it alone reads the truth, through the simulated person). The baseline ``random-agent`` always runs.
"""

from __future__ import annotations

import gc
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.runner import provide_prior, run_due
from oo_app.clock import as_utc, zone
from oo_app.db import make_engine, migrate
from oo_app.demo import grant_consents, store_history
from oo_app.evaluation.persona import Persona, SimulatedPerson, load_persona
from oo_app.evaluation.simulation_offpolicy import (
    LOGGERS,
    logged_by_policy,
    offpolicy_check,
    recording_counterfactuals,
)
from oo_app.evaluation.simulation_report import BASELINE, PolicyResult, SimulationReport
from oo_app.llm.aliases import TIP_GENERATOR
from oo_app.llm.router import get_router
from oo_app.models import Policy, Reaction, Tip, User
from oo_app.recommender import mark_shown, react, recommend
from oo_app.recommender.composer import TipDraft
from oo_app.recommender.learning import (
    compute_prior,
    leads_of,
    learning_off,
    override_choice,
    population_prior,
    uniform_over_leads,
)
from oo_app.recommender.offpolicy import LoggedTip
from oo_app.recommender.orchestrator import composer_alone
from oo_app.recommender.policies import incumbent
from oo_app.recommender.timing import delivery_moments, timing_params
from oo_app.settings import get_settings

TipWriter = Callable[[Session, User, datetime], Tip]
# A policy of the simulation: the tip writer it uses for one simulated person (the oracle knows them).
PolicyMaker = Callable[[SimulatedPerson], TipWriter]

REACTION_DELAY = timedelta(minutes=10)
INCUMBENT = "incumbent"
NO_LEARNING = "no-learning"
ORACLE = "oracle"

# --- policies ---------------------------------------------------------------------------------------------------------


def _as(name: str) -> Callable[[Session], Policy]:
    """The incumbent's prompt and alias under the name ``name`` (not stored): its tips are logged as ``name``'s. Read
    at the first tip and kept for the simulated person's run: no policy changes while a simulation runs."""
    kept: list[Policy] = []

    def policy(session: Session) -> Policy:
        if not kept:
            base = incumbent(session)
            kept.append(Policy(name=name, prompt_version=base.prompt_version, alias=base.alias, role=base.role))
        return kept[0]

    return policy


def no_learning(person: SimulatedPerson) -> TipWriter:
    """The incumbent with learning off: the composer's order chooses the lead (propensity 1)."""
    policy = _as(NO_LEARNING)

    def write(session: Session, user: User, now: datetime) -> Tip:
        with learning_off():
            return recommend(session, user, now, policy=policy(session))

    return write


def first_of_lead(drafts: Sequence[TipDraft], lead: str | None) -> int:
    return next(index for index, draft in enumerate(drafts) if draft.lead == lead)


def random_agent(person: SimulatedPerson) -> TipWriter:
    """The baseline: a lead drawn uniformly among the candidates' distinct leads (keyed by the seed, the person and
    the moment), then its first draft; propensity 1 / the number of leads."""
    policy = _as(BASELINE)

    def write(session: Session, user: User, now: datetime) -> Tip:
        rng = person.rng("random-agent", now.isoformat())

        def chooser(drafts: Sequence[TipDraft]) -> int:
            return first_of_lead(drafts, rng.choice(leads_of(drafts)))

        with override_choice(chooser, uniform_over_leads):
            return recommend(session, user, now, policy=policy(session))

    return write


def oracle(person: SimulatedPerson) -> TipWriter:
    """Knows the person's truth: the candidate with the highest true chance of being done at that moment (the
    composer's order breaks ties); propensity 1."""
    policy = _as(ORACLE)

    def write(session: Session, user: User, now: datetime) -> Tip:
        def chooser(drafts: Sequence[TipDraft]) -> int:
            chances = [person.chance(d.text, str(d.kind), d.lead, now) for d in drafts]
            return chances.index(max(chances))

        with override_choice(chooser):
            return recommend(session, user, now, policy=policy(session))

    return write


BASELINES: dict[str, PolicyMaker] = {NO_LEARNING: no_learning, BASELINE: random_agent, ORACLE: oracle}


RULES_WRITER = "rules"
WRITERS = (RULES_WRITER, "configured")  # who writes the simulation's tips (see _run_settings)


def _throwaway(connection: Any, _: Any) -> None:
    """A temporary SQLite file is thrown away after the run: no waiting for the disk on commit."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.close()


@contextmanager
def _database(url: str | None) -> Iterator[Engine]:
    """An engine on ``url`` migrated to head, or on a fresh SQLite file that is deleted afterwards (written without
    durability: :func:`_throwaway`)."""
    with tempfile.TemporaryDirectory(prefix="oo-simulation-") as folder:
        kept = url is not None
        url = url or f"sqlite:///{Path(folder) / 'simulation.db'}"
        migrate(url)
        engine = make_engine(url)
        if not kept:
            sa.event.listen(engine, "connect", _throwaway)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _heap_set_aside() -> Iterator[None]:
    """The objects alive before a run (the app's modules, settings, caches) are left out of the cycle collector's
    scans until it ends (``gc.freeze``), then handed back. A run builds rows and objects by the million, and each
    full collection scanned the whole process again: about half of the collector's CPU. Forked workers also leave
    the pages they share with the parent unwritten by it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _run_settings(writer: str) -> Iterator[None]:
    """The settings of the simulation's runs: no per-tip tracing whatever ``OO_TRACING_ENABLED`` says (a run's report
    is logged on its own); no tips written ahead (every simulated tip is answered before its day is committed, so a
    tip written ahead would never be written, only looked for, on a thread of its own); and with ``writer`` ``rules``
    the embedded rules table, so that the composer writes every tip whatever ``OO_TIP_WRITER`` and
    ``OO_LLM_ALIASES`` say (``configured``: as configured). The process's settings are changed for the block and
    restored after it; the LLM router is built again on either side."""
    if writer not in WRITERS:
        raise ValueError(f"unknown writer {writer!r}; use one of {', '.join(WRITERS)}")
    settings = get_settings()
    changes: dict[str, Any] = {"tracing_enabled": False, "prepare_next_tip": False}
    if writer == RULES_WRITER:
        changes |= {"tip_writer": "rules", "llm_aliases": None}
    kept = {name: getattr(settings, name) for name in changes}
    for name, value in changes.items():
        setattr(settings, name, value)
    get_router.cache_clear()
    try:
        yield
    finally:
        for name, value in kept.items():
            setattr(settings, name, value)
        get_router.cache_clear()


def _enroll(session: Session, persona: Persona, policy: str, user_id: int | None = None) -> User:
    """A person for ``persona`` under ``policy``, with the persona's history and the demo consents; with ``user_id``
    under that id (else the database's next)."""
    user = User(
        id=user_id, email=f"{persona.id}.{policy}@simulation.invalid", display_name=persona.id, tz=persona.history["tz"]
    )
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
    session: Session,
    person: SimulatedPerson,
    policy: str,
    writer: TipWriter,
    days: int,
    result: PolicyResult,
    user_id: int | None = None,
) -> None:
    """``person`` (the user ``user_id`` when given) receives ``policy``'s tips for ``days`` days from their persona's
    ``now``, day by local day."""
    persona = person.persona
    if policy in LOGGERS:
        writer = recording_counterfactuals(writer, person, policy, result)
    user = _enroll(session, persona, policy, user_id)
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


# Forked workers read the jobs from here (a fork inherits it; writers need not pickle).
_jobs: dict[str, Any] = {}


def _run_share(share: int) -> tuple[dict[str, PolicyResult], dict[str, list[LoggedTip]]]:
    """Worker ``share`` of ``_jobs["workers"]``: its (policy, persona) pairs, in a database of its own (temporary, or
    the share's of ``_jobs["urls"]``). Each person gets the id they would have in one process's fresh database (their
    pair's position, from 1), so the learner's draws, keyed by that id, are those of one process."""
    workers, urls = _jobs["workers"], _jobs["urls"]
    positions = range(share, len(_jobs["pairs"]), workers)
    return _run_pairs([_jobs["pairs"][index] for index in positions], urls[share] if urls else None, positions)


@contextmanager
def _prior_of_policy(policy: str, prior: bool) -> Iterator[None]:
    """Inside it the learner's population prior is, with ``prior``, that of ``policy``'s simulated persons so far,
    read afresh: each policy's population apart (no policy learns from another's persons, the oracle's least of all),
    and as current as simulated time (the app's prior is cached for ten minutes of wall-clock time, which a
    simulation crosses in seconds); without ``prior``, none: each person learns from their own answers alone."""
    provide_prior((lambda session: compute_prior(session, policy)) if prior else (lambda _session: {}))
    try:
        yield
    finally:
        provide_prior(population_prior)


def _run_pairs(
    pairs: Sequence[tuple[str, Persona]], database_url: str | None, positions: Sequence[int] | None = None
) -> tuple[dict[str, PolicyResult], dict[str, list[LoggedTip]]]:
    """Run ``pairs`` in one database; with ``positions`` (a worker's share), the person of each pair has the id
    ``position + 1``."""
    makers, days, seed = _jobs["makers"], _jobs["days"], _jobs["seed"]
    results = {name: PolicyResult() for name in makers}
    ids: Sequence[int | None] = (
        [position + 1 for position in positions] if positions is not None else [None] * len(pairs)
    )
    with _database(database_url) as engine:
        for (name, persona), user_id in zip(pairs, ids, strict=True):
            with Session(engine, expire_on_commit=False) as session, _prior_of_policy(name, _jobs["prior"]):
                person = SimulatedPerson(persona, seed)
                _live(session, person, name, makers[name](person), days, results[name], user_id)
        with Session(engine) as session:
            logged = logged_by_policy(session, makers)
    return results, logged


def _worker_urls(database_url: str | Sequence[str] | None, workers: int) -> list[str]:
    """The databases to keep of a run shared among ``workers`` (none: temporary ones); ValueError when
    ``database_url`` does not fit ``workers``."""
    if database_url is None:
        return []
    if workers <= 1:
        if isinstance(database_url, str):
            return []
        raise ValueError("a list of databases is for workers > 1 (one each); give one database_url")
    if isinstance(database_url, str) or len(database_url) != workers:
        raise ValueError(f"with {workers} workers, database_url lists {workers} databases, one each")
    return list(database_url)


def simulate(
    personas: list[Path],
    *,
    days: int = 30,
    policies: dict[str, TipWriter] | None = None,
    seed: int = 0,
    database_url: str | Sequence[str] | None = None,
    baselines: Sequence[str] = tuple(BASELINES),
    workers: int = 1,
    writer: str = RULES_WRITER,
    prior: bool = False,
) -> SimulationReport:
    """Run every policy (default: the incumbent :func:`~oo_app.recommender.recommend`) and the ``baselines`` (default
    all: ``no-learning``, ``random-agent``, ``oracle``; the baseline ``random-agent`` always runs) on copies of
    ``personas`` for ``days`` days, and report how their tips fared, with the off-policy check.

    ``database_url`` names a database to keep (migrated here; it must hold none of the simulation's persons); by
    default a temporary SQLite file is used. With ``workers`` > 1 the (policy, persona) runs are shared among that
    many forked processes, each with a database of its own: temporary ones, or the ``workers`` databases to keep that
    ``database_url`` then lists, fresh ones. Each person takes the id they would have in one process's fresh
    database, so the learner's draws (keyed by that id) and the figures are those of one process, except with
    ``prior``: a worker's prior knows only the persons of its share. ``writer`` ``rules`` (the
    default) has the rule-based composer write every tip, ``configured`` the configured tip writer; per-tip tracing
    is off either way (:func:`_run_settings`). With ``prior`` a person's learner starts from the population prior
    of the persons of the same policy simulated before them; by default from nothing, since the personas' tastes are
    drawn apart and what most of them take up says nothing of one of them.
    """
    writers = dict(policies) if policies is not None else {INCUMBENT: recommend}
    for name in writers:
        if name in BASELINES:
            raise ValueError(f"{name!r} is a baseline the simulation adds itself; name the policy differently")
    makers: dict[str, PolicyMaker] = {name: (lambda person, w=writer: w) for name, writer in writers.items()}
    makers |= {name: BASELINES[name] for name in BASELINES if name in baselines or name == BASELINE}
    shared = workers > 1
    urls = _worker_urls(database_url, workers)
    loaded = [load_persona(path) for path in personas]
    pairs = [(name, persona) for name in makers for persona in loaded]
    _jobs.update(makers=makers, days=days, seed=seed, pairs=pairs, workers=workers, prior=prior, urls=urls)
    try:
        with _run_settings(writer), _heap_set_aside():
            if shared:
                if not composer_alone(TIP_GENERATOR):
                    get_router()  # built (LiteLLM imported) once, before the workers fork; the composer needs none
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    shares = pool.map(_run_share, range(workers))
            else:
                shares = [_run_pairs(pairs, database_url if isinstance(database_url, str) else None)]
    finally:
        _jobs.clear()
    results = {name: PolicyResult() for name in makers}
    logged: dict[str, list[LoggedTip]] = {}
    for share_results, share_logged in shares:
        for name, result in share_results.items():
            results[name].merge(result)
        for name, tips in share_logged.items():
            logged.setdefault(name, []).extend(tips)
    check = offpolicy_check(logged, results)
    return SimulationReport(
        days=days, seed=seed, personas=tuple(p.id for p in loaded), policies=results, offpolicy=check
    )
