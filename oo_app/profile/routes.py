"""HTTP routes of ``oo_app.profile``, included by :mod:`oo_app.api`: thin adapters over the profile's domain functions.

Every route acts on the signed-in person only (``UserDep``); there is no way to name someone else's data. Writes
carry the CSRF guard. Domain errors leave as the API's JSON errors (422 invalid input, 404 unknown name, 409 conflict).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from oo_app.auth.sessions import csrf_cookie, secure_cookies, session_cookie
from oo_app.deps import CsrfDep, SessionDep, UserDep
from oo_app.profile.consents import ConsentChange, consent_keys
from oo_app.profile.contexts import ContextState, change_context, list_contexts, set_schedules
from oo_app.profile.deletion import CONFIRMATION_PHRASE, DeletionReport, delete_account
from oo_app.profile.export import export_person
from oo_app.profile.granted_agents import change_consents
from oo_app.profile.mood import SCALE, MoodCheckInState, record_mood
from oo_app.profile.overview import AgentInfo, Profile, agent_catalogue, profile_of
from oo_app.profile.prefs import ScopePrefs, scopes, set_preferences, setting_keys

router = APIRouter(tags=["profile"])


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (404, 409, 422)}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"model": ErrorBody, "description": "consent 'mood' not granted"}}

PrefChanges = Annotated[
    dict[Annotated[str, Field(max_length=64)], Any],
    Body(
        description="{key: value} sets the person's own value; {key: null} resets it to what oO infers.",
        examples=[{"preferred_hour": 9, "peak_hours": None}, {"enabled": False}],
        json_schema_extra={"propertyNames": {"enum": setting_keys()}},
    ),
]
ConsentChanges = Annotated[
    dict[Annotated[str, Field(max_length=64)], StrictBool],
    Body(
        description="{key: true} grants a consent, {key: false} revokes it.",
        examples=[{"tasks": False}, {"activity": True, "tasks": True}],
        json_schema_extra={"propertyNames": {"enum": consent_keys()}},
    ),
]


class ContextChangeIn(BaseModel):
    """One change to the person's contexts; ``activate`` makes it the one active context."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["create", "activate", "deactivate", "delete"]
    name: str = Field(max_length=200, examples=["work"])
    kind: Literal["work", "home", "rest", "any"] | None = Field(
        default=None,
        description="With create: what the context is for (rest: a holiday or day off; any: every agent fits). "
        "Without it, oO reads the kind from the name ('office' -> work, 'vacation' -> rest).",
    )


class ScheduleIn(BaseModel):
    """A weekly schedule on the person's clock; it runs overnight when ``end`` is at or before ``start``."""

    model_config = ConfigDict(extra="forbid")

    weekdays: list[Annotated[str, Field(max_length=16)]] = Field(max_length=7, examples=[["mon", "tue", "wed"]])
    start: str = Field(max_length=8, examples=["09:00"])
    end: str = Field(max_length=8, examples=["17:00"])


class SchedulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedules: list[ScheduleIn] = Field(max_length=20, description="All the context's schedules; [] removes them.")


class ContextsOut(BaseModel):
    contexts: list[ContextState]


class MoodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: StrictInt = Field(description=f"the mood: {SCALE}", examples=[1, 3])


class AgentsOut(BaseModel):
    agents: list[AgentInfo]


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: str = Field(
        max_length=400, description=f"The person's email address, or the phrase {CONFIRMATION_PHRASE!r}."
    )


@router.get("/api/profile", response_model=Profile, responses=ERRORS)
def get_profile(session: SessionDep, user: UserDep) -> Profile:
    """The person, their preferences per scope (value, source, inferred value), consents, contexts, integrations."""
    return profile_of(session, user)


@router.patch("/api/profile/prefs/{scope}", response_model=ScopePrefs, responses=ERRORS, dependencies=[CsrfDep])
def patch_prefs(
    scope: Annotated[
        str, Path(max_length=64, description="'global' or an agent id", json_schema_extra={"enum": scopes()})
    ],
    changes: PrefChanges,
    session: SessionDep,
    user: UserDep,
) -> ScopePrefs:
    """Set or reset preferences of one scope, all or nothing; the scope after the change."""
    return set_preferences(session, user, scope, changes)


@router.patch("/api/profile/consents", response_model=ConsentChange, responses=ERRORS, dependencies=[CsrfDep])
def patch_consents(changes: ConsentChanges, session: SessionDep, user: UserDep) -> ConsentChange:
    """Grant or revoke consents; a grant runs the agents it allows at once (in the background, then a fresher tip);
    a revocation stops the agents that need it and deletes their outputs."""
    return change_consents(session, user, changes)


@router.patch("/api/profile/contexts", response_model=ContextsOut, responses=ERRORS, dependencies=[CsrfDep])
def patch_contexts(change: ContextChangeIn, session: SessionDep, user: UserDep) -> ContextsOut:
    """Create, activate (the others become inactive), deactivate or delete a context; the contexts after."""
    change_context(session, user, change.action, change.name, change.kind)
    return ContextsOut(contexts=list_contexts(session, user))


@router.put(
    "/api/profile/contexts/{name}/schedules", response_model=ContextsOut, responses=ERRORS, dependencies=[CsrfDep]
)
def put_context_schedules(
    name: Annotated[str, Path(max_length=200)], body: SchedulesIn, session: SessionDep, user: UserDep
) -> ContextsOut:
    """Replace the weekly schedules of the context ``name``, all or nothing; refused when one overlaps a schedule of
    another context. The contexts after."""
    set_schedules(session, user, name, [schedule.model_dump() for schedule in body.schedules])
    return ContextsOut(contexts=list_contexts(session, user))


@router.post(
    "/api/mood", response_model=MoodCheckInState, responses=ERRORS | FORBIDDEN, dependencies=[CsrfDep], tags=["mood"]
)
def post_mood(body: MoodIn, session: SessionDep, user: UserDep) -> MoodCheckInState:
    """Check in a mood; within half an hour of the last check-in it replaces that one. 403 without consent ``mood``,
    422 for a level off the scale; nothing is written then."""
    return record_mood(session, user, body.level)


@router.get("/api/agents/registry", response_model=AgentsOut, responses=ERRORS)
def get_registry(user: UserDep) -> AgentsOut:
    """Every agent's manifest: id, version, description, TTL and schedule, consents, contexts, parameters."""
    del user  # signed-in persons only
    return AgentsOut(agents=agent_catalogue())


@router.get(
    "/api/me/export",
    response_class=JSONResponse,
    responses={
        200: {"description": "A JSON file of everything oO stores about the person (a download)."},
        **ERRORS,
    },
)
def get_export(session: SessionDep, user: UserDep) -> Response:
    """Everything stored about the person as one JSON file (``Content-Disposition: attachment``)."""
    now = datetime.now(UTC)
    document = export_person(session, user, now)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="oo-export-{now:%Y-%m-%d}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.delete("/api/me", response_model=DeletionReport, responses=ERRORS, dependencies=[CsrfDep])
def delete_me(body: DeletionIn, session: SessionDep, user: UserDep) -> JSONResponse:
    """Delete the person's account and everything stored about them; signs them out."""
    report = delete_account(session, user, body.confirm)
    response = JSONResponse(jsonable_encoder(report))
    # The session rows went with the account; the browser forgets their cookies too.
    secure = secure_cookies()
    response.delete_cookie(session_cookie(), path="/", samesite="lax", secure=secure, httponly=True)
    response.delete_cookie(csrf_cookie(), path="/", samesite="lax", secure=secure)
    return response
