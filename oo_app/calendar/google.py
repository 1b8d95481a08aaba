"""Google Calendar as a calendar source: oO's OAuth client there (read-only events scope), the connected source with
its token refreshed, and revocation on disconnect.

:func:`google_provider` is built like :func:`oo_app.integrations.oauth.todoist_provider`; :func:`google_source` gives
a :class:`~oo_app.calendar.google_api.GoogleCalendarSource` (events.list, the in-memory state of its incremental sync
and the sync token's life are described in :mod:`oo_app.calendar.google_api`); :func:`revoke_google` ends the grant at
Google and forgets it here. Tokens leave this module only encrypted, or in memory for the read that uses them.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx
from cryptography.fernet import InvalidToken
from sqlmodel import Session

from oo_app.calendar import google_api
from oo_app.calendar.google_api import RECONNECT, GoogleCalendarSource
from oo_app.calendar.sources import GOOGLE
from oo_app.errors import OOError
from oo_app.integrations import oauth
from oo_app.integrations.errors import IntegrationNotConfigured, NotConnected, ProviderUnavailable, ReauthNeeded
from oo_app.integrations.oauth import (
    REAUTH_NEEDED,
    IssuedTokens,
    OAuthProvider,
    ensure_fresh,
    force_refresh,
)
from oo_app.integrations.revocation import Outcome, Revocation, forget_credentials
from oo_app.integrations.vault import TokenVault, describe, get_vault, read_tokens, store_tokens
from oo_app.models import Integration
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/calendar.events.readonly"
# access_type=offline asks for a refresh token; prompt=consent makes Google issue one again on a reconnection.
AUTHORIZE_PARAMS = {"access_type": "offline", "prompt": "consent"}


def google_provider(settings: Settings | None = None) -> OAuthProvider:
    """oO's OAuth client at Google, scope ``calendar.events.readonly``; revocation at ``google_revoke_url``."""
    settings = settings or get_settings()
    secret = settings.google_calendar_client_secret.get_secret_value()
    if not settings.google_calendar_client_id or not secret:
        raise IntegrationNotConfigured(
            "Google Calendar is not set up on this server: set OO_GOOGLE_CALENDAR_CLIENT_ID and "
            "OO_GOOGLE_CALENDAR_CLIENT_SECRET (an OAuth client of type Web application in Google Cloud)"
        )
    return OAuthProvider(
        name=GOOGLE,
        title="Google Calendar",
        client_id=settings.google_calendar_client_id,
        client_secret=secret,
        authorize_url=settings.google_oauth_url,
        token_url=settings.google_token_url,
        revocation_url=settings.google_revoke_url,
        scopes=SCOPE,
        timeout_s=settings.calendar_timeout_s,
    )


def authorization_url(provider: OAuthProvider, redirect_uri: str, state: str) -> str:
    """Where to send the person: the authorization code grant with ``access_type=offline`` and ``prompt=consent``."""
    url = oauth.authorization_url(provider, redirect_uri, state)
    return f"{url}{'&' if '?' in url else '?'}{urlencode(AUTHORIZE_PARAMS)}"


def has_scope(granted: str) -> bool:
    """Whether Google granted the events scope (on its consent screen a person may untick it)."""
    return SCOPE in granted.split()


# --- the stored connection ------------------------------------------------------------------------------------


def _sync_token(integration: Integration, vault: TokenVault) -> str | None:
    if integration.sync_token_enc is None:
        return None
    try:
        return vault.decrypt(integration.sync_token_enc)
    except InvalidToken:  # a key dropped from the vault: the next read is a full sync
        return None


def google_source(session: Session, integration: Integration, settings: Settings | None = None) -> GoogleCalendarSource:
    """``integration``'s calendar, ready to read, its access token refreshed first when it has expired.

    A refreshed token is stored encrypted and committed at once (like Todoist's sync), so no transaction stays open
    across Google's answers; the sync token a read sets is added to ``session`` for the caller to commit. Raises
    :class:`NotConnected`, :class:`ReauthNeeded` (also when the integration already awaits a reconnection),
    :class:`ProviderUnavailable` or :class:`IntegrationNotConfigured`.
    """
    settings = settings or get_settings()
    if integration.access_token_enc is None:
        raise NotConnected("Google Calendar is not connected; connect it from the settings page first")
    if integration.status == REAUTH_NEEDED:
        raise ReauthNeeded(f"Google Calendar no longer accepts oO's access; {RECONNECT}")
    if integration.id is None:
        raise NotConnected("Google Calendar is not connected; connect it from the settings page first")
    key, provider, vault = integration.id, google_provider(settings), get_vault(settings)

    def save_refreshed(issued: IssuedTokens) -> None:
        store_tokens(integration, issued.access_token, issued.refresh_token, issued.expires_at, vault)
        session.add(integration)
        session.commit()

    def save_sync_token(token: str) -> None:
        integration.sync_token_enc = vault.encrypt(token)
        session.add(integration)

    def refresh() -> str:
        return force_refresh(provider, read_tokens(integration, vault), save_refreshed)

    access_token = ensure_fresh(provider, read_tokens(integration, vault), save_refreshed)
    return GoogleCalendarSource(
        settings.google_calendar_api_url,
        access_token,
        settings.calendar_timeout_s,
        key=key,
        stored_sync_token=_sync_token(integration, vault),
        save_sync_token=save_sync_token,
        refresh=refresh,
    )


# --- revocation -----------------------------------------------------------------------------------------------


def _revoke_at_google(provider: OAuthProvider, token: str) -> bool:
    """Revoke ``token`` and its whole grant at Google; False when Google says it was already expired or revoked.

    Google's endpoint takes the token alone (no client authentication); one call ends the access and refresh tokens
    of the grant. Raises :class:`ProviderUnavailable` when Google does not confirm.
    """
    try:
        response = httpx.post(provider.revocation_url, data={"token": token}, timeout=provider.timeout_s)
    except httpx.HTTPError as error:
        raise ProviderUnavailable(f"Google did not answer the revocation ({type(error).__name__})") from None
    if response.status_code == 400 and _error_code(response) == "invalid_token":
        return False
    if response.status_code != 200:
        raise ProviderUnavailable(f"Google answered HTTP {response.status_code} to the revocation")
    return True


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def discard(provider: OAuthProvider, issued: IssuedTokens) -> None:
    """End at Google a grant oO will not keep (the events permission was not granted); a failure is only logged."""
    try:
        _revoke_at_google(provider, issued.refresh_token or issued.access_token)
    except ProviderUnavailable as failure:
        log.warning("a Google grant oO did not keep could not be revoked: %s", failure)


def revoke_google(session: Session, integration: Integration, settings: Settings | None = None) -> Revocation:
    """Revoke oO's access at Google (best effort) and forget it here for certain: tokens, sync token, the mirror.

    The integration is left ``disconnected`` and flushed; the caller commits. A Google failure is in the result
    (and the log, never with a token), so the person can still remove oO in their Google Account's settings.
    """
    outcome: Outcome = "nothing_to_revoke"
    error: str | None = None
    if integration.access_token_enc is not None:
        try:
            tokens = read_tokens(integration, get_vault(settings))
            # The refresh token first: revoking it ends the whole grant, access tokens included.
            if _revoke_at_google(google_provider(settings), tokens.refresh_token or tokens.access_token):
                outcome = "revoked"
        except OOError as failure:
            outcome, error = "failed", str(failure)
            log.warning("revocation of %s failed, tokens forgotten anyway: %s", describe(integration), failure)
    forget_credentials(session, integration)
    google_api.forget(integration.id)
    session.flush()
    return Revocation(provider=integration.provider, revocation=outcome, error=error)
