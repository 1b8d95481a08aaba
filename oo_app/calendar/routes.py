"""HTTP routes of ``oo_app.calendar``, included by :mod:`oo_app.api`: thin adapters over the domain.

JSON in and out; writes need the CSRF proof, like Todoist's. Domain errors become their status through the API's
handlers: a refused address or password is never stored, and no answer carries a credential.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from oo_app.calendar import access, connections, sync
from oo_app.deps import CsrfDep, SessionDep, UserDep

router = APIRouter()

PREFIX = "/api/integrations/calendar"


class IcsBody(BaseModel):
    address: str = Field(max_length=2048, description="The calendar's secret address (https:// or webcal://).")


class CalDavBody(BaseModel):
    url: str = Field(max_length=2048, description="The CalDAV server, principal or calendar URL.")
    username: str = Field(max_length=2048)
    password: str = Field(max_length=2048, description="An app password where the provider offers them.")


@router.get(PREFIX, tags=["integrations"])
def calendar_status(session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Every kind of calendar with the person's connection, its host and its last sync; no credential is read."""
    return {
        "granted": access.consent_granted(session, user.id),
        "calendars": [view.as_dict() for view in connections.calendar_connections(session, user)],
    }


@router.post(f"{PREFIX}/ics", tags=["integrations"], dependencies=[CsrfDep])
def calendar_connect_ics(body: IcsBody, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Connect a calendar by its secret ICS address, once a first read succeeded (nothing is stored otherwise)."""
    return connections.connect_ics(session, user, body.address).as_dict()


@router.post(f"{PREFIX}/caldav", tags=["integrations"], dependencies=[CsrfDep])
def calendar_connect_caldav(body: CalDavBody, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Connect a CalDAV account, once a first read succeeded (nothing is stored otherwise)."""
    return connections.connect_caldav(session, user, body.url, body.username, body.password).as_dict()


@router.post(f"{PREFIX}/{{kind}}/sync", tags=["integrations"], dependencies=[CsrfDep])
def calendar_sync(kind: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Read the person's calendar of ``kind`` (``ics``, ``caldav`` or ``google``) now and store its days."""
    return sync.sync(session, user, access.kind_of(kind)).as_dict()


@router.post(f"{PREFIX}/{{kind}}/disconnect", tags=["integrations"], dependencies=[CsrfDep])
def calendar_disconnect(kind: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Forget the person's calendar of ``kind`` (Google's grant revoked at Google; its failure is reported)."""
    return connections.disconnect(session, user, kind).as_dict()
