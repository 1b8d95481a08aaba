"""How oO reaches a person's calendars: the ``calendar`` consent, their connected calendars, and a source per kind.

Credentials live encrypted in the integration's ``access_token_enc`` (ICS: the address; CalDAV: JSON ``{url, username,
password}``; Google: the OAuth access token) and are decrypted only into a :class:`CalendarSource` held for one read.
Each kind's source is built by a factory of :data:`FACTORIES` (tests swap one with :func:`use_source`); the concrete
modules are imported only when their kind is read. Nothing here reads a calendar or writes a row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.busy import CALENDAR_CONSENT
from oo_app.calendar.sources import CALDAV, GOOGLE, ICS, KINDS, CalendarSource
from oo_app.errors import Conflict, InvalidInput
from oo_app.integrations.errors import NotConnected, ReauthNeeded
from oo_app.integrations.oauth import CONNECTED, REAUTH_NEEDED
from oo_app.integrations.vault import TokenVault, get_vault, read_tokens
from oo_app.models import Consent, Integration, User
from oo_app.settings import Settings, get_settings

TITLES = {ICS: "Calendar address (ICS)", CALDAV: "CalDAV calendar", GOOGLE: "Google Calendar"}
# The short names of the API's paths (/api/integrations/calendar/{kind}/...) and the kinds they stand for.
SHORT_KINDS = {"ics": ICS, "caldav": CALDAV, "google": GOOGLE}

SourceFactory = Callable[[Session, Integration, Settings], CalendarSource]


class CalendarConsentMissing(Conflict):
    """The person has not granted ``calendar``: oO reads no calendar of theirs."""


def kind_of(name: str) -> str:
    """The integration kind of ``name`` (``ics``, ``caldav``, ``google`` or the full kind); InvalidInput otherwise."""
    kind = SHORT_KINDS.get(name, name)
    if kind not in KINDS:
        raise InvalidInput(f"unknown calendar {name!r}; the calendars are: {', '.join(SHORT_KINDS)}")
    return kind


# Every tip and every push round asks them (the busy times): built once, their values bound at each call (building a
# statement costs SQLAlchemy more CPU than running it).
_USER_ID = sa.bindparam("user_id")
_CONSENT = select(Consent).where(Consent.user_id == _USER_ID, Consent.key == CALENDAR_CONSENT)
_CALENDARS = select(Integration).where(Integration.user_id == _USER_ID, col(Integration.provider).in_(KINDS))
_CONNECTED = _CALENDARS.where(Integration.status == CONNECTED, col(Integration.access_token_enc).is_not(None))
_ALL_BY_KIND = _CALENDARS.order_by(col(Integration.provider))
_CONNECTED_BY_KIND = _CONNECTED.order_by(col(Integration.provider))


def consent_granted(session: Session, user_id: int) -> bool:
    """Whether the person grants ``calendar`` now."""
    consent = session.exec(_CONSENT, params={"user_id": user_id}).first()
    return consent is not None and consent.granted


def require_consent(session: Session, user_id: int) -> None:
    """Raise :class:`CalendarConsentMissing` unless the person grants ``calendar``."""
    if not consent_granted(session, user_id):
        raise CalendarConsentMissing(
            'turn on "Your calendar" on the settings page first: oO reads no calendar without it'
        )


def calendar_integrations(session: Session, user_id: int, *, connected_only: bool = True) -> list[Integration]:
    """The person's calendar integrations (only those connected with credentials, unless told), by kind."""
    query = _CONNECTED_BY_KIND if connected_only else _ALL_BY_KIND
    return list(session.exec(query, params={"user_id": user_id}).all())


def integration_of(session: Session, user: User, kind: str) -> Integration | None:
    """The person's integration of ``kind``, whatever its status."""
    return session.exec(select(Integration).where(Integration.user_id == user.id, Integration.provider == kind)).first()


def connected(session: Session, user: User, kind: str) -> Integration:
    """The person's connected integration of ``kind``; NotConnected or ReauthNeeded with what to do otherwise."""
    integration = integration_of(session, user, kind)
    if integration is None or integration.access_token_enc is None:
        raise NotConnected(f"{TITLES[kind]} is not connected; connect it from the settings page first")
    if integration.status == REAUTH_NEEDED:
        raise ReauthNeeded(f"{TITLES[kind]} no longer accepts oO's access; connect it again from the settings page")
    return integration


# --- credentials ---------------------------------------------------------------------------------------------------


def encode_credentials(kind: str, credentials: dict[str, str]) -> str:
    """The plain text kept (encrypted) in ``access_token_enc`` for an ICS address or a CalDAV account."""
    if kind == ICS:
        return credentials["address"]
    if kind == CALDAV:
        return json.dumps({key: credentials[key] for key in ("url", "username", "password")})
    raise InvalidInput(f"{TITLES.get(kind, kind)} is connected through its own sign-in, not with credentials")


def credentials_of(integration: Integration, vault: TokenVault | None = None) -> dict[str, str]:
    """The decrypted credentials of an ICS or CalDAV integration (in memory only)."""
    plain = read_tokens(integration, vault or get_vault()).access_token
    if integration.provider == ICS:
        return {"address": plain}
    try:
        stored = json.loads(plain)
        return {key: str(stored[key]) for key in ("url", "username", "password")}
    except (ValueError, KeyError, TypeError):
        raise ReauthNeeded("the stored CalDAV account is unreadable; connect the calendar again") from None


def label_of(kind: str, credentials: dict[str, str]) -> str:
    """What a person sees of a connection: the host, never a path, a user name or a secret."""
    address = credentials.get("address") or credentials.get("url") or ""
    if address.startswith("webcal://"):
        address = "https://" + address.removeprefix("webcal://")
    try:
        host = urlsplit(address).hostname or ""
    except ValueError:
        host = ""
    return host[:128] or TITLES.get(kind, kind)


# --- sources -------------------------------------------------------------------------------------------------------


def _limits(settings: Settings) -> dict[str, Any]:
    """The limits every source reads with: oO's calendar timeout and size cap, and push's rule on private addresses."""
    return {
        "timeout_s": settings.calendar_timeout_s,
        "max_bytes": settings.calendar_max_bytes,
        "allow_private": settings.push_private_endpoints_allowed,
    }


def _ics_source(session: Session, integration: Integration, settings: Settings) -> CalendarSource:
    from oo_app.calendar.ics import IcsSource

    return IcsSource(credentials_of(integration)["address"], **_limits(settings))


def _caldav_source(session: Session, integration: Integration, settings: Settings) -> CalendarSource:
    from oo_app.calendar.caldav_source import CalDavSource

    account = credentials_of(integration)
    return CalDavSource(account["url"], account["username"], account["password"], **_limits(settings))


def _google_source(session: Session, integration: Integration, settings: Settings) -> CalendarSource:
    from oo_app.calendar.google import google_source

    return google_source(session, integration)


FACTORIES: dict[str, SourceFactory] = {ICS: _ics_source, CALDAV: _caldav_source, GOOGLE: _google_source}


def source_for(session: Session, integration: Integration, settings: Settings | None = None) -> CalendarSource:
    """The source that reads ``integration``'s calendar (credentials decrypted now, held by the source only)."""
    return FACTORIES[integration.provider](session, integration, settings or get_settings())


@contextmanager
def use_source(kind: str, factory: SourceFactory) -> Iterator[None]:
    """Read calendars of ``kind`` through ``factory`` inside the block (tests, benchmarks), then as before."""
    before = FACTORIES[kind]
    FACTORIES[kind] = factory
    try:
        yield
    finally:
        FACTORIES[kind] = before
