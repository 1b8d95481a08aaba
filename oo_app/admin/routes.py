"""HTTP routes of :mod:`oo_app.admin`, included by :mod:`oo_app.api`: thin adapters over :mod:`.actions`.

For admins only (401 without a session, 403 for anyone else), CSRF-checked like every write, bodies validated with
pydantic and bounded: a body over ``MAX_BODY_BYTES`` is a 413 and a history over ``MAX_HISTORY_ROWS`` events or
completions a 422, both before any work. Every call that passes is in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.base import UserHistory
from oo_app.admin.actions import Computed, compute_agent, infer_agent
from oo_app.body_limits import bounded_route
from oo_app.deps import AdminDep, CsrfDep, SessionDep

MAX_BODY_BYTES = 2 * 1024 * 1024  # a persona of 120 days is about 50 KB
MAX_HISTORY_ROWS = 10_000  # events, and task completions, per posted history

router = APIRouter(prefix="/api/agents", tags=["operators"], route_class=bounded_route(MAX_BODY_BYTES))


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 422)}
AgentId = Annotated[str, Path(min_length=1, max_length=64, description="an agent's id (GET /api/agents/registry)")]


class ComputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=1, le=2**63 - 1, description="the person to compute the agent for, by id")


class ComputedOut(BaseModel):
    agent_id: str
    user_id: int
    status: Literal["ok", "error"]
    output_id: int | None = None
    agent_version: str | None = None
    computed_at: datetime | None = None
    expires_at: datetime | None = None
    error: str | None = Field(default=None, description="the failed run's error, as agent_runs keeps it")

    @classmethod
    def of(cls, computed: Computed) -> ComputedOut:
        output = computed.output
        if output is None:
            return cls(agent_id=computed.agent_id, user_id=computed.user_id, status="error", error=computed.error)
        return cls(
            agent_id=computed.agent_id,
            user_id=computed.user_id,
            status="ok",
            output_id=output.id,
            agent_version=output.agent_version,
            computed_at=output.computed_at,
            expires_at=output.expires_at,
        )


class HistoryEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, description="tip_done, app_open, mood, ...")
    at: datetime


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    completed_at: datetime
    due_at: datetime | None = None
    project: str = Field(default="", max_length=200)


class HistoryIn(BaseModel):
    """A history in the persona format, what ``oo agents infer --history`` reads; naive times are UTC."""

    model_config = ConfigDict(extra="forbid")

    events: list[HistoryEventIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    task_completions: list[CompletionIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    tz: str | None = Field(default=None, max_length=64, description="the person's IANA zone; unset: UTC")
    now: datetime | None = Field(default=None, description="the history's present; unset: now")
    id: str | None = Field(default=None, max_length=200, description="a persona file's name: ignored")
    truth: dict[str, Any] | None = Field(default=None, description="a persona file's ground truth: ignored")

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, tz: str | None) -> str | None:
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {tz!r}: give an IANA name such as Europe/Berlin") from None
        return tz

    def history(self) -> UserHistory:
        return UserHistory.from_mapping(self.model_dump(include={"events", "task_completions", "tz", "now"}))


@router.post("/{agent_id}/compute", response_model=ComputedOut, responses=ERRORS, dependencies=[CsrfDep])
def post_compute(agent_id: AgentId, body: ComputeIn, session: SessionDep, admin: AdminDep) -> ComputedOut:
    """Compute one agent for one person now (their consents allowing), as the scheduler would; audited."""
    return ComputedOut.of(compute_agent(session, agent_id, body.user_id, actor=admin.email))


@router.post("/{agent_id}/infer", response_model=dict[str, dict[str, Any]], responses=ERRORS, dependencies=[CsrfDep])
def post_infer(agent_id: AgentId, body: HistoryIn, session: SessionDep, admin: AdminDep) -> dict[str, dict[str, Any]]:
    """The agent's parameters for the posted history, ``{agent_id: {param: value}}`` as ``oo agents infer`` prints
    them; nothing stored but the audit event."""
    return infer_agent(session, agent_id, body.history(), actor=admin.email)
