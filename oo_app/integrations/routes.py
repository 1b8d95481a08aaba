"""HTTP routes of ``oo_app.integrations``, included by :mod:`oo_app.api`: thin adapters over the domain.

The browser legs of OAuth (``/integrations/todoist/connect`` and ``/callback``) answer with redirects or a plain page
a person can read; a connection's backfill runs after the redirect is sent. The API routes answer JSON, their domain
errors mapped to a status by the API's handlers. Todoist's webhook (off unless ``OO_TODOIST_WEBHOOKS``) answers at
once and syncs the person after the answer.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from oo_app.auth.oidc import SECURE_PREFIX
from oo_app.auth.sessions import secure_cookies
from oo_app.deps import CsrfDep, SessionDep, UserDep
from oo_app.errors import OOError
from oo_app.integrations import jobs, oauth, schedule, todoist, webhook
from oo_app.integrations.oauth import DISCONNECTED, PROVIDERS
from oo_app.integrations.revocation import disconnect
from oo_app.integrations.vault import check_vault
from oo_app.plain_page import LINK, page
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

router = APIRouter()

STATE_COOKIE = "oo_todoist_oauth"  # the name on http://localhost; see state_cookie()
STATE_COOKIE_PATH = "/integrations/todoist"
CALLBACK_PATH = f"{STATE_COOKIE_PATH}/callback"
SETTINGS_PAGE = "/settings"


def plain_page(message: str, status_code: int) -> HTMLResponse:
    """A plain page for the browser legs of OAuth: what happened and the way back."""
    body = f'<p>{html.escape(message)}</p><p><a style="{LINK}" href="{SETTINGS_PAGE}">Back to settings</a></p>'
    return HTMLResponse(page(body, width="36rem"), status_code=status_code)


def state_cookie() -> str:
    """The state cookie's name: ``__Secure-`` prefixed where oO's cookies are Secure (a path rules out ``__Host-``)."""
    return SECURE_PREFIX + STATE_COOKIE if secure_cookies() else STATE_COOKIE


def _redirect_uri() -> str:
    """The redirect URL registered in Todoist's App Console: on the origin people open, like the login's."""
    return f"{get_settings().app_url}{CALLBACK_PATH}"


@router.get("/integrations/todoist/connect", tags=["integrations"], include_in_schema=False)
def todoist_connect(user: UserDep) -> Response:
    """Send the person to Todoist to grant oO read access; the state rides in a signed HttpOnly cookie."""
    try:
        provider = oauth.todoist_provider()
        check_vault()
    except OOError as error:
        log.warning("todoist connect unavailable: %s", error)
        return plain_page(str(error), error.status_code)
    redirect_uri = _redirect_uri()
    state, cookie = oauth.start_state(provider, user, redirect_uri)
    response = RedirectResponse(oauth.authorization_url(provider, redirect_uri, state), status_code=303)
    response.set_cookie(
        state_cookie(),
        cookie,
        max_age=oauth.STATE_MAX_AGE_S,
        path=STATE_COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(),
        samesite="lax",  # the callback is a top-level navigation from Todoist
    )
    return response


@router.get(CALLBACK_PATH, tags=["integrations"], include_in_schema=False)
def todoist_callback(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    user: UserDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """Where Todoist sends the person back: check the state, trade the code, store the tokens encrypted, and
    backfill the completed tasks once the redirect is sent (a failure there is kept on the integration and retried
    by the schedule; the connection stands).

    Any failure before the tokens are stored answers a plain page and stores nothing.
    """
    try:
        provider = oauth.todoist_provider()
        redirect_uri = oauth.check_state(provider, request.cookies.get(state_cookie()), state, user)
        if error:
            raise oauth.AuthorizationFailed(f"Todoist did not grant access ({error}); nothing was connected")
        if not code:
            raise oauth.AuthorizationFailed("Todoist sent no authorization code; start again from the settings page")
        issued = oauth.exchange_code(provider, code, redirect_uri)
        integration = oauth.save_connection(session, user, provider, issued)
        schedule.restart(integration, datetime.now(UTC))
    except OOError as failure:
        session.rollback()
        log.info("todoist connection of person #%s failed: %s", user.id, failure)
        response: Response = plain_page(str(failure), failure.status_code)
    else:
        # Connected from the first run (still unanswered): back to the tip page, where it goes on.
        back = "/" if user.onboarded_at is None else f"{SETTINGS_PAGE}?integration=todoist&status=connected"
        response = RedirectResponse(back, status_code=303)
        background.add_task(jobs.sync_person, user.id)  # after the commit and the redirect
    response.delete_cookie(state_cookie(), path=STATE_COOKIE_PATH, secure=secure_cookies(), httponly=True)
    return response


@router.post("/api/integrations/todoist/disconnect", tags=["integrations"], dependencies=[CsrfDep])
def todoist_disconnect(session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Revoke oO's access at Todoist and forget the tokens; a Todoist failure is reported, the tokens go anyway."""
    return disconnect(session, user, todoist.PROVIDER).as_dict()


@router.post("/api/integrations/todoist/sync", tags=["integrations"], dependencies=[CsrfDep])
def todoist_sync(session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Bring the person's completed Todoist tasks up to date now and store their derivatives (no titles)."""
    return todoist.sync(session, user).as_dict()


@router.post("/api/integrations/todoist/webhook", tags=["integrations"], include_in_schema=False)
async def todoist_webhook(request: Request, background: BackgroundTasks, session: SessionDep) -> dict[str, Any]:
    """Todoist's webhook: a signed delivery makes the person's sync due, and it runs after the answer.

    401 without a valid signature, 400 for a signed body that is not Todoist's, 404 while webhooks are off; any
    other delivery (a replay, an unknown person) is 200 with nothing written.
    """
    body = await request.body()
    user_id = webhook.receive(
        session,
        body,
        request.headers.get(webhook.SIGNATURE_HEADER),
        request.headers.get(webhook.DELIVERY_HEADER),
        datetime.now(UTC),
        get_settings(),
    )
    if user_id is not None:
        background.add_task(jobs.sync_person, user_id)
    return {"ok": True}


@router.get("/api/integrations", tags=["integrations"])
def integrations_status(session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Every provider oO knows with the person's status there; no token is read or decrypted."""
    rows = []
    for name in PROVIDERS:
        integration = oauth.integration_of(session, user, name)
        rows.append(
            {
                "provider": name,
                "status": integration.status if integration else DISCONNECTED,
                "scopes": integration.scopes if integration else "",
                "expires_at": integration.expires_at.isoformat() if integration and integration.expires_at else None,
                "updated_at": integration.updated_at.isoformat() if integration else None,
                "last_synced_at": _iso(integration.last_synced_at) if integration else None,
                "last_error": integration.last_error if integration else None,
                "next_attempt_at": _iso(integration.next_attempt_at) if integration else None,
            }
        )
    return {"integrations": rows}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
