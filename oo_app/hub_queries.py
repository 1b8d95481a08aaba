"""Queries behind the operator hub: the one module that the notebooks, the CLI and the tests share.

Each query takes an engine (and filters) and returns a dataclass or a pandas DataFrame; SQL stays portable (SQLite and
PostgreSQL) and days, percentiles and agent lists are worked out in pandas. Columns are named one by one: nothing here
selects a token column (``*_enc``, ``token_hash``), and whole integration rows read by reused domain code
(``profile_of``) come without theirs (:func:`_session`). The two operator actions call the same domain functions as the
CLI and record an audit event in the same transaction. Nothing here imports marimo or plotly; :func:`notebook_href`
lives here so that every notebook links to the others the same way.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import ORMExecuteState, defer
from sqlmodel import Session, col, func, select

from agents import freshness
from agents.freshness import FRESHNESS_SLA as FRESHNESS_SLA  # the agent health notebook's line
from agents.registry import registry
from oo_app import audit
from oo_app.db import session_scope
from oo_app.errors import NotFound
from oo_app.llm import COMPOSER_MODEL
from oo_app.models import (
    ACCEPTING_REACTIONS,
    AgentOutput,
    AgentRun,
    Event,
    EventType,
    Integration,
    Policy,
    Reaction,
    Tip,
    User,
)
from oo_app.profile.overview import Profile, profile_of
from oo_app.recommender import policies
from oo_app.recommender.orchestrator import is_waiting
from oo_app.recommender.prompts import PROMPTS_DIR
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

REACTIONS = [reaction.value for reaction in Reaction]
NO_REACTION = "no reaction"
TIP_LOG_COLUMNS = [
    "id",
    "person_id",
    "person",
    "created_at",
    "text",
    "kind",
    "agents",
    "prompt_version",
    "model",
    "policy",
    "shadow",
    "reaction",
    "reacted_at",
]
RECENT_TIP_COLUMNS = ["id", "person", "text", "kind", "agents", "model", "policy", "shadow", "created_at", "reaction"]
ACCEPTANCE_DIMENSIONS = ("agents", "prompt_version", "model", "policy")
EVENT_COLUMNS = ["id", "at", "person_id", "person", "type", "payload"]
FRESHNESS_COLUMNS = ["agent", "version", "ttl_h", "eligible", "fresh", "stale", "missing", "freshness", "meets_sla"]
STALE_COLUMNS = ["person_id", "person", "agent", "reason", "computed_at", "age_h", "ttl_h"]
RUN_COLUMNS = ["started_at", "agent", "person_id", "status", "duration_ms", "error"]
RUN_STAT_COLUMNS = ["agent", "runs", "errors", "error_rate", "p50_ms", "p95_ms", "max_ms", "last_error"]
BENCH_COLUMNS = [
    "run_id",
    "name",
    "status",
    "started",
    "policy",
    "prompt_version",
    "alias",
    "tips",
    "judge_score_mean",
    "guardrail_pass_rate",
    "latency_p50_s",
    "latency_p95_s",
    "url",
]

# Sessions


def _without_tokens(state: ORMExecuteState) -> None:
    """Defer the token columns of every ORM select of whole integrations: they are never loaded, not even by the
    domain code the hub reuses (``profile_of`` reads integrations as rows)."""
    if state.is_select and any(entity.get("expr") is Integration for entity in state.statement.column_descriptions):
        state.statement = state.statement.options(
            defer(Integration.access_token_enc), defer(Integration.refresh_token_enc)
        )


@contextmanager
def _session(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session on ``engine`` that loads no token column; ``write`` commits on success (and rolls back on any
    error) like :func:`oo_app.db.session_scope`."""
    with session_scope(engine) if write else Session(engine) as session:
        sa.event.listen(session, "do_orm_execute", _without_tokens)
        yield session


# Time windows


def _today_start(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A filter bound as an aware UTC instant: a date starts at its UTC midnight, an end date includes its day."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            raise ValueError("a filter time needs a time zone; use UTC")
        return value
    return datetime.combine(value + timedelta(days=1 if end else 0), time(), tzinfo=UTC)


def _days(start: datetime, days: int) -> pd.Index:
    return pd.Index([(start + timedelta(days=i)).date() for i in range(days)], name="date")


def _person_condition(person: str | None) -> sa.ColumnElement[bool] | None:
    """A person given as an id (digits) or as part of an email, case-insensitive."""
    if not person or not person.strip():
        return None
    person = person.strip()
    if person.isdigit():
        return col(User.id) == int(person)
    return func.lower(User.email).contains(person.lower(), autoescape=True)


# Overview


@dataclass(frozen=True)
class Overview:
    """Head counts of a deployment at one moment. Tips are shown tips (shadow tips never count); "today" starts at
    UTC midnight; a fallback is a shown tip the rule-based composer wrote although its alias names another model."""

    persons: int
    active_today: int  # persons with an event or a reaction today
    tips: int
    tips_today: int
    reactions: dict[str, int]
    agent_errors_today: int
    fallbacks: int
    fallbacks_today: int

    @property
    def answered(self) -> int:
        """Tips that got any reaction."""
        return sum(self.reactions.values())

    @property
    def reaction_rate(self) -> float:
        """Share of tips that got any reaction (0 when there is no tip)."""
        return self.answered / self.tips if self.tips else 0.0

    @property
    def done_rate(self) -> float:
        """Share of tips the person marked done (0 when there is no tip)."""
        return self.reactions.get(Reaction.done.value, 0) / self.tips if self.tips else 0.0

    @property
    def acceptance(self) -> float:
        """Share of tips marked done or liked (0 when there is no tip)."""
        return sum(self.reactions.get(kind, 0) for kind in ACCEPTING_REACTIONS) / self.tips if self.tips else 0.0


def composer_aliases(alias_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> set[str]:
    """The aliases whose every deployment is the rule-based composer: a composer tip from one of them is by design."""
    return {
        alias
        for alias, deployments in alias_table.items()
        if deployments and all(deployment.get("model") == COMPOSER_MODEL for deployment in deployments)
    }


def _is_fallback(alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> sa.ColumnElement[bool]:
    by_design = composer_aliases(get_settings().alias_table if alias_table is None else alias_table)
    condition = col(Tip.model) == COMPOSER_MODEL
    return sa.and_(condition, col(Tip.model_alias).not_in(sorted(by_design))) if by_design else condition


# Tips people were given: shadows and tips still waiting to follow another (never shown yet) aside.
_SHOWN = sa.and_(col(Tip.shadow) == sa.false(), sa.not_(is_waiting()))


def overview(
    engine: Engine,
    now: datetime | None = None,
    alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Overview:
    """Head counts of the whole deployment at ``now`` (default: the clock). Fallbacks are judged against
    ``alias_table`` (default: the configured one), so a deployment whose writer is the composer has none."""
    today = _today_start(now)
    fallback = _is_fallback(alias_table)

    def count(query: Any) -> int:
        return int(session.exec(query).one())

    with _session(engine) as session:
        active = sa.union(
            select(Event.user_id).where(Event.at >= today),
            select(Tip.user_id).where(col(Tip.reacted_at) >= today),
        ).subquery()
        reactions = session.exec(
            select(Tip.reaction, func.count()).where(_SHOWN, col(Tip.reaction).is_not(None)).group_by(Tip.reaction)
        ).all()
        return Overview(
            persons=count(select(func.count()).select_from(User)),
            active_today=count(select(func.count()).select_from(active)),
            tips=count(select(func.count()).select_from(Tip).where(_SHOWN)),
            tips_today=count(select(func.count()).select_from(Tip).where(_SHOWN, Tip.created_at >= today)),
            reactions=dict(reactions),
            agent_errors_today=count(
                select(func.count())
                .select_from(AgentRun)
                .where(AgentRun.status == "error", AgentRun.started_at >= today)
            ),
            fallbacks=count(select(func.count()).select_from(Tip).where(_SHOWN, fallback)),
            fallbacks_today=count(
                select(func.count()).select_from(Tip).where(_SHOWN, fallback, Tip.created_at >= today)
            ),
        )


def tips_per_day(engine: Engine, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """One row per UTC day of the last ``days`` up to ``now``, empty days included, oldest first.

    Columns: ``date``, ``tips`` (shown tips), one count per reaction kind and ``no reaction``; the counts add up to
    ``tips``. Shadow tips are never counted.
    """
    end = _today_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    with _session(engine) as session:
        rows = session.exec(
            select(Tip.created_at, Tip.reaction).where(_SHOWN, Tip.created_at >= start, Tip.created_at < end)
        ).all()
    frame = pd.DataFrame(rows, columns=["created_at", "reaction"])
    frame["date"] = pd.to_datetime(frame["created_at"], utc=True).dt.date
    frame["reaction"] = frame["reaction"].fillna(NO_REACTION)
    counts = pd.crosstab(frame["date"], frame["reaction"]) if len(frame) else pd.DataFrame()
    counts = counts.reindex(index=_days(start, days), columns=[*REACTIONS, NO_REACTION], fill_value=0)
    counts = counts.fillna(0).astype(int)
    counts.insert(0, "tips", counts.sum(axis=1))
    return counts.reset_index()


def errors_per_day(
    engine: Engine,
    days: int = 30,
    now: datetime | None = None,
    alias_table: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> pd.DataFrame:
    """One row per UTC day of the last ``days`` up to ``now``, oldest first: ``date``, ``agent_errors`` (failed agent
    runs) and ``fallbacks`` (shown tips the composer wrote in place of the alias's model, see :func:`overview`)."""
    end = _today_start(now) + timedelta(days=1)
    start = end - timedelta(days=days)
    with _session(engine) as session:
        errors = session.exec(
            select(AgentRun.started_at).where(
                AgentRun.status == "error", AgentRun.started_at >= start, AgentRun.started_at < end
            )
        ).all()
        fallbacks = session.exec(
            select(Tip.created_at).where(
                _SHOWN, _is_fallback(alias_table), Tip.created_at >= start, Tip.created_at < end
            )
        ).all()
    index = _days(start, days)

    def per_day(moments: Sequence[datetime]) -> pd.Series:
        counts = pd.Series([moment.date() for moment in moments], dtype=object).value_counts()
        return counts.reindex(index, fill_value=0).astype(int)

    return pd.DataFrame({"agent_errors": per_day(errors), "fallbacks": per_day(fallbacks)}, index=index).reset_index()


# Agents


def agent_freshness(engine: Engine, now: datetime | None = None) -> pd.DataFrame:
    """One row per registered agent (id order): columns :data:`FRESHNESS_COLUMNS`, the fields of
    :class:`agents.freshness.AgentFreshness`. Reads eligibility person by person: O(persons) queries."""
    now = now or datetime.now(UTC)
    with _session(engine) as session:
        rows = freshness.agent_freshness(session, now)
    return pd.DataFrame([asdict(row) for row in rows], columns=FRESHNESS_COLUMNS)


def stale_outputs(engine: Engine, now: datetime | None = None) -> pd.DataFrame:
    """The (person, eligible agent) pairs without a fresh output, by agent then person: columns
    :data:`STALE_COLUMNS`; ``reason`` is ``missing``, ``old version`` or ``expired`` (older than the TTL)."""
    now = now or datetime.now(UTC)
    with _session(engine) as session:
        rows = [asdict(pair) for pair in freshness.pair_freshness(session, now) if pair.reason is not None]
    frame = pd.DataFrame(rows, columns=STALE_COLUMNS)
    frame["age_h"] = frame["age_h"].astype(float)  # NaN where no output exists
    return frame.sort_values(["agent", "person_id"], ignore_index=True)


def agent_runs(
    engine: Engine, days: int = 7, now: datetime | None = None, status: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Agent runs started in the ``days`` before ``now``, newest first (optionally only one ``status``: ok, error,
    skipped): columns :data:`RUN_COLUMNS`. ``error`` is the exception's type and message, never a traceback."""
    now = now or datetime.now(UTC)
    query = (
        select(
            AgentRun.started_at,
            AgentRun.agent_id,
            AgentRun.user_id,
            AgentRun.status,
            AgentRun.duration_ms,
            AgentRun.error,
        )
        .where(AgentRun.started_at >= now - timedelta(days=days), AgentRun.started_at <= now)
        .order_by(col(AgentRun.started_at).desc(), col(AgentRun.id).desc())
    )
    if status is not None:
        query = query.where(AgentRun.status == status)
    if limit is not None:
        query = query.limit(limit)
    with _session(engine) as session:
        rows = session.exec(query).all()
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def agent_run_stats(engine: Engine, days: int = 7, now: datetime | None = None) -> pd.DataFrame:
    """One row per registered agent over the runs of the last ``days``: columns :data:`RUN_STAT_COLUMNS`. Durations
    are in milliseconds (percentiles interpolated linearly, None without runs); ``last_error`` is the newest error."""
    runs = agent_runs(engine, days=days, now=now)
    table = []
    for agent_id in registry():
        mine = runs[runs["agent"] == agent_id]
        errors = mine[mine["status"] == "error"]
        durations = mine["duration_ms"].astype(float)
        table.append(
            (
                agent_id,
                len(mine),
                len(errors),
                len(errors) / len(mine) if len(mine) else 0.0,
                float(durations.quantile(0.5)) if len(mine) else None,
                float(durations.quantile(0.95)) if len(mine) else None,
                float(durations.max()) if len(mine) else None,
                errors["error"].iloc[0] if len(errors) else None,
            )
        )
    return pd.DataFrame(table, columns=RUN_STAT_COLUMNS)


# Tips


@dataclass(frozen=True)
class TipFilters:
    """Which tips to look at; every field narrows, None (or empty) lets everything through.

    ``person`` is an id or part of an email; ``agent`` keeps tips it contributed to; ``reaction`` is a reaction kind
    or :data:`NO_REACTION`; ``start`` and ``end`` are UTC days (both included) or aware instants (end excluded);
    ``shadow`` is False for shown tips, True for shadow tips, None for both.
    """

    person: str | None = None
    agent: str | None = None
    model: str | None = None
    policy: str | None = None
    prompt_version: str | None = None
    reaction: str | None = None
    start: date | datetime | None = None
    end: date | datetime | None = None
    shadow: bool | None = False


def _tip_rows(session: Session, filters: TipFilters, limit: int | None = None) -> pd.DataFrame:
    query = (
        select(
            Tip.id,
            Tip.user_id,
            User.email,
            Tip.created_at,
            Tip.text,
            Tip.kind,
            Tip.sources,
            Tip.prompt_version,
            Tip.model,
            Tip.policy,
            Tip.shadow,
            Tip.reaction,
            Tip.reacted_at,
        )
        .join(User, col(User.id) == col(Tip.user_id))
        .order_by(col(Tip.created_at).desc(), col(Tip.id).desc())
    )
    start, end = _bound(filters.start, end=False), _bound(filters.end, end=True)
    conditions = [
        _person_condition(filters.person),
        col(Tip.created_at) >= start if start else None,
        col(Tip.created_at) < end if end else None,
        col(Tip.shadow) == filters.shadow if filters.shadow is not None else None,
        col(Tip.model) == filters.model if filters.model else None,
        col(Tip.policy) == filters.policy if filters.policy else None,
        col(Tip.prompt_version) == filters.prompt_version if filters.prompt_version else None,
    ]
    if filters.reaction == NO_REACTION:
        conditions.append(col(Tip.reaction).is_(None))
    elif filters.reaction:
        conditions.append(col(Tip.reaction) == filters.reaction)
    query = query.where(*[condition for condition in conditions if condition is not None])
    if limit is not None and not filters.agent:  # the agent filter reads the JSON sources, in Python
        query = query.limit(limit)
    rows = []
    for row in session.exec(query):
        agents = sorted({source["agent_id"] for source in row.sources})
        if filters.agent and filters.agent not in agents:
            continue
        rows.append(
            (
                *(row.id, row.user_id, row.email, row.created_at, row.text, str(row.kind), ", ".join(agents)),
                *(row.prompt_version, row.model, row.policy, bool(row.shadow), row.reaction or "", row.reacted_at),
            )
        )
        if len(rows) == limit:
            break
    return pd.DataFrame(rows, columns=TIP_LOG_COLUMNS)


def tip_log(engine: Engine, filters: TipFilters = TipFilters(), limit: int = 200) -> pd.DataFrame:
    """The tips that pass ``filters``, newest first, at most ``limit``: columns :data:`TIP_LOG_COLUMNS`; ``agents``
    are the contributing agents in id order, comma-separated; ``reaction`` is "" when none."""
    with _session(engine) as session:
        return _tip_rows(session, filters, limit)


def recent_tips(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest ``limit`` tips, newest first, shadow ones included and flagged: who got them, what wrote them
    (model, policy, contributing agents) and the reaction ("" when none). Columns: :data:`RECENT_TIP_COLUMNS`."""
    return tip_log(engine, TipFilters(shadow=None), limit)[RECENT_TIP_COLUMNS]


def _accepted(frame: pd.DataFrame) -> pd.Series:
    return frame["reaction"].isin([kind.value for kind in ACCEPTING_REACTIONS])


def acceptance(engine: Engine, by: str, filters: TipFilters = TipFilters()) -> pd.DataFrame:
    """Acceptance of shown tips (done or liked, over shown) grouped ``by`` one of :data:`ACCEPTANCE_DIMENSIONS`
    (``agents`` is the set of contributing agents): columns ``by``, ``shown``, ``accepted``, ``acceptance``; most
    shown first. ``filters.shadow`` is ignored: shadow tips are never shown."""
    frame = _shown_tips(engine, by, filters)
    grouped = (
        frame.assign(accepted=_accepted(frame))
        .groupby(by, as_index=False)
        .agg(shown=("id", "count"), accepted=("accepted", "sum"))
    )
    grouped["accepted"] = grouped["accepted"].astype(int)
    grouped["acceptance"] = grouped["accepted"] / grouped["shown"]
    return grouped.sort_values(["shown", by], ascending=[False, True], ignore_index=True)


def acceptance_per_day(engine: Engine, by: str, filters: TipFilters = TipFilters()) -> pd.DataFrame:
    """:func:`acceptance` per UTC day of creation: columns ``date``, ``by``, ``shown``, ``accepted``, ``acceptance``;
    oldest first; a day on which a group had no shown tip has no row."""
    frame = _shown_tips(engine, by, filters)
    frame = frame.assign(accepted=_accepted(frame), date=pd.to_datetime(frame["created_at"], utc=True).dt.date)
    grouped = frame.groupby(["date", by], as_index=False).agg(shown=("id", "count"), accepted=("accepted", "sum"))
    grouped["accepted"] = grouped["accepted"].astype(int)
    grouped["acceptance"] = grouped["accepted"] / grouped["shown"]
    return grouped.sort_values(["date", by], ignore_index=True)


def _shown_tips(engine: Engine, by: str, filters: TipFilters) -> pd.DataFrame:
    if by not in ACCEPTANCE_DIMENSIONS:
        raise ValueError(f"acceptance by {by!r}: choose one of {', '.join(ACCEPTANCE_DIMENSIONS)}")
    with _session(engine) as session:
        return _tip_rows(session, replace(filters, shadow=False))


@dataclass(frozen=True)
class TipFilterOptions:
    """The values the tip filters can take, for drop-downs: registered agents and what the tip log holds."""

    agents: list[str]
    models: list[str]
    policies: list[str]
    prompt_versions: list[str]
    reactions: list[str] = field(default_factory=lambda: [*REACTIONS, NO_REACTION])


def tip_filter_options(engine: Engine) -> TipFilterOptions:
    def distinct(column: Any) -> list[str]:
        return sorted(value for value in session.exec(select(column).distinct()) if value)

    with _session(engine) as session:
        return TipFilterOptions(
            agents=list(registry()),
            models=distinct(Tip.model),
            policies=sorted({*distinct(Tip.policy), *distinct(Policy.name)}),
            prompt_versions=distinct(Tip.prompt_version),
        )


# Events


@dataclass(frozen=True)
class EventFilters:
    """Which events to look at: ``person`` is an id or part of an email; ``types`` keeps those types (empty: all);
    ``start`` and ``end`` are UTC days (both included) or aware instants (end excluded)."""

    person: str | None = None
    types: tuple[str, ...] = ()
    start: date | datetime | None = None
    end: date | datetime | None = None


def _event_query(filters: EventFilters) -> Any:
    start, end = _bound(filters.start, end=False), _bound(filters.end, end=True)
    conditions = [
        _person_condition(filters.person),
        col(Event.type).in_(list(filters.types)) if filters.types else None,
        col(Event.at) >= start if start else None,
        col(Event.at) < end if end else None,
    ]
    return (
        select(Event.id, Event.at, Event.user_id, User.email, Event.type, Event.payload)
        .join(User, col(User.id) == col(Event.user_id))
        .where(*[condition for condition in conditions if condition is not None])
    )


def events(engine: Engine, filters: EventFilters = EventFilters(), limit: int = 500) -> pd.DataFrame:
    """The events that pass ``filters``, newest first, at most ``limit``: columns :data:`EVENT_COLUMNS`; ``payload``
    is compact JSON text."""
    query = _event_query(filters).order_by(col(Event.at).desc(), col(Event.id).desc()).limit(limit)
    with _session(engine) as session:
        rows = [
            (event_id, at, user_id, email, kind, json.dumps(payload, sort_keys=True, separators=(",", ":")))
            for event_id, at, user_id, email, kind, payload in session.exec(query).all()
        ]
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def events_per_day(engine: Engine, filters: EventFilters = EventFilters()) -> pd.DataFrame:
    """Counts of the events that pass ``filters`` per UTC day and type: columns ``date``, ``type``, ``events``;
    oldest first, days without events left out."""
    with _session(engine) as session:
        rows = session.exec(_event_query(filters)).all()
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["date"] = pd.to_datetime(frame["at"], utc=True).dt.date
    counts = frame.groupby(["date", "type"], as_index=False).agg(events=("id", "count"))
    return counts.sort_values(["date", "type"], ignore_index=True)


def event_types(engine: Engine) -> list[str]:
    """Every event type oO knows and every type stored, sorted."""
    with _session(engine) as session:
        stored = set(session.exec(select(Event.type).distinct()))
    return sorted(stored | {kind.value for kind in EventType})


# Policies and experiments


def policy_table(engine: Engine) -> pd.DataFrame:
    """Every policy, the incumbent first (the built-in one while none is stored): its role, prompt, alias, offline
    figures and promotion."""
    columns = ["name", "role", "prompt_version", "alias", "offline_judge_score", "offline_pass_rate"]
    columns += ["offline_run_id", "promoted_at", "promoted_by"]
    with _session(engine) as session:
        rows = [
            tuple(str(getattr(policy, column)) if column == "role" else getattr(policy, column) for column in columns)
            for policy in policies.all_policies(session)
        ]
    return pd.DataFrame(rows, columns=columns)


def shadow_comparisons(engine: Engine) -> pd.DataFrame:
    """One row per shadow candidate: its :class:`oo_app.recommender.policies.ShadowReport` against the incumbent,
    ``blockers`` (what refuses its promotion, "; "-joined) and ``promotable``. Empty when no candidate runs."""
    with _session(engine) as session:
        rows = []
        for candidate in policies.shadow_policies(session):
            report = policies.shadow_report(session, candidate.name)
            blockers = policies.promotion_blockers(report)
            rows.append({**report.as_dict(), "blockers": "; ".join(blockers), "promotable": not blockers})
    columns = [*policies.ShadowReport.__dataclass_fields__, "blockers", "promotable"]
    return pd.DataFrame(rows, columns=columns)


def _redacted(uri: str) -> str:
    """``uri`` without its credentials, fit for a message on screen."""
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return make_url(uri).render_as_string(hide_password=True) if "://" in uri else uri


def _unavailable(uri: str, error: Exception) -> str:
    """Why the MLflow store at ``uri`` could not be read, with no credential of ``uri`` in it."""
    said = f"{type(error).__name__}: {error}"
    userinfo = urlsplit(uri).netloc.rpartition("@")[0] if uri.startswith(("http://", "https://")) else ""
    if userinfo:
        said = said.replace(f"{userinfo}@", "")
    message = f"MLflow store {_redacted(uri)} unavailable ({said})."
    log.warning("the hub cannot read MLflow: %s", message)
    return message


def _mlflow_client(uri: str) -> Any:
    """A client of the MLflow store at ``uri``; raises FileNotFoundError for a SQLite store that does not exist (a
    client would create it). HTTP stores get the bounded retries of :mod:`oo_app.tracking`."""
    if uri.startswith("sqlite:"):
        database = make_url(uri).database
        if not database or not Path(database).exists():
            raise FileNotFoundError(f"no MLflow store at {database} yet")
    from oo_app import tracking  # imports mlflow: seconds

    if uri.startswith(("http://", "https://")):
        for name, value in tracking.HTTP_BOUNDS.items():
            os.environ.setdefault(name, value)
    return tracking.mlflow.MlflowClient(tracking_uri=uri)


@dataclass(frozen=True)
class BenchRuns:
    """The runs of MLflow's ``oo-bench`` experiment (columns :data:`BENCH_COLUMNS`), newest first; ``message`` says
    why there are none (no store, no experiment, no run, store unreachable) and is None when there are."""

    runs: pd.DataFrame
    message: str | None
    experiment_url: str | None = None


def bench_runs(tracking_uri: str | None = None, limit: int = 50) -> BenchRuns:
    """The latest ``limit`` benchmark runs of ``oo bench models`` in the store at ``tracking_uri`` (default: the
    configured one). Never raises for the store: an empty or unreachable one gives no run and a message."""
    from oo_app.tracking import BENCH_EXPERIMENT

    settings = get_settings()
    uri = tracking_uri or settings.mlflow_tracking_uri
    ui = settings.mlflow_ui_url.rstrip("/")
    empty = pd.DataFrame(columns=BENCH_COLUMNS)
    try:
        client = _mlflow_client(uri)
        experiment = client.get_experiment_by_name(BENCH_EXPERIMENT)
        runs = (
            client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=limit)
            if experiment is not None
            else []
        )
    except Exception as error:  # the hub shows the message; the store's failure must not take the notebook down
        return BenchRuns(empty, _unavailable(uri, error))
    if experiment is None:
        return BenchRuns(empty, f"No `{BENCH_EXPERIMENT}` experiment in {_redacted(uri)} yet: run `oo bench models`.")
    experiment_url = f"{ui}/#/experiments/{experiment.experiment_id}"
    if not runs:
        return BenchRuns(
            empty, f"The `{BENCH_EXPERIMENT}` experiment has no run yet: run `oo bench models`.", experiment_url
        )
    rows = [
        (
            run.info.run_id,
            run.info.run_name,
            run.info.status,
            pd.Timestamp(run.info.start_time, unit="ms", tz=UTC),
            run.data.params.get("policy"),
            run.data.params.get("prompt_version"),
            run.data.params.get("alias"),
            run.data.metrics.get("tips"),
            run.data.metrics.get("judge_score_mean"),
            run.data.metrics.get("guardrail_pass_rate"),
            run.data.metrics.get("latency_p50_s"),
            run.data.metrics.get("latency_p95_s"),
            f"{experiment_url}/runs/{run.info.run_id}",
        )
        for run in runs
    ]
    return BenchRuns(pd.DataFrame(rows, columns=BENCH_COLUMNS), None, experiment_url)


@dataclass(frozen=True)
class MlflowLinks:
    """Where the MLflow UI shows oO's experiments, tip traces and prompts; ``message`` says why a link is missing."""

    ui: str
    experiments: dict[str, str]  # experiment name -> page (the experiment list when it does not exist yet)
    traces: str
    prompts: dict[str, str | None]  # repo prompt version -> its registry page, None when not registered
    message: str | None = None


def mlflow_links() -> MlflowLinks:
    """Links into the MLflow UI (``settings.mlflow_ui_url``) for the configured store: the ``oo-tips`` and
    ``oo-bench`` experiments, the tip traces and every repo prompt version (:func:`oo_app.tracking.prompt_uri`).
    A missing or unreachable store gives the UI's list pages and a message; it never raises."""
    settings = get_settings()
    ui = settings.mlflow_ui_url.rstrip("/")
    versions = sorted(path.stem for path in PROMPTS_DIR.glob("*.txt"))
    experiments = {name: f"{ui}/#/experiments" for name in ("oo-tips", "oo-bench")}
    fallback = MlflowLinks(ui, experiments, f"{ui}/#/experiments", dict.fromkeys(versions))
    try:
        client = _mlflow_client(settings.mlflow_tracking_uri)
        from oo_app import tracking

        found = {
            name: client.get_experiment_by_name(name)
            for name in (tracking.TRACES_EXPERIMENT, tracking.BENCH_EXPERIMENT)
        }
        prompts = {version: tracking.prompt_uri(version) for version in versions}
    except Exception as error:  # links to the list pages still help; say why the others are missing
        return replace(fallback, message=_unavailable(settings.mlflow_tracking_uri, error))
    for name, experiment in found.items():
        if experiment is not None:
            experiments[name] = f"{ui}/#/experiments/{experiment.experiment_id}"
    tips = found[tracking.TRACES_EXPERIMENT]
    traces = f"{ui}/#/experiments/{tips.experiment_id}/traces" if tips is not None else fallback.traces
    return MlflowLinks(ui, experiments, traces, prompts)


# People


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
    with _session(engine) as session:
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
        log_rows = _tip_rows(session, TipFilters(person=str(user.id), shadow=None), tips)
    newest: dict[str, tuple[Any, ...]] = {}
    for agent_id, version, computed_at, expires_at, snippet in latest:
        newest.setdefault(agent_id, (agent_id, version, computed_at, expires_at, expires_at > now, snippet))
    outputs = pd.DataFrame(
        [newest[agent_id] for agent_id in sorted(newest)],
        columns=["agent", "version", "computed_at", "expires_at", "fresh", "snippet"],
    )
    return PersonCard(profile=profile, tips=log_rows, outputs=outputs)


# Audit


def audit_log(engine: Engine, limit: int = 100, action: str | None = None, target: str | None = None) -> pd.DataFrame:
    """The latest ``limit`` audit events (only ``action`` and ``target`` when given), newest first: ``id``, ``at``,
    ``actor``, ``action``, ``target``, ``details`` (JSON text)."""
    with _session(engine) as session:
        rows = [
            (event.id, event.at, event.actor, event.action, event.target, json.dumps(event.details, sort_keys=True))
            for event in audit.events(session, action=action, target=target, limit=limit)
        ]
    return pd.DataFrame(rows, columns=["id", "at", "actor", "action", "target", "details"])


# Operator actions: the CLI's domain functions, each recorded in the audit log in the same transaction


def promote_policy(
    engine: Engine, name: str, *, actor: str, force: bool = False, now: datetime | None = None
) -> Policy:
    """Promote the shadow candidate ``name`` through :func:`oo_app.recommender.policies.promote`, the domain action
    ``oo policy promote`` calls too, which records ``policy.promote`` by ``actor`` in the audit log. A refused
    promotion (Conflict, NotFound) raises and records nothing."""
    with _session(engine, write=True) as session:
        return policies.promote(session, name, actor=actor, force=force, now=now)


def recompute_person(engine: Engine, user_id: int, *, actor: str, now: datetime | None = None) -> list[str]:
    """Compute the due agent outputs of person ``user_id`` now through :func:`agents.runner.run_due` (what
    ``oo agents run --user`` calls) and record ``agents.recompute`` by ``actor``; the agents that wrote an output.
    NotFound for an unknown id. Failed agents write no output and leave their error in ``agent_runs``."""
    from agents.runner import run_due

    with _session(engine, write=True) as session:
        if session.get(User, user_id) is None:
            raise NotFound(f"no person with the id {user_id}")
        written = sorted(output.agent_id for output in run_due(session, now=now, user_ids=[user_id]))
        audit.record(
            session,
            actor,
            audit.RECOMPUTE_AGENTS,
            audit.person_target(user_id),
            {"agents": written, "outputs": len(written)},
            now=now,
        )
    return written


# Navigation between the notebooks

NOTEBOOK_LINKS_ENV = "OO_HUB_NOTEBOOK_LINKS"

NOTEBOOKS = {
    "hub": "Overview: persons, activity, tips, reactions, errors",
    "agent_health": "Agents: freshness against TTL and SLA, run durations, errors, stale outputs",
    "tips": "Tips: the log with filters, acceptance by agents, prompt, model and policy",
    "events": "Events: the signal store by person, type and time",
    "experiments": "Experiments: shadow candidates against the incumbent, benchmarks, promotion",
    "people": "People: one person's profile, consents and tips; recompute their agents",
}


def notebook_href(name: str, links: str | None = None) -> str:
    """A relative link to notebook ``name`` of ``admin_notebooks/``, in the way the server in front of the notebooks
    addresses them: ``links``, by default the environment variable ``OO_HUB_NOTEBOOK_LINKS``.

    - ``file`` (the default): ``?file=<name>.py``, as ``marimo run admin_notebooks/`` serves a folder;
    - ``path``: ``../<name>/``, each notebook at a sibling path, as ``marimo.create_asgi_app()
      .with_dynamic_directory(path=P, ...)`` serves them (at ``P/<name>/``).

    It has to be said: marimo's request cannot tell the two apart (the kernel sees ``/ws`` and no ``file`` in both).
    """
    if name not in NOTEBOOKS:
        raise KeyError(f"no notebook {name!r} in admin_notebooks/; known: {', '.join(NOTEBOOKS)}")
    links = links or os.environ.get(NOTEBOOK_LINKS_ENV, "").strip() or "file"
    if links not in ("file", "path"):
        raise ValueError(f"{NOTEBOOK_LINKS_ENV}={links!r}: 'file' (marimo run admin_notebooks/) or 'path'")
    return f"?file={name}.py" if links == "file" else f"../{name}/"


def notebook_heading(title: str, links: str | None = None) -> str:
    """The markdown heading every notebook opens with: ``title`` and a link to each notebook (:func:`notebook_href`)."""
    nav = " · ".join(f"[{name}]({notebook_href(name, links)})" for name in NOTEBOOKS)
    return f"# {title}\n{nav}"
