"""The browser legs of Google Calendar's OAuth, included by :mod:`oo_app.api`: thin adapters over the domain.

``/integrations/google-calendar/connect`` sends the person to Google with a state bound to them in a signed HttpOnly
cookie; ``/callback`` checks it, trades the code and stores the tokens encrypted, or answers a plain page and stores
nothing. The first read of the calendar is due at once (``schedule.restart``) and runs in the next calendar round.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from oo_app.auth.oidc import SECURE_PREFIX
from oo_app.auth.sessions import secure_cookies
from oo_app.calendar import google, jobs
from oo_app.deps import SessionDep, UserDep
from oo_app.errors import OOError
from oo_app.integrations import oauth, schedule
from oo_app.integrations.routes import SETTINGS_PAGE
from oo_app.integrations.routes import plain_page as page
from oo_app.integrations.vault import check_vault
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

router = APIRouter()

STATE_COOKIE = "oo_google_calendar_oauth"  # the name on http://localhost; see state_cookie()
STATE_COOKIE_PATH = "/integrations/google-calendar"
CALLBACK_PATH = f"{STATE_COOKIE_PATH}/callback"
LABEL = "primary calendar"  # what the person sees of the connection: oO reads no account name


def state_cookie() -> str:
    """The state cookie's name: ``__Secure-`` prefixed where oO's cookies are Secure (a path rules out ``__Host-``)."""
    return SECURE_PREFIX + STATE_COOKIE if secure_cookies() else STATE_COOKIE


def _redirect_uri() -> str:
    """The redirect URI registered on oO's OAuth client in Google Cloud, on the origin people open."""
    return f"{get_settings().app_url}{CALLBACK_PATH}"


@router.get(f"{STATE_COOKIE_PATH}/connect", tags=["integrations"], include_in_schema=False)
def google_calendar_connect(user: UserDep) -> Response:
    """Send the person to Google to grant oO read access to their events; the state rides in a signed cookie."""
    try:
        provider = google.google_provider()
        check_vault()
    except OOError as error:
        log.warning("google calendar connect unavailable: %s", error)
        return page(str(error), error.status_code)
    redirect_uri = _redirect_uri()
    state, cookie = oauth.start_state(provider, user, redirect_uri)
    response = RedirectResponse(google.authorization_url(provider, redirect_uri, state), status_code=303)
    response.set_cookie(
        state_cookie(),
        cookie,
        max_age=oauth.STATE_MAX_AGE_S,
        path=STATE_COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(),
        samesite="lax",  # the callback is a top-level navigation from Google
    )
    return response


@router.get(CALLBACK_PATH, tags=["integrations"], include_in_schema=False)
def google_calendar_callback(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    user: UserDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """Where Google sends the person back: check the state, trade the code, check that the events scope was granted,
    store the tokens encrypted and read the calendar in the background once they are committed. Any failure answers a
    plain page and stores nothing."""
    try:
        provider = google.google_provider()
        redirect_uri = oauth.check_state(provider, request.cookies.get(state_cookie()), state, user)
        if error:
            raise oauth.AuthorizationFailed(f"Google did not grant access ({error}); nothing was connected")
        if not code:
            raise oauth.AuthorizationFailed("Google sent no authorization code; start again from the settings page")
        issued = oauth.exchange_code(provider, code, redirect_uri)
        if not google.has_scope(issued.scope):
            google.discard(provider, issued)
            raise oauth.AuthorizationFailed(
                "Google did not grant oO the permission to see your calendar's events; start again from the "
                "settings page and leave that box ticked on Google's screen"
            )
        integration = oauth.save_connection(session, user, provider, issued)
        integration.label = LABEL
        schedule.restart(integration, datetime.now(UTC))
        session.add(integration)
    except OOError as failure:
        session.rollback()
        log.info("google calendar connection of person #%s failed: %s", user.id, failure)
        response: Response = page(str(failure), failure.status_code)
    else:
        background.add_task(jobs.sync_person, user.id)  # the first read now, not at the next round
        response = RedirectResponse(f"{SETTINGS_PAGE}?integration={provider.name}&status=connected", status_code=303)
    response.delete_cookie(state_cookie(), path=STATE_COOKIE_PATH, secure=secure_cookies(), httponly=True)
    return response
