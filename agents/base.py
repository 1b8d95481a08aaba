"""The agent contract: a manifest, the history an agent reads, and the snippet it emits.

An agent is a module of this package that defines ``AGENT``: an :class:`Agent` with a manifest and a pure
``compute(history, params)``. Agents never touch the database (the runner does); a model is reached only
through an alias of :mod:`oo_app.llm`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from agents.busy import CALENDAR_CONSENT, BusyInterval, CalendarDay
from agents.contexts import AGENT_KINDS
from agents.due import Due
from agents.names import plain_name
from oo_app.clock import as_utc, zone

if TYPE_CHECKING:
    from agents.population import Batched, Population


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    type: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Completion:
    completed_at: datetime
    due_at: datetime | None
    project: str


@dataclass(frozen=True, slots=True)
class MoodCheckIn:
    """One mood tap: when, and its level on the scale of :data:`MOOD_LEVELS` (1 low, 2 okay, 3 good)."""

    at: datetime
    level: int


@dataclass(frozen=True, slots=True)
class TipOutcome:
    """How the person answered one of oO's shown tips: when, the agent it led with (None: a generic tip), its kind
    (``todo`` or ``advice``), the reaction (``done``, ``liked``, ``snoozed``, ``dismissed``, ``disliked``) and the
    name of the context it was written in (None: none)."""

    at: datetime
    lead_agent: str | None
    kind: str
    reaction: str
    context: str | None = None


MOOD_CONSENT = "mood"  # the consent that lets oO keep and read mood check-ins
MOOD_EVENT = "mood"  # the event type of a check-in; read only into ``UserHistory.moods``
# The mood scale, one word per level: what the tip page offers and what the mood agent reads.
MOOD_LEVELS: dict[int, str] = {1: "low", 2: "okay", 3: "good"}


@dataclass(frozen=True, slots=True)
class OpenTask:
    """An open task as an integration reports it on demand: held in memory for one computation, never stored.
    Its title and project are plain one-line text (:func:`agents.names.plain_name`); ``due`` is when it is due as the
    integration states it (:class:`agents.due.Due`: read on the person's clock where it is used), or None."""

    title: str
    project: str
    due: Due | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", plain_name(self.title))
        object.__setattr__(self, "project", plain_name(self.project))


@dataclass(frozen=True)
class UserHistory:
    """What agents may see of one person: events and task-completion derivatives up to ``now``.

    Built through :meth:`build`, which normalises every time to aware UTC and drops what lies after ``now``.
    ``open_tasks`` come from an integration on demand (for semantic clustering) and are never persisted. ``moods``
    are the person's mood check-ins, present only while they allow it (consent ``mood``); they are never among
    ``events``, so no other agent reads them.
    """

    events: tuple[HistoryEvent, ...]
    task_completions: tuple[Completion, ...]
    tz: str
    now: datetime
    open_tasks: tuple[OpenTask, ...] = ()
    moods: tuple[MoodCheckIn, ...] = ()
    # The calendar (consent ``calendar``): busy intervals of the next hours, in memory only, and the stored daily
    # derivatives of the past weeks (:mod:`agents.busy`). Empty without the consent or a connected calendar.
    busy: tuple[BusyInterval, ...] = ()
    calendar_days: tuple[CalendarDay, ...] = ()
    # How the person answered oO's tips (consent ``activity``), oldest first: read only by the learner agent.
    tip_outcomes: tuple[TipOutcome, ...] = ()
    # What works for most people: ``(lead or kind key, alpha, beta)`` across everyone's answered tips (the population
    # prior of :mod:`oo_app.recommender.learning`, handed by the runner); counts only, nobody's tips.
    tip_prior: tuple[tuple[str, float, float], ...] = ()

    @classmethod
    def build(
        cls,
        events: Iterable[tuple[str, datetime | str]],
        task_completions: Iterable[tuple[datetime | str, datetime | str | None, str]],
        tz: str | None,
        now: datetime | str | None = None,
        moods: Iterable[tuple[datetime | str, int]] = (),
    ) -> UserHistory:
        moment = as_utc(now) if now is not None else datetime.now(UTC)
        kept_events = tuple(
            sorted(
                (
                    HistoryEvent(str(kind), at)
                    for kind, raw in events
                    if kind != MOOD_EVENT and (at := as_utc(raw)) <= moment
                ),
                key=lambda event: event.at,
            )
        )
        kept_completions = tuple(
            sorted(
                (
                    Completion(done, as_utc(due) if due else None, plain_name(project))
                    for raw, due, project in task_completions
                    if (done := as_utc(raw)) <= moment
                ),
                key=lambda completion: completion.completed_at,
            )
        )
        kept_moods = tuple(
            sorted(
                (MoodCheckIn(at, int(level)) for raw, level in moods if (at := as_utc(raw)) <= moment),
                key=lambda mood: mood.at,
            )
        )
        return cls(kept_events, kept_completions, str(zone(tz)), moment, moods=kept_moods)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> UserHistory:
        """A history in the persona format (``events``, ``task_completions``, ``tz``, ``now``, optional ``moods`` as
        ``{"at", "level"}``); ``truth`` is ignored."""
        return cls.build(
            events=((e.get("type", ""), e["at"]) for e in data.get("events") or []),
            task_completions=(
                (c["completed_at"], c.get("due_at"), c.get("project", "")) for c in data.get("task_completions") or []
            ),
            tz=data.get("tz"),
            now=data.get("now"),
            moods=((m["at"], m["level"]) for m in data.get("moods") or []),
        )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


@dataclass(frozen=True)
class InferredParam:
    """A per-person parameter recovered from history, with the default used before there is enough of it."""

    key: str
    cold_start_default: Any
    infer: Callable[[UserHistory], Any]
    min_history: int = 0
    description: str = ""


@dataclass(frozen=True)
class AgentManifest:
    """What an agent is and needs. ``contexts``: the context kinds it fits (:mod:`agents.contexts`: work, home,
    rest); none declared means it fits every context. ``open_tasks``: the runner hands it the person's open tasks."""

    id: str
    version: str
    description: str
    ttl: timedelta
    schedule: timedelta
    consents: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    params: tuple[InferredParam, ...] = ()
    open_tasks: bool = False  # reads the person's open tasks (fetched on demand, never stored); needs ``tasks``
    calendar: bool = False  # reads busy intervals and calendar days (:mod:`agents.busy`); needs ``calendar``
    tip_outcomes: bool = False  # reads how the person answered oO's tips (:class:`TipOutcome`); needs ``activity``
    # Reads the person's events, completions and moods. An agent that does not (it must declare no min_history) is
    # handed a history holding only their zone and the moment, and the runner spares reading theirs.
    reads_history: bool = True

    def __post_init__(self) -> None:
        if self.open_tasks and "tasks" not in self.consents:
            raise ValueError(f"agent {self.id!r} reads open tasks: it must declare the 'tasks' consent")
        if self.calendar and CALENDAR_CONSENT not in self.consents:
            raise ValueError(f"agent {self.id!r} reads the calendar: it must declare the {CALENDAR_CONSENT!r} consent")
        if self.tip_outcomes and "activity" not in self.consents:
            raise ValueError(f"agent {self.id!r} reads tip reactions: it must declare the 'activity' consent")
        if not self.reads_history and any(param.min_history for param in self.params):
            raise ValueError(f"agent {self.id!r} reads no history: its parameters cannot need a min_history")
        unknown = set(self.contexts) - AGENT_KINDS
        if unknown:
            raise ValueError(
                f"agent {self.id!r} declares unknown context kinds {sorted(unknown)}; use some of "
                f"{sorted(AGENT_KINDS)}, or none to fit every context"
            )

    def public(self) -> dict[str, Any]:
        """The manifest as JSON-ready data (for the registry API and the operator hub)."""
        return {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "ttl_s": self.ttl.total_seconds(),
            "schedule_s": self.schedule.total_seconds(),
            "consents": list(self.consents),
            "contexts": list(self.contexts),
            "params": [
                {"key": p.key, "min_history": p.min_history, "cold_start_default": p.cold_start_default}
                for p in self.params
            ],
        }


# In the params the runner hands ``compute``: the keys whose value is assumed (a cold-start default: nothing learned
# yet, and not set by the person). An agent states an assumed value as an assumption, or not at all, and lists the
# keys it assumed in its data under this same name, so the writers and "why this tip?" never claim it as learned.
ASSUMED = "assumed"


def assumed_keys(params: Mapping[str, Any]) -> frozenset[str]:
    """The keys ``params`` marks as assumed (:data:`ASSUMED`); none when the caller did not say."""
    return frozenset(params.get(ASSUMED) or ())


@dataclass(frozen=True)
class Snippet:
    """What an agent emits: one short line for the prompt and the facts behind it."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Agent:
    manifest: AgentManifest
    compute: Callable[[UserHistory, Mapping[str, Any]], Snippet]
    # The batch path (:mod:`agents.batch`): every parameter for many persons at once, equal to each ``infer``. None:
    # the agent is computed person by person in a batch too.
    batch: Callable[[Population], Batched] | None = None
