"""Delegated access through OAuth 2 (Authlib): authorization URL and ``state``, code exchange, refresh, revocation.

Provider-generic: a provider is endpoints plus oO's client credentials from settings (Todoist today). Tokens leave
this module only encrypted (:mod:`oo_app.integrations.vault`) or in memory for the request that uses them. The
``state`` travels in a signed, short-lived, HttpOnly cookie bound to the person who started the connection.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, select

from oo_app.errors import OOError
from oo_app.integrations.errors import IntegrationNotConfigured, ProviderUnavailable, ReauthNeeded
from oo_app.integrations.vault import StoredTokens, TokenVault, get_vault, store_tokens
from oo_app.models import Integration, User, utcnow
from oo_app.settings import Settings, get_settings

try:  # Authlib's httpx integration runs on httpx2 when installed, else on httpx: catch the transport it uses.
    import httpx2 as _authlib_transport
except ImportError:  # pragma: no cover - depends on the installed extras
    import httpx as _authlib_transport

TRANSPORT_ERRORS = (_authlib_transport.HTTPError, ValueError)
STATE_MAX_AGE_S = 600
CONNECTED, REAUTH_NEEDED, DISCONNECTED = "connected", "reauth_needed", "disconnected"


class AuthorizationFailed(OOError):
    """The OAuth dance did not complete: wrong or expired state, access denied, or the code was refused."""

    status_code = 400


@dataclass(frozen=True)
class OAuthProvider:
    """A provider's OAuth endpoints and oO's client there."""

    name: str  # the ``integrations.provider`` value
    title: str  # how a person calls it
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    revocation_url: str
    scopes: str  # as the provider spells them in the ``scope`` parameter
    timeout_s: float


def todoist_provider(settings: Settings | None = None) -> OAuthProvider:
    """Todoist: read-only scope ``data:read``; RFC 7009 revocation at ``{api}/revoke``."""
    settings = settings or get_settings()
    secret = settings.todoist_client_secret.get_secret_value()
    if not settings.todoist_client_id or not secret:
        raise IntegrationNotConfigured(
            "Todoist is not set up on this server: set OO_TODOIST_CLIENT_ID and OO_TODOIST_CLIENT_SECRET "
            "(from Todoist's App Console)"
        )
    oauth, api = settings.todoist_oauth_url.rstrip("/"), settings.todoist_api_url.rstrip("/")
    return OAuthProvider(
        name="todoist",
        title="Todoist",
        client_id=settings.todoist_client_id,
        client_secret=secret,
        authorize_url=f"{oauth}/authorize",
        token_url=f"{oauth}/access_token",
        revocation_url=f"{api}/revoke",
        scopes="data:read",
        timeout_s=settings.todoist_timeout_s,
    )


PROVIDERS: dict[str, Callable[[Settings | None], OAuthProvider]] = {"todoist": todoist_provider}


def provider_for(name: str, settings: Settings | None = None) -> OAuthProvider:
    if name not in PROVIDERS:
        raise IntegrationNotConfigured(f"oO has no OAuth client for {name!r}")
    return PROVIDERS[name](settings)


def _client(provider: OAuthProvider, **kwargs: Any) -> OAuth2Client:
    # The client authenticates in the body at the token endpoint (Todoist documents client_id and client_secret as
    # parameters) and with HTTP Basic at the revocation endpoint (RFC 7009, as Todoist's SDK does).
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_basic",
        scope=provider.scopes,
        timeout=provider.timeout_s,
        **kwargs,
    )


# --- state ------------------------------------------------------------------------------------------------------


def _serializer(provider: OAuthProvider) -> URLSafeTimedSerializer:
    secret = get_settings().secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt=f"oo.integrations.{provider.name}.state")


def start_state(provider: OAuthProvider, user: User, redirect_uri: str) -> tuple[str, str]:
    """A fresh ``state`` and the signed cookie value that binds it to ``user`` and ``redirect_uri``."""
    state = secrets.token_urlsafe(32)
    cookie = _serializer(provider).dumps({"state": state, "user_id": user.id, "redirect_uri": redirect_uri})
    return state, cookie


def check_state(provider: OAuthProvider, cookie: str | None, state: str | None, user: User) -> str:
    """The redirect URI of the connection that ``cookie`` started, if ``state`` is its state and ``user`` started it.

    Raises :class:`AuthorizationFailed` otherwise (no cookie, forged, older than ten minutes, another person's).
    """
    again = f"start again from the settings page to connect {provider.title}"
    if not cookie or not state:
        raise AuthorizationFailed(f"this {provider.title} connection was not started from this browser; {again}")
    try:
        started = _serializer(provider).loads(cookie, max_age=STATE_MAX_AGE_S)
    except BadSignature:
        raise AuthorizationFailed(f"this {provider.title} connection link expired; {again}") from None
    expected = str(started.get("state", "")).encode()
    if not hmac.compare_digest(expected, state.encode("utf-8", "surrogateescape")) or started.get("user_id") != user.id:
        raise AuthorizationFailed(f"this {provider.title} answer does not match the connection you started; {again}")
    return str(started["redirect_uri"])


def authorization_url(provider: OAuthProvider, redirect_uri: str, state: str) -> str:
    """Where to send the person to grant oO access (authorization code grant)."""
    with _client(provider, redirect_uri=redirect_uri) as client:
        url, _ = client.create_authorization_url(provider.authorize_url, state=state)
    return url


# --- tokens -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTokens:
    """What a token endpoint issued: an access token, and a refresh token and expiry when the provider has them."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str = ""

    @classmethod
    def of(cls, token: dict[str, Any], provider: OAuthProvider) -> IssuedTokens:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderUnavailable(f"{provider.title} answered without an access token")
        expires_at = token.get("expires_at")
        return cls(
            access_token=access,
            refresh_token=token.get("refresh_token") or None,
            expires_at=datetime.fromtimestamp(int(expires_at), UTC) if expires_at else None,
            scope=str(token.get("scope") or provider.scopes),
        )


def exchange_code(provider: OAuthProvider, code: str, redirect_uri: str) -> IssuedTokens:
    """Trade an authorization code for tokens; a refused code is :class:`AuthorizationFailed`."""
    try:
        with _client(provider, redirect_uri=redirect_uri) as client:
            token = client.fetch_token(provider.token_url, grant_type="authorization_code", code=code)
    except OAuthError as error:
        raise AuthorizationFailed(
            f"{provider.title} refused the authorization ({error.error}); start again from the settings page"
        ) from None
    except TRANSPORT_ERRORS as error:
        raise ProviderUnavailable(
            f"{provider.title} did not answer the token exchange ({type(error).__name__})"
        ) from None
    return IssuedTokens.of(token, provider)


def ensure_fresh(provider: OAuthProvider, tokens: StoredTokens, save: Callable[[IssuedTokens], None]) -> str:
    """A usable access token: ``tokens``' own, or a refreshed one (Authlib's ``update_token`` hands it to ``save``).

    A token without expiry (Todoist's never expire) is used as it is. An expired one is refreshed when there is a
    refresh token; without one, or when the provider refuses the refresh, the person must reconnect
    (:class:`ReauthNeeded`).
    """
    token: dict[str, Any] = {"access_token": tokens.access_token, "token_type": "Bearer"}
    if tokens.refresh_token:
        token["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        token["expires_at"] = int(tokens.expires_at.timestamp())

    def update_token(new: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None) -> None:
        save(IssuedTokens.of(new, provider))

    with (
        _refresh_errors(provider),
        _client(provider, token=token, token_endpoint=provider.token_url, update_token=update_token) as client,
    ):
        if not client.ensure_active_token(client.token):
            raise ReauthNeeded(f"oO's access to {provider.title} expired; reconnect it from the settings page")
        return str(client.token["access_token"])


def force_refresh(provider: OAuthProvider, tokens: StoredTokens, save: Callable[[IssuedTokens], None]) -> str:
    """A new access token for one the provider refused before its expiry (HTTP 401), handed to ``save`` first.

    Without a refresh token, or when the provider refuses the refresh, the person must reconnect
    (:class:`ReauthNeeded`); a provider that does not answer is :class:`ProviderUnavailable`.
    """
    if not tokens.refresh_token:
        raise ReauthNeeded(f"{provider.title} no longer accepts oO's access; reconnect it from the settings page")

    def update_token(new: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None) -> None:
        save(IssuedTokens.of(new, provider))

    with (
        _refresh_errors(provider),
        _client(provider, token_endpoint=provider.token_url, update_token=update_token) as client,
    ):
        token = client.refresh_token(provider.token_url, refresh_token=tokens.refresh_token)
    return str(token["access_token"])


@contextmanager
def _refresh_errors(provider: OAuthProvider) -> Iterator[None]:
    """A refused refresh means the person must reconnect; a provider that does not answer is unavailable."""
    try:
        yield
    except OAuthError as error:
        raise ReauthNeeded(
            f"{provider.title} refused to renew oO's access ({error.error}); reconnect it from the settings page"
        ) from None
    except TRANSPORT_ERRORS as error:
        raise ProviderUnavailable(
            f"{provider.title} did not answer the token refresh ({type(error).__name__})"
        ) from None


def revoke(provider: OAuthProvider, token: str, hint: str = "access_token") -> None:
    """Revoke ``token`` at the provider (RFC 7009); raises :class:`ProviderUnavailable` unless it confirms."""
    try:
        with _client(provider) as client:
            response = client.revoke_token(provider.revocation_url, token=token, token_type_hint=hint)
    except TRANSPORT_ERRORS as error:
        raise ProviderUnavailable(f"{provider.title} did not answer the revocation ({type(error).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise ProviderUnavailable(f"{provider.title} answered HTTP {response.status_code} to the revocation")


# --- the stored connection --------------------------------------------------------------------------------------


def integration_of(session: Session, user: User, provider_name: str) -> Integration | None:
    return session.exec(
        select(Integration).where(Integration.user_id == user.id, Integration.provider == provider_name)
    ).first()


def save_connection(
    session: Session, user: User, provider: OAuthProvider, issued: IssuedTokens, vault: TokenVault | None = None
) -> Integration:
    """Store freshly issued tokens, encrypted, as ``user``'s connected integration (created or replaced)."""
    vault = vault or get_vault()
    integration = integration_of(session, user, provider.name) or Integration(user_id=user.id, provider=provider.name)
    store_tokens(integration, issued.access_token, issued.refresh_token, issued.expires_at, vault)
    integration.scopes = issued.scope
    integration.status = CONNECTED
    integration.updated_at = utcnow()
    session.add(integration)
    session.flush()
    return integration
