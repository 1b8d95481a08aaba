"""oO tables (SQLModel): the one place where the data model is defined.

Every row that belongs to a person carries ``user_id`` (cascading on delete) so that account deletion and export
can walk the metadata. Times are timezone-aware UTC (:class:`UTCDateTime`); raw third-party data is never stored.

Why one long module: the tables are read together (the migrations, the export and the deletion walk the one
metadata), each class is a short declaration, and one file shows the whole data model at a glance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from oo_app.clock import as_utc


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops offsets otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if type(value) is datetime and value.tzinfo is None:
            # SQLite's: the stored time is UTC. Every time a query reads comes through here (a history's hundreds for
            # each tip), and combine costs a fourth of replace(tzinfo=UTC) in CPython.
            return datetime.combine(value.date(), value.time(), UTC)
        return as_utc(value)


def _ts(*, nullable: bool = False, now: bool = True) -> Any:
    """A UTC timestamp column: defaults to now, or to None when nullable, or is required."""
    if now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=nullable)
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(sa_type=UTCDateTime, nullable=False)


def _owner() -> Any:
    return Field(
        sa_column_args=(sa.ForeignKey("users.id", ondelete="CASCADE"),),
        index=True,
        nullable=False,
    )


def empty_list() -> list[Any]:
    """A new empty list: the default factory of list columns. A function, not ``list``: SQLModel asks pydantic at every
    row built whether the factory takes arguments, and pydantic answers that for a builtin by parsing its text
    signature (0.12 ms of CPU; 0.007 ms for a function), which made building a tip cost 0.3 ms."""
    return []


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: default.copy(), sa_type=sa.JSON, nullable=False)


# SQLite hands a deleted row's id (the largest) to the next row unless the table says AUTOINCREMENT: a deleted person's
# id, or their tips' ids, must never name someone else's rows. PostgreSQL's sequences never go back anyway.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}


class Role(StrEnum):
    user = "user"
    admin = "admin"


class PrefSource(StrEnum):
    user = "user"
    inferred = "inferred"


class TipKind(StrEnum):
    advice = "advice"
    todo = "todo"


class Reaction(StrEnum):
    """A person's answer to a tip: stored as this string on the tip, sent as it by the API, and logged as the event
    :attr:`event_type`."""

    done = "done"
    snoozed = "snoozed"
    dismissed = "dismissed"
    liked = "liked"
    disliked = "disliked"

    @property
    def event_type(self) -> EventType:
        """The event that records this reaction (``tip_done`` for ``done``)."""
        return EventType(f"tip_{self.value}")


ACCEPTING_REACTIONS = frozenset({Reaction.done, Reaction.liked})  # the reactions that count as a tip taken up


class Chooser(StrEnum):
    """How a policy chooses the lead of a tip among the composer's candidates (oo_app/recommender/learning.py)."""

    thompson = "thompson"  # learning on: Thompson sampling over the person's posteriors
    composer_order = "composer-order"  # learning off: the composer's order


class PolicyRole(StrEnum):
    incumbent = "incumbent"  # writes the tips people see
    shadow = "shadow"  # writes beside the incumbent, never shown
    retired = "retired"


class EventType(StrEnum):
    tip_shown = "tip_shown"
    tip_done = "tip_done"
    tip_snoozed = "tip_snoozed"
    tip_dismissed = "tip_dismissed"
    tip_liked = "tip_liked"
    tip_disliked = "tip_disliked"
    mood = "mood"
    app_open = "app_open"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    tz: str = Field(default="UTC", max_length=64)
    role: Role = Field(default=Role.user, sa_type=sa.String(16))
    created_at: datetime = _ts()
    # When the person answered (or skipped) the first-run question of the tip page (oo_app/profile/first_run.py);
    # None until then. Only a first sign-in (and ``oo seed-demo --fresh-person``) makes a person with None: people
    # made by seeds, the simulation or operator tools count as having answered when they were made.
    # The default is the model's only (no column default): the ORM would put a column default in place of None.
    onboarded_at: datetime | None = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=True, sa_column_kwargs={"default": None}
    )


class OAuthAccount(SQLModel, table=True):
    __tablename__ = "oauth_accounts"
    __table_args__ = (sa.UniqueConstraint("provider", "subject"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    provider: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    created_at: datetime = _ts()


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    token_hash: str = Field(max_length=128, unique=True)
    expires_at: datetime = _ts(now=False)
    created_at: datetime = _ts()


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    key: str = Field(max_length=64)
    granted: bool = False
    text_version: str = Field(default="v1", max_length=32)
    at: datetime = _ts()


class UserPreference(SQLModel, table=True):
    __tablename__ = "user_preferences"
    __table_args__ = (sa.UniqueConstraint("user_id", "scope", "key"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    scope: str = Field(max_length=64, description="'global' or an agent id")
    key: str = Field(max_length=64)
    value: Any = Field(default=None, sa_type=sa.JSON)
    source: PrefSource = Field(default=PrefSource.inferred, sa_type=sa.String(16))
    updated_at: datetime = _ts()


class Context(SQLModel, table=True):
    __tablename__ = "contexts"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    name: str = Field(max_length=64)
    active: bool = Field(default=False, description="chosen by hand (a schedule may put another in effect)")
    kind: str | None = Field(default=None, max_length=16, description="work|home|rest|any; None: from the name")
    # Weekly slots on the person's clock: [{"weekdays": ["mon", ...], "start": "09:00", "end": "17:00"}].
    schedules: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"}
    )
    # When the person last chose a context by hand ("none" included); the same on all their rows.
    switched_at: datetime | None = _ts(nullable=True, now=False)
    created_at: datetime = _ts()


class Integration(SQLModel, table=True):
    __tablename__ = "integrations"
    __table_args__ = (sa.UniqueConstraint("user_id", "provider"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    provider: str = Field(max_length=64)
    access_token_enc: str | None = Field(default=None, sa_type=sa.Text)
    refresh_token_enc: str | None = Field(default=None, sa_type=sa.Text)
    expires_at: datetime | None = _ts(nullable=True, now=False)
    scopes: str = Field(default="", max_length=512)
    status: str = Field(default="connected", max_length=32)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # Sync state (oo_app.integrations.schedule): where the provider's changes resume, and when to try next.
    sync_token_enc: str | None = Field(
        default=None, sa_type=sa.Text, description="the provider's sync token, encrypted"
    )
    last_synced_at: datetime | None = _ts(nullable=True, now=False)
    last_error: str | None = Field(default=None, max_length=300, description="why the last sync failed; no secret")
    consecutive_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True, index=True)
    provider_user_id: str | None = Field(default=None, max_length=64, index=True, description="maps webhooks")
    label: str = Field(
        default="", max_length=128, sa_column_kwargs={"server_default": ""}, description="what the person sees: a host"
    )


class WebhookDelivery(SQLModel, table=True):
    """A provider's webhook delivery already handled, so that a replay writes nothing; kept a few weeks."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("provider", "delivery_id"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    provider: str = Field(max_length=64)
    delivery_id: str = Field(max_length=128)
    received_at: datetime = _ts()


class TaskCompletion(SQLModel, table=True):
    """A derivative of a completed third-party task: when, when due, which project. Never a title."""

    __tablename__ = "task_completions"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "source_key"),
        sa.Index("ix_task_completions_user_completed", "user_id", "completed_at"),
        IDS_NEVER_REUSED,
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    source_key: str = Field(max_length=128, description="provider + hashed task id, for idempotent sync")
    completed_at: datetime = _ts(now=False)
    due_at: datetime | None = _ts(nullable=True, now=False)
    project: str = Field(default="", max_length=128)


class CalendarDayRecord(SQLModel, table=True):
    """A derivative of one local day of a person's calendar (:class:`agents.busy.CalendarDay`): busy minutes, meeting
    count, first and last busy moment. Never a title, a description, an attendee or a place."""

    __tablename__ = "calendar_days"
    __table_args__ = (sa.UniqueConstraint("user_id", "day"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    day: date = Field(sa_type=sa.Date, nullable=False)
    busy_minutes: int = Field(default=0)
    meetings: int = Field(default=0)
    first_busy_at: datetime | None = _ts(nullable=True, now=False)
    last_busy_at: datetime | None = _ts(nullable=True, now=False)
    updated_at: datetime = _ts()


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_user_at", "user_id", "at"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    type: str = Field(max_length=32)
    at: datetime = _ts()
    payload: dict[str, Any] = _json({})


class AgentOutput(SQLModel, table=True):
    """A prompt snippet emitted by one agent for one person, valid until ``expires_at``."""

    __tablename__ = "agent_outputs"
    __table_args__ = (sa.Index("ix_agent_outputs_user_agent", "user_id", "agent_id", "computed_at"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    agent_id: str = Field(max_length=64)
    agent_version: str = Field(max_length=32)
    job_key: str = Field(max_length=200, unique=True, description="idempotency key of the job that wrote it")
    snippet: str = Field(sa_type=sa.Text)
    data: dict[str, Any] = _json({})
    computed_at: datetime = _ts()
    expires_at: datetime = _ts(now=False)


class AgentRun(SQLModel, table=True):
    __tablename__ = "agent_runs"
    __table_args__ = (sa.Index("ix_agent_runs_agent_started", "agent_id", "started_at"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    agent_id: str = Field(max_length=64)
    agent_version: str = Field(max_length=32)
    status: str = Field(max_length=16, description="ok | error | skipped")
    error: str | None = Field(default=None, sa_type=sa.Text)
    started_at: datetime = _ts()
    duration_ms: float = 0.0


class Tip(SQLModel, table=True):
    """The tip log: what was shown (or shadow-generated), from which agent outputs, by which model and prompt."""

    __tablename__ = "tips"
    __table_args__ = (sa.Index("ix_tips_user_created", "user_id", "created_at"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    text: str = Field(max_length=280)
    kind: TipKind = Field(default=TipKind.advice, sa_type=sa.String(16))
    prompt_version: str = Field(max_length=64)
    model_alias: str = Field(max_length=64)
    model: str = Field(max_length=128, description="the model that actually wrote the text")
    sources: list[dict[str, Any]] = _json([])
    policy: str = Field(max_length=64)
    shadow: bool = False
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: datetime = _ts()
    shown_at: datetime | None = _ts(nullable=True, now=False)
    reaction: Reaction | None = Field(default=None, sa_type=sa.String(16))
    reacted_at: datetime | None = _ts(nullable=True, now=False)
    shadow_of: int | None = Field(
        default=None,
        sa_column_args=(sa.ForeignKey("tips.id", ondelete="CASCADE", name="fk_tips_shadow_of_tips"),),
        index=True,
        description="on a shadow tip: the shown tip written from the same snippets",
    )
    agreement: float | None = Field(default=None, description="on a shadow tip: embedder cosine to its shown tip")
    judge_score: float | None = Field(default=None, description="the judge's score in [0, 1], once judged")
    follows: int | None = Field(
        default=None,
        sa_column_args=(sa.ForeignKey("tips.id", ondelete="SET NULL", name="fk_tips_follows_tips"),),
        unique=True,
        index=True,
        description="on a tip written ahead of time: the shown tip it is to follow once answered (waiting while "
        "unshown; oo_app/recommender/prefetch.py)",
    )
    snoozed_until: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=True,
        description="on a snoozed tip: no push before this moment (the person's next morning, oo_app/push)",
    )
    lead_agent: str | None = Field(
        default=None,
        max_length=64,
        index=True,
        description="the agent whose facts the tip mainly states (None: a generic tip); oo_app/recommender/learning.py",
    )
    candidates: list[str | None] = Field(
        default_factory=empty_list,
        sa_type=sa.JSON,
        nullable=False,
        description="the distinct leads the tip was chosen among, the composer's order (null: the generic tips)",
    )
    propensity: float | None = Field(
        default=None, description="the chance the chosen lead was picked among the candidates (off-policy evaluation)"
    )
    context: str | None = Field(
        default=None,
        max_length=64,
        description="the name of the person's context in effect when the tip was written (None: no context), so the "
        "learner can tell what they take up at work from what they take up at home",
    )

    @property
    def agent_ids(self) -> list[str]:
        return [source["agent_id"] for source in self.sources]


class Policy(SQLModel, table=True):
    """A way of writing tips: an orchestrator prompt version and a ``tip-generator``-like alias.

    One policy is the incumbent (its tips are shown); shadow policies write beside it on the same snippets and are
    never shown, until an operator promotes one. With no row at all, the built-in incumbent of the settings applies.
    """

    __tablename__ = "policies"
    __table_args__ = (
        # At most one incumbent, enforced by the database.
        sa.Index(
            "uq_policies_one_incumbent",
            "role",
            unique=True,
            sqlite_where=sa.text("role = 'incumbent'"),
            postgresql_where=sa.text("role = 'incumbent'"),
        ),
    )

    name: str = Field(primary_key=True, max_length=64)
    prompt_version: str = Field(max_length=64)
    alias: str = Field(max_length=64)
    role: PolicyRole = Field(default=PolicyRole.shadow, sa_type=sa.String(16))
    chooser: Chooser = Field(default=Chooser.thompson, sa_type=sa.String(32))
    offline_judge_score: float | None = None
    offline_pass_rate: float | None = None
    offline_run_id: str | None = Field(default=None, max_length=64, description="the MLflow run of its last bench")
    created_at: datetime = _ts()
    promoted_at: datetime | None = _ts(nullable=True, now=False)
    promoted_by: str | None = Field(default=None, max_length=320)


class AuditEvent(SQLModel, table=True):
    """An operator's action on the deployment (a promotion, a recompute): who, what, on what, when.

    ``actor`` is the operator (staff, e.g. their email), not a person whose data oO protects; ``target`` names what
    was acted on by id (``policy:terse-v1``, ``person:42``), never by a person's email; ``details`` hold no personal
    data. No ``user_id``: the log outlives a deleted person, who is left in it as a bare id (see oo_app/audit.py).
    """

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_at", "at"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor: str = Field(max_length=320)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = _json({})


# --- web push (oo_app/push) ------------------------------------------------------------------------------------------


class PushSubscription(SQLModel, table=True):
    """A browser's push subscription (``PushSubscription.toJSON()``): where to POST and the keys to encrypt to.

    ``p256dh`` (the browser's ECDH public key) and ``auth`` (its authentication secret) are key material: marked
    ``secret`` so the export withholds them. An endpoint belongs to one person at a time (the last to subscribe it).
    """

    __tablename__ = "push_subscriptions"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    endpoint: str = Field(max_length=2048, unique=True, description="the push service's URL for this browser")
    p256dh: str = Field(max_length=128, sa_column_kwargs={"info": {"secret": "keys"}})
    auth: str = Field(max_length=64, sa_column_kwargs={"info": {"secret": "keys"}})
    expires_at: datetime | None = _ts(nullable=True, now=False)
    created_at: datetime = _ts()
    last_success_at: datetime | None = _ts(nullable=True, now=False)
    last_failure_at: datetime | None = _ts(nullable=True, now=False)
    failures: int = Field(default=0, description="failed sends since the last success")


class PushDeliveryStatus(StrEnum):
    claimed = "claimed"  # the slot is taken; sending (or the sender died: the slot is never sent again)
    sent = "sent"  # at least one of the person's browsers' push services accepted it
    failed = "failed"  # every send failed (recorded in ``error``); not retried
    gone = "gone"  # every subscription had expired at its push service (404/410) and was deleted


class PushDelivery(SQLModel, table=True):
    """One push slot of a person: claimed (unique per person and delivery moment) before anything is sent, so two
    workers never send the same slot twice; then what happened."""

    __tablename__ = "push_deliveries"
    __table_args__ = (sa.UniqueConstraint("user_id", "slot", name="uq_push_deliveries_user_slot"), IDS_NEVER_REUSED)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _owner()
    slot: datetime = _ts(now=False)
    tip_id: int | None = Field(
        default=None,
        sa_column_args=(sa.ForeignKey("tips.id", ondelete="SET NULL", name="fk_push_deliveries_tip_id_tips"),),
        description="the tip pushed",
    )
    snoozed_tip_id: int | None = Field(
        default=None,
        sa_column_args=(sa.ForeignKey("tips.id", ondelete="SET NULL", name="fk_push_deliveries_snoozed_tip_id_tips"),),
        description="when the push brought a snoozed tip back: that tip (``tip_id`` is its copy)",
    )
    status: PushDeliveryStatus = Field(default=PushDeliveryStatus.claimed, sa_type=sa.String(16))
    claimed_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True, now=False)
    sent_to: int = Field(default=0, description="subscriptions whose push service accepted the message")
    error: str | None = Field(default=None, sa_type=sa.Text)


# --- account deletion (oo_app/profile/deletion.py) ------------------------------------------------------------------


class PendingDeletion(SQLModel, table=True):
    """A deleted person whose MLflow traces are not deleted yet (the store did not answer): ``oo privacy
    finish-deletions`` and the scheduler retry until it does, then delete the row.

    It outlives the person's ``users`` row, so it has no foreign key to it, and it holds their bare id and nothing
    else about them. The column is ``person_id``, not ``user_id``: this row records a deletion, it is not data the
    person owns (the export and the deletion check take every ``user_id`` column for that).
    """

    __tablename__ = "pending_deletions"

    person_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    requested_at: datetime = _ts()
    attempts: int = Field(default=1, description="sweeps of the trace store tried, the failed one at deletion included")
    last_error: str | None = Field(default=None, sa_type=sa.Text, description="why the last sweep failed")
