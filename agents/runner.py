"""Compute one (person, agent): load the history, infer parameters, run the agent, store its snippet.

The same functions back the in-process scheduler, the CLI and (later) task-engine workers. A computation is
idempotent: its ``job_key`` names the (person, agent version, schedule slot), so a retried job finds the output
already written and writes nothing twice. A round over many persons (:func:`run_due`) computes each agent for them
at once (:mod:`agents.batch`) and writes each person's outputs through the same path as a single computation; the
agents a tip computes for one person (:func:`compute_outputs`) are written together, in one savepoint.

Why one long module: the round and the single computation share one write path with its idempotency, deletion and
SQLite-lock rules, and tests patch the history reads both go through (``runner.load_history``); split, those rules
would be spelled in two places.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import (
    MOOD_CONSENT,
    MOOD_EVENT,
    Agent,
    AgentManifest,
    OpenTask,
    TipOutcome,
    UserHistory,
)
from agents.batch import Outcome, compute_many, cyclic_gc_paused
from agents.busy import CALENDAR_CONSENT, BusyInterval, CalendarDay
from agents.due_pairs import NEWEST_FIRST, due_agents, is_stale
from agents.group_reads import is_level, read_calendar_days, read_histories, read_tip_outcomes
from agents.inference import Inferred, infer_params, own_values, save_inferred, stored_in
from agents.population import Population
from oo_app.clock import as_utc, zone
from oo_app.erasure import PersonGone, forget_late_work, person_exists, unless_gone
from oo_app.llm.router import for_person
from oo_app.models import AgentOutput, AgentRun, CalendarDayRecord, Consent, Event, TaskCompletion, Tip, User

if TYPE_CHECKING:
    from oo_app.models import UserPreference

log = logging.getLogger(__name__)

HISTORY_DAYS = 120

OpenTasksProvider = Callable[[int, Session], Sequence[OpenTask]]
_open_tasks_provider: OpenTasksProvider | None = None


def provide_open_tasks(provider: OpenTasksProvider | None) -> None:
    """Wire where open tasks come from (``provider(user_id, session)``; :func:`oo_app.bootstrap.bootstrap` hands
    :func:`oo_app.integrations.open_tasks.open_tasks`). Agents never import an integration themselves."""
    global _open_tasks_provider
    _open_tasks_provider = provider


def open_tasks_of(session: Session, user_id: int) -> tuple[OpenTask, ...]:
    """The person's open tasks from the wired provider (empty when none is wired or it fails; a database error is
    raised). Held in memory only: nothing here stores them."""
    if _open_tasks_provider is None:
        return ()
    try:
        return tuple(_open_tasks_provider(user_id, session))
    except sa.exc.SQLAlchemyError:
        raise  # the database failed, not the provider: the caller answers (503 while it is down)
    except Exception as error:
        log.warning("open tasks of person #%s unavailable (%s)", user_id, type(error).__name__)
        return ()


BusyProvider = Callable[[int, Session], Sequence[BusyInterval]]
_busy_provider: BusyProvider | None = None
CALENDAR_DAYS = 42  # the past weeks of calendar derivatives an agent sees: a person's usual meeting load


def provide_busy(provider: BusyProvider | None) -> None:
    """Wire where busy intervals come from (``provider(user_id, session)``; :func:`oo_app.bootstrap.bootstrap` hands
    :func:`oo_app.calendar.busy_cache.busy_of`). Agents never import a calendar source themselves."""
    global _busy_provider
    _busy_provider = provider


def busy_of(session: Session, user_id: int) -> tuple[BusyInterval, ...]:
    """The person's busy intervals of the next hours from the wired provider (empty when none is wired or it fails;
    a database error is raised). Held in memory only. The provider checks the ``calendar`` consent."""
    if _busy_provider is None:
        return ()
    try:
        return tuple(_busy_provider(user_id, session))
    except sa.exc.SQLAlchemyError:
        raise  # the database failed, not the provider: the caller answers (503 while it is down)
    except Exception as error:
        log.warning("busy times of person #%s unavailable (%s)", user_id, type(error).__name__)
        return ()


_CALENDAR_DAYS = (
    select(CalendarDayRecord)
    .where(CalendarDayRecord.user_id == sa.bindparam("user_id"), CalendarDayRecord.day >= sa.bindparam("since"))
    .order_by(col(CalendarDayRecord.day))
)


def calendar_days_of(session: Session, user_id: int, now: datetime) -> tuple[CalendarDay, ...]:
    """The person's stored calendar derivatives of the last :data:`CALENDAR_DAYS` days and the next, by day; empty
    without the ``calendar`` consent."""
    read = _moment_reads().get(("calendar", user_id, now))
    if read is not None:
        return read
    if not _granted(session, user_id, CALENDAR_CONSENT):
        return ()
    since = (now - timedelta(days=CALENDAR_DAYS)).date()
    rows = session.exec(_CALENDAR_DAYS, params={"user_id": user_id, "since": since}).all()
    return tuple(
        CalendarDay(row.day, row.busy_minutes, row.meetings, row.first_busy_at, row.last_busy_at) for row in rows
    )


PriorProvider = Callable[[Session], Mapping[str, tuple[float, float]]]
_prior_provider: PriorProvider | None = None


def provide_prior(provider: PriorProvider | None) -> None:
    """Wire where the population prior comes from (``provider(session)``; :func:`oo_app.bootstrap.bootstrap` hands
    :func:`oo_app.recommender.learning.population_prior`). The learner agent reads it as ``history.tip_prior``."""
    global _prior_provider
    _prior_provider = provider


def prior_of(session: Session) -> tuple[tuple[str, float, float], ...]:
    """The population prior from the wired provider, as ``(key, alpha, beta)`` (empty when none is wired or it
    fails; a database error is raised)."""
    if _prior_provider is None:
        return ()
    try:
        return tuple((str(key), float(alpha), float(beta)) for key, (alpha, beta) in _prior_provider(session).items())
    except sa.exc.SQLAlchemyError:
        raise  # the database failed, not the provider: the caller answers (503 while it is down)
    except Exception as error:
        log.warning("population prior unavailable (%s)", type(error).__name__)
        return ()


_TIP_OUTCOMES = (
    select(Tip.reacted_at, Tip.lead_agent, Tip.kind, Tip.reaction, Tip.context)
    .where(
        Tip.user_id == sa.bindparam("user_id"),
        Tip.shadow == False,  # noqa: E712
        col(Tip.reaction).is_not(None),
        col(Tip.reacted_at).is_not(None),
        col(Tip.reacted_at) >= sa.bindparam("since"),
        col(Tip.reacted_at) <= sa.bindparam("now"),
    )
    .order_by(col(Tip.reacted_at), col(Tip.id))
)


def tip_outcomes_of(session: Session, user_id: int, now: datetime) -> tuple[TipOutcome, ...]:
    """How the person answered their shown (non-shadow) tips of the last :data:`HISTORY_DAYS` up to ``now``, oldest
    first (a tip counts at its reaction)."""
    read = _moment_reads().get(("tips", user_id, now))
    if read is not None:
        return read
    since = now - timedelta(days=HISTORY_DAYS)
    rows = session.exec(_TIP_OUTCOMES, params={"user_id": user_id, "since": since, "now": now}).all()
    return tuple(TipOutcome(at, lead, str(kind), str(reaction), context) for at, lead, kind, reaction, context in rows)


def with_tip_outcomes(session: Session, user_id: int, manifest: AgentManifest, history: UserHistory) -> UserHistory:
    """``history`` with the person's tip outcomes and the population prior when ``manifest`` reads them."""
    if not manifest.tip_outcomes:
        return history
    outcomes = tip_outcomes_of(session, user_id, history.now)
    reads = _moment_reads()
    prior = reads.get(("prior",))
    if prior is None:
        prior = prior_of(session)
        if _moment_histories.get() is not None:
            reads[("prior",)] = prior
    return dataclasses.replace(history, tip_outcomes=outcomes, tip_prior=prior)


# What was read inside one_history_per_moment(): histories by (person, moment); tip outcomes, calendar days by
# ("tips" or "calendar", person, moment); the keys a person grants by ("granted", person); the population prior by
# ("prior",).
_moment_histories: ContextVar[dict[tuple, Any] | None] = ContextVar("moment_histories", default=None)


def _moment_reads() -> dict[tuple, Any]:
    return _moment_histories.get() or {}


@contextmanager
def one_history_per_moment() -> Iterator[None]:
    """Inside it, :func:`load_history` reads a person's history at a given moment once and hands that same history to
    every agent computed at that moment. For callers that compute several agents of a person at one moment and write
    no events, completions or consents meanwhile (:func:`run_due`, the recommender's freshest outputs)."""
    token = _moment_histories.set({})
    try:
        yield
    finally:
        _moment_histories.reset(token)


def load_history(session: Session, user: User, now: datetime, open_tasks: Sequence[OpenTask] = ()) -> UserHistory:
    """The person's last ``HISTORY_DAYS`` up to ``now``, with ``open_tasks`` (in memory only). Mood check-ins are read
    only while the person grants consent ``mood``, into ``moods`` and never among ``events``."""
    loaded = _moment_histories.get()
    history = loaded.get((user.id, now)) if loaded is not None else None
    if history is None:
        history = _read_history(session, user, now)
        if loaded is not None:
            loaded[(user.id, now)] = history
    return dataclasses.replace(history, open_tasks=tuple(open_tasks)) if open_tasks else history


def read_together(session: Session, users: Sequence[User], due: Mapping[int, Sequence[Agent]], now: datetime) -> None:
    """Inside :func:`one_history_per_moment`, read at once what the agents ``due`` for ``users`` read of them at
    ``now`` (:mod:`agents.group_reads`: histories as numbers, tip outcomes, calendar days), for :func:`load_history`,
    :func:`tip_outcomes_of` and :func:`calendar_days_of` to hand out."""
    loaded = _moment_histories.get()
    if loaded is None or len(users) < 2:
        return

    def needing(reads: Callable[[AgentManifest], bool]) -> list[User]:
        return [user for user in users if any(reads(agent.manifest) for agent in due[user.id])]

    since = now - timedelta(days=HISTORY_DAYS)
    for user_id, history in read_histories(session, needing(attrgetter("reads_history")), since, now).items():
        loaded.setdefault((user_id, now), history)
    ids = [user.id for user in needing(attrgetter("tip_outcomes"))]
    for user_id, outcomes in (read_tip_outcomes(session, ids, since, now) if ids else {}).items():
        loaded.setdefault(("tips", user_id, now), outcomes)
    ids = [user.id for user in needing(attrgetter("calendar"))]
    days = read_calendar_days(session, ids, (now - timedelta(days=CALENDAR_DAYS)).date()) if ids else {}
    for user_id, found in days.items():
        loaded.setdefault(("calendar", user_id, now), found)


# A person's history as every inline computation reads it (each tip, each reaction): built once, the values bound at
# each call (building a statement costs SQLAlchemy more CPU than running it). Rows of one moment in the order they
# were written (by id), as a group read has them (agents.group_reads).
_RECENT = (
    Event.user_id == sa.bindparam("user_id"),
    Event.at >= sa.bindparam("since"),
    Event.at <= sa.bindparam("now"),
)
_EVENTS = select(Event.type, Event.at).where(*_RECENT, Event.type != MOOD_EVENT).order_by(col(Event.at), col(Event.id))
_MOODS = (
    select(Event.at, Event.payload).where(*_RECENT, Event.type == MOOD_EVENT).order_by(col(Event.at), col(Event.id))
)
_COMPLETIONS = (
    select(TaskCompletion.completed_at, TaskCompletion.due_at, TaskCompletion.project)
    .where(TaskCompletion.user_id == sa.bindparam("user_id"), TaskCompletion.completed_at >= sa.bindparam("since"))
    .order_by(col(TaskCompletion.completed_at), col(TaskCompletion.id))
)


def _read_history(session: Session, user: User, now: datetime) -> UserHistory:
    bound = {"user_id": user.id, "since": now - timedelta(days=HISTORY_DAYS), "now": now}
    events = session.exec(_EVENTS, params=bound).all()
    completions = session.exec(_COMPLETIONS, params=bound).all()
    moods = []
    if _granted(session, user.id, MOOD_CONSENT):
        rows = session.exec(_MOODS, params=bound).all()
        # A check-in whose payload is no object holds no level: skipped, as the group read does.
        moods = [(at, p["level"]) for at, p in rows if isinstance(p, dict) and is_level(p.get("level"))]
    return UserHistory.build(events=events, task_completions=completions, tz=user.tz, now=now, moods=moods)


def _history_for(session: Session, user: User, manifest: AgentManifest, now: datetime) -> UserHistory:
    """What the agent of ``manifest`` reads of the person at ``now``, before its calendar and tip outcomes: their
    history (:func:`load_history`) unless it reads none, then only their zone and the moment; their open tasks when
    it reads them."""
    open_tasks = open_tasks_of(session, user.id) if manifest.open_tasks else ()
    if manifest.reads_history:
        return load_history(session, user, now, open_tasks)
    return UserHistory((), (), str(zone(user.tz)), as_utc(now), open_tasks=tuple(open_tasks))  # as build makes it


def agent_history(session: Session, user: User, manifest: AgentManifest, now: datetime) -> UserHistory:
    """Everything the agent of ``manifest`` reads of the person at ``now``: their history, open tasks, calendar and
    tip outcomes, each only when it reads them."""
    history = _history_for(session, user, manifest, now)
    if manifest.calendar:
        history = dataclasses.replace(
            history, busy=busy_of(session, user.id), calendar_days=calendar_days_of(session, user.id, now)
        )
    return with_tip_outcomes(session, user.id, manifest, history)


def _traced(user_id: int, manifest: AgentManifest, history: UserHistory) -> AbstractContextManager[object]:
    """Open tasks go to the embedder (agents/clustering.py): LLM work for the person, traced as theirs."""
    return for_person(user_id, f"agent {manifest.id}") if history.open_tasks else nullcontext()


@dataclass(frozen=True)
class Computed:
    """A person's answer from an agent, computed in a batch (:mod:`agents.batch`) before it is stored."""

    outcome: Outcome
    seconds: float  # the person's share of the batch's time


_GRANTED = select(Consent.id).where(
    Consent.user_id == sa.bindparam("user_id"),
    Consent.key == sa.bindparam("key"),
    Consent.granted == True,  # noqa: E712
)
_ALL_GRANTED = select(Consent.key).where(Consent.user_id == sa.bindparam("user_id"), Consent.granted == True)  # noqa: E712


def _granted(session: Session, user_id: int, key: str) -> bool:
    """Whether the person grants ``key``; inside :func:`one_history_per_moment` their consents are read once for the
    moment (the history asks of ``mood``, the calendar of ``calendar``)."""
    reads = _moment_histories.get()
    if reads is None:
        return session.exec(_GRANTED, params={"user_id": user_id, "key": key}).first() is not None
    granted = reads.get(("granted", user_id))
    if granted is None:
        granted = reads[("granted", user_id)] = frozenset(session.exec(_ALL_GRANTED, params={"user_id": user_id}))
    return key in granted


def job_key(user_id: int, agent: Agent, now: datetime) -> str:
    slot = int(now.timestamp() // agent.manifest.schedule.total_seconds())
    return f"{user_id}:{agent.manifest.id}@{agent.manifest.version}:{slot}"


# Statements every reaction and tip runs, built once with their values bound at each call: building a statement
# costs SQLAlchemy more CPU than running it.
_LATEST_OUTPUT = (
    select(AgentOutput)
    .where(AgentOutput.user_id == sa.bindparam("user_id"), AgentOutput.agent_id == sa.bindparam("agent_id"))
    .order_by(*NEWEST_FIRST)
    .limit(1)
)
_THIS_SLOT = select(AgentOutput).where(
    AgentOutput.user_id == sa.bindparam("user_id"), AgentOutput.job_key == sa.bindparam("job_key")
)


def latest_output(session: Session, user_id: int, agent_id: str) -> AgentOutput | None:
    return session.exec(_LATEST_OUTPUT, params={"user_id": user_id, "agent_id": agent_id}).first()


def is_due(session: Session, user_id: int, agent: Agent, now: datetime) -> bool:
    return is_stale(latest_output(session, user_id, agent.manifest.id), agent.manifest, now)


_THESE_SLOTS = select(AgentOutput).where(
    AgentOutput.user_id == sa.bindparam("user_id"),
    col(AgentOutput.job_key).in_(sa.bindparam("job_keys", expanding=True)),
)


def compute_output(
    session: Session,
    user: User,
    agent: Agent,
    now: datetime | None = None,
    fresh_data: str | None = None,
    *,
    computed: Computed | None = None,
) -> AgentOutput | None:
    """Run ``agent`` for ``user`` at ``now``: the stored output, or None when the agent failed (see agent_runs).

    ``fresh_data`` names new data the agent must see although its slot already has an output (e.g. the newest task
    completion after a sync): it joins the idempotency key, so the same new data is computed once, never twice.
    ``computed``: the person's answer already computed in a batch with others (:func:`run_due`), stored as is.
    """
    now = now or datetime.now(UTC)
    key = job_key(user.id, agent, now) + (f"+{fresh_data}" if fresh_data else "")
    slot = {"user_id": user.id, "job_key": key}
    existing = session.exec(_THIS_SLOT, params=slot).first()
    if existing is not None:
        return existing
    computed = computed if computed is not None else _computed_alone(session, user, agent, now)
    try:
        output, run = _rows(session, user, agent, key, computed, now)
        with session.begin_nested():  # the run with its output: one flush for both
            session.add_all([row for row in (output, run) if row is not None])
    except sa.exc.IntegrityError:
        if not person_exists(session, user.id):  # deleted meanwhile: a foreign key refused their rows
            raise PersonGone(user.id) from None
        # Another worker wrote this slot first: its output is the one.
        log.info("output %s already written by another worker", key)
        return session.exec(_THIS_SLOT, params=slot).one()
    return output


def compute_outputs(session: Session, user: User, agents: Sequence[Agent], now: datetime) -> list[AgentOutput | None]:
    """:func:`compute_output` of each of ``agents`` for ``user`` at ``now``, in their order, with one write for all:
    the slots already written are read at once, the others computed one after the other and their outputs and runs
    written together (a tip computes several agents, and each write on its own cost a savepoint and a flush). Should
    a slot be written meanwhile by another worker, or the person be deleted, each goes its own way through
    :func:`compute_output`, which says which."""
    if not agents:
        return []
    keys = [job_key(user.id, agent, now) for agent in agents]
    stored = {row.job_key: row for row in session.exec(_THESE_SLOTS, params={"user_id": user.id, "job_keys": keys})}
    pending = [(agent, key) for agent, key in zip(agents, keys, strict=True) if key not in stored]
    if not pending:
        return [stored[key] for key in keys]
    scopes = [agent.manifest.id for agent, _ in pending]
    own = stored_in(session, user.id, scopes, own_only=True)
    computed = {
        key: _computed_alone(session, user, agent, now, {p.key: p.value for p in own.get(agent.manifest.id, [])})
        for agent, key in pending
    }
    try:
        stored_now = stored_in(session, user.id, scopes)  # read since the values were computed, as one agent reads
        rows = {
            key: _rows(session, user, agent, key, computed[key], now, stored_now.get(agent.manifest.id, []))
            for agent, key in pending
        }
        with session.begin_nested():
            session.add_all([row for pair in rows.values() for row in pair if row is not None])
    except sa.exc.IntegrityError:
        return [
            stored.get(key) or compute_output(session, user, agent, now, computed=computed[key])
            for agent, key in zip(agents, keys, strict=True)
        ]
    return [stored[key] if key in stored else rows[key][0] for key in keys]


def _computed_alone(
    session: Session, user: User, agent: Agent, now: datetime, own: Mapping[str, Any] | None = None
) -> Computed:
    """``agent``'s answer for the person at ``now``, computed for them alone (their history, the inferred parameters
    with their own values over them: ``own`` when the caller read them), and the seconds it took. An agent that fails
    answers its error; a database error is raised."""
    started = time.perf_counter()
    manifest = agent.manifest
    try:
        history = agent_history(session, user, manifest, now)
        inferred = infer_params(manifest, history)
        own = own if own is not None else own_values(session, user.id, manifest.id)
        params = inferred.params(own)  # their own values win
        with _traced(user.id, manifest, history):
            outcome = Outcome(inferred, agent.compute(history, params))
    except sa.exc.SQLAlchemyError:
        raise  # the database failed, not the agent: the caller answers
    except Exception as error:
        outcome = Outcome(Inferred({}, frozenset()), error=error)
    return Computed(outcome, time.perf_counter() - started)


def _rows(
    session: Session,
    user: User,
    agent: Agent,
    key: str,
    computed: Computed,
    now: datetime,
    stored: Sequence[UserPreference] | None = None,
) -> tuple[AgentOutput | None, AgentRun]:
    """The output of ``computed`` in the slot ``key`` and its run, the inferred values saved (over ``stored``, the
    agent's rows when the caller read them since it computed); no output and a failed run when the agent failed
    (logged). The caller adds them to the session."""
    manifest = agent.manifest
    started = time.perf_counter() - computed.seconds
    run = AgentRun(user_id=user.id, agent_id=manifest.id, agent_version=manifest.version, status="ok", started_at=now)
    output: AgentOutput | None = None
    try:
        inferred, snippet = computed.outcome.inferred, computed.outcome.snippet
        if snippet is None:
            raise computed.outcome.error or RuntimeError("no snippet computed")
        # Written only now: a compute may wait seconds on a model, and a write would hold SQLite's one lock meanwhile.
        save_inferred(session, user.id, manifest.id, inferred.values, stored)
        output = AgentOutput(
            user_id=user.id,
            agent_id=manifest.id,
            agent_version=manifest.version,
            job_key=key,
            snippet=snippet.text,
            data=snippet.data,
            computed_at=now,
            expires_at=now + manifest.ttl,
        )
    except sa.exc.SQLAlchemyError:
        # The database failed, not the agent (or refused a row: the caller's to answer): the transaction is gone, so
        # nothing can be recorded in it; the caller answers (503 while the database is down) and the slot is computed
        # again later.
        raise
    except Exception as error:
        log.exception("agent %s failed for user %s", manifest.id, user.id)
        run.status, run.error = "error", f"{type(error).__name__}: {error}"
    run.duration_ms = (time.perf_counter() - started) * 1000
    return output, run


BATCH_PERSONS = 500  # persons a round computes together: their histories are held in memory meanwhile


def run_due(
    session: Session,
    now: datetime | None = None,
    user_ids: Iterable[int] | None = None,
    *,
    commit_each: bool = False,
) -> list[AgentOutput]:
    """Compute every due (person, eligible agent) pair; the outputs written by this call. A person deleted during
    the round gets nothing written, and the others' outputs stand. Flushes; with ``commit_each`` (the scheduler's
    rounds) commits after each agent, so no write lock is held while the next one computes (SQLite has one).

    Persons go in groups of :data:`BATCH_PERSONS`: which pairs are due is read for the whole group in a few statements
    (:func:`agents.due_pairs.due_agents`), each agent is computed for the group's due persons at once
    (:func:`agents.batch.compute_many`), then each person's outputs are written; one person alone (a recompute)
    takes the per-person path."""
    now = now or datetime.now(UTC)
    query = select(User)
    if user_ids is not None:
        query = query.where(col(User.id).in_(list(user_ids)))
    written: list[AgentOutput] = []
    users = session.exec(query).all()
    for first in range(0, len(users), BATCH_PERSONS):
        with one_history_per_moment():
            written += _run_group(session, users[first : first + BATCH_PERSONS], now, commit_each)
    return written


def _run_group(session: Session, users: Sequence[User], now: datetime, commit_each: bool) -> list[AgentOutput]:
    due = due_agents(session, [user.id for user in users], now)
    with cyclic_gc_paused():
        read_together(session, users, due, now)
        computed = _computed_together(session, users, due, now) if len(users) > 1 else {}
    if commit_each:
        session.commit()  # ends the reads' transaction: on SQLite a write in a stale snapshot fails
    written: list[AgentOutput] = []
    # On PostgreSQL a refused row aborts the transaction: a savepoint per person keeps the round's other writes (a
    # commit per agent keeps them too). On SQLite it does not, and a savepoint would open a transaction at the first
    # read, whose snapshot a deletion committed meanwhile makes unwritable ("database is locked").
    savepoints = session.get_bind().dialect.name != "sqlite" and not commit_each
    per_person = session.begin_nested if savepoints else nullcontext
    for user in users:
        user_id = user.id  # read before a rollback expires the row of a person deleted meanwhile
        try:
            with unless_gone(session, user_id), per_person():
                outputs = []
                for agent in due[user_id]:
                    answer = computed.get((user_id, agent.manifest.id))
                    outputs.append(compute_output(session, user, agent, now, computed=answer))
                    if commit_each:
                        session.commit()
        except PersonGone:
            if commit_each:
                session.rollback()
            log.info("person %s was deleted during the agents' round: nothing written for them", user_id)
            forget_late_work(session.get_bind(), user_id)
            continue
        written.extend(output for output in outputs if output is not None)
    return written


def _computed_together(
    session: Session, users: Sequence[User], due: Mapping[int, Sequence[Agent]], now: datetime
) -> dict[tuple[int, str], Computed]:
    """Each agent's answers for the persons it is due for, computed at once, by (person, agent id). A person whose
    history cannot be read is left out: :func:`compute_output` then computes them alone and records why it failed."""
    found: dict[tuple[int, str], Computed] = {}
    populations: dict[tuple[int, ...], Population] = {}  # agents of the same persons' histories share their columns
    for agent in {agent.manifest.id: agent for agents in due.values() for agent in agents}.values():
        manifest = agent.manifest
        persons, histories = [], []
        for user in users:
            this_slot = (AgentOutput.user_id == user.id, AgentOutput.job_key == job_key(user.id, agent, now))
            if agent not in due[user.id] or session.exec(select(AgentOutput.id).where(*this_slot)).first() is not None:
                continue  # not due, or a retried round: compute_output finds the slot's output
            try:
                histories.append(agent_history(session, user, manifest, now))
            except sa.exc.SQLAlchemyError:
                raise
            except Exception:
                log.exception("history of person %s for agent %s unreadable", user.id, manifest.id)
                continue
            persons.append(user)
        if not persons:
            continue
        started = time.perf_counter()
        own = [own_values(session, user.id, manifest.id) for user in persons]
        traced = [_traced(user.id, manifest, history) for user, history in zip(persons, histories, strict=True)]
        population = populations.setdefault(tuple(map(id, histories)), Population(histories))
        outcomes = compute_many(agent, population, own, around=traced)
        share = (time.perf_counter() - started) / len(persons)
        found.update(
            ((user.id, manifest.id), Computed(outcome, share)) for user, outcome in zip(persons, outcomes, strict=True)
        )
    return found
