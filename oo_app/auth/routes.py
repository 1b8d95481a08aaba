"""HTTP routes of ``oo_app.auth``, included by :mod:`oo_app.api`: sign in with OpenID Connect, sign out, dev login.

``GET /auth/login`` sends the browser to the provider; ``GET /auth/callback`` exchanges the code, lets Authlib verify
the ID token, finds or creates the person and opens a session (cookies ``oo_session``, HttpOnly, and ``oo_csrf``,
``__Host-`` prefixed where Secure); ``POST /auth/logout`` (CSRF-checked) closes it; ``POST /auth/dev-login`` signs in
as the demo person when enabled.
Every refusal is a plain black page saying what happened and what to do; details go to the log, never to the page.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from typing import Any

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc.errors import JoseError
from sqlmodel import Session

from oo_app import plain_page
from oo_app.auth.accounts import person_for_claims, promote_admin, verified_email
from oo_app.auth.csrf import check_csrf, check_origin
from oo_app.auth.errors import Forbidden, SignInFailed, Unauthenticated
from oo_app.auth.oidc import HTTP_ERRORS, callback_url, claims_options, oidc_client, provider_key
from oo_app.auth.sessions import (
    csrf_cookie,
    csrf_token_for,
    end_session,
    secure_cookies,
    session_cookie,
    start_session,
)
from oo_app.auth.users import user_by_email
from oo_app.db import session_scope
from oo_app.errors import NotFound
from oo_app.models import User
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])

TAMPERED = "Sign-in failed: the request was tampered with or expired. Try again."
UNVERIFIED = "Sign-in failed: the provider's answer could not be verified. Try again."
CODE_REFUSED = "Sign-in failed: the sign-in code was already used or has expired. Try again."
DENIED = "Sign-in cancelled: the provider did not let oO in. Try again."
MISCONFIGURED = "Sign-in failed: oO is not set up correctly at the provider. Tell whoever runs this server."
UNREACHABLE = "Sign-in failed: the sign-in provider can't be reached right now. Try again in a moment."
DEV_LOGIN_OFF = "The development login is off on this server. Sign in with your provider instead."
SIGN_OUT_REFUSED = "Sign-out refused: the request did not come from the oO page. Go back and use Sign out there."
OAUTH_ERRORS = {
    "invalid_grant": (CODE_REFUSED, 400),
    "access_denied": (DENIED, 400),
    "invalid_client": (MISCONFIGURED, 502),
    "unauthorized_client": (MISCONFIGURED, 502),
}
NO_DEMO_PERSON = "The development login needs the demo person: run `oo seed-demo`, then try again."


@router.get("/login", response_class=HTMLResponse, summary="Send the browser to the OpenID Connect provider")
async def login(request: Request) -> Response:
    settings = get_settings()
    try:
        client = oidc_client(settings)
        return await client.authorize_redirect(request, callback_url(settings))
    except SignInFailed as error:
        return failure_page(error)
    except (*HTTP_ERRORS, ValueError) as error:
        return failure_page(SignInFailed(UNREACHABLE, status_code=502, reason=f"discovery failed: {error!r}"))


@router.get("/callback", response_class=HTMLResponse, summary="Finish an OpenID Connect sign-in")
async def callback(request: Request) -> Response:
    settings = get_settings()
    try:
        claims = await _verified_claims(request, settings)
        provider = provider_key(settings.oidc_issuer or "")
        token = await asyncio.to_thread(
            _open_session,
            lambda db: person_for_claims(db, provider, claims),
            request.cookies.get(session_cookie()),
            verified_email(claims),
        )
    except SignInFailed as error:
        return failure_page(error)
    return _signed_in(token, settings)


@router.post("/logout", response_class=HTMLResponse, summary="Sign out (needs the CSRF token)")
async def logout(request: Request) -> Response:
    try:
        await check_csrf(request)
    except Forbidden as error:
        return failure_page(SignInFailed(SIGN_OUT_REFUSED, status_code=403, reason=str(error)))
    except Unauthenticated:
        pass  # no session cookie: nothing to close, the answer is the same
    else:
        await asyncio.to_thread(_close_session, request.cookies.get(session_cookie()))
    response = RedirectResponse(f"{get_settings().app_url}/", status_code=303)
    _clear_cookies(response, get_settings())
    return response


@router.post("/dev-login", response_class=HTMLResponse, summary="Development only: sign in as the demo person")
async def dev_login(request: Request) -> Response:
    settings = get_settings()
    try:
        if not settings.dev_login_enabled:
            raise SignInFailed(DEV_LOGIN_OFF, status_code=404, reason="dev login attempted while disabled")
        check_origin(request)
        # The demo person's email is the operator's own setting, so it vouches for itself (never in production).
        token = await asyncio.to_thread(
            _open_session,
            lambda db: _demo_person(db, settings),
            request.cookies.get(session_cookie(settings)),
            settings.demo_email.strip().lower(),
        )
    except Forbidden as error:
        return failure_page(SignInFailed(TAMPERED, status_code=403, reason=str(error)))
    except SignInFailed as error:
        return failure_page(error)
    return _signed_in(token, settings)


async def _verified_claims(request: Request, settings: Settings) -> dict[str, Any]:
    """The ID token's claims after Authlib checked state, PKCE exchange, signature, issuer, audience and nonce."""
    try:
        client = oidc_client(settings)
        token = await client.authorize_access_token(request, claims_options=claims_options(settings))
    except MismatchingStateError as error:
        raise SignInFailed(TAMPERED, reason=f"state: {error.description}") from error
    except OAuthError as error:
        message, status = OAUTH_ERRORS.get(error.error, (TAMPERED, 400))
        raise SignInFailed(message, status_code=status, reason=f"{error.error}: {error.description}") from error
    except JoseError as error:
        raise SignInFailed(UNVERIFIED, reason=f"ID token: {error!r}") from error
    except (*HTTP_ERRORS, ValueError) as error:
        raise SignInFailed(UNREACHABLE, status_code=502, reason=f"token exchange: {error!r}") from error
    claims = token.get("userinfo")
    if not claims:
        raise SignInFailed(UNVERIFIED, reason="the token response carried no ID token")
    return dict(claims)


def _demo_person(db: Session, settings: Settings) -> User:
    try:
        return user_by_email(db, settings.demo_email)
    except NotFound as error:
        raise SignInFailed(NO_DEMO_PERSON, status_code=404, reason=str(error)) from error


def _open_session(person: Callable[[Session], User], previous_token: str | None, verified: str | None) -> str:
    """Closes the browser's previous session, if any, and opens one for ``person(db)``, an admin when ``verified``
    (the email this sign-in vouches for) is theirs and listed; returns the raw token."""
    with session_scope() as db:
        end_session(db, previous_token)
        user = promote_admin(person(db), get_settings().admin_emails, verified)
        token = start_session(db, user)
        log.info("person %s signed in", user.id)
        return token


def _close_session(token: str | None) -> None:
    with session_scope() as db:
        if end_session(db, token):
            log.info("a session was closed by sign-out")


def _cookie_flags(settings: Settings) -> dict[str, Any]:
    return {"path": "/", "samesite": "lax", "secure": secure_cookies(settings)}  # no Domain: __Host- names


def _signed_in(token: str, settings: Settings) -> Response:
    response = RedirectResponse(f"{settings.app_url}/", status_code=303)
    max_age = int(settings.session_days * 86400)
    flags = _cookie_flags(settings)
    response.set_cookie(session_cookie(settings), token, max_age=max_age, httponly=True, **flags)
    response.set_cookie(csrf_cookie(settings), csrf_token_for(token), max_age=max_age, httponly=False, **flags)
    response.headers["Cache-Control"] = "no-store"
    return response


def _clear_cookies(response: Response, settings: Settings) -> None:
    flags = _cookie_flags(settings)
    response.delete_cookie(session_cookie(settings), httponly=True, **flags)
    response.delete_cookie(csrf_cookie(settings), httponly=False, **flags)


# The reason is the page's alert; the way back its one link.
MESSAGE_STYLE = "font-size:1.25rem;line-height:1.4;margin:0 0 1.5rem"
FAILURE_BODY = f"""<p id="auth-message" role="alert" style="{MESSAGE_STYLE}">{{message}}</p>
<a id="auth-back" href="{{back}}" style="{plain_page.LINK}">Back to oO</a>"""


def failure_page(error: SignInFailed) -> HTMLResponse:
    """The plain page of a refused sign-in, sign-out or callback; the reason behind it is logged."""
    log.warning("auth refused (%s): %s", error.status_code, error.reason)
    back = f"{get_settings().app_url}/"
    body = plain_page.page(FAILURE_BODY.format(message=html.escape(str(error)), back=html.escape(back, quote=True)))
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=error.status_code, headers=headers)
