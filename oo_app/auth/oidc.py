"""The OpenID Connect client (Authlib): authorization code with PKCE S256, ``state`` and ``nonce``, discovery.

Authlib keeps a flow's state, nonce and PKCE verifier in ``request.session``; :func:`with_login_state` provides
that session as a signed, short-lived, HttpOnly cookie scoped to ``/auth`` (Starlette's ``SessionMiddleware``), named
``__Secure-oo_oauth`` where it is Secure (a cookie with a path cannot take the stricter ``__Host-`` prefix).
The ID token's signature, issuer, audience, nonce and expiry are checked by Authlib; nothing here trusts claims
that did not pass that check.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import _compat
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from oo_app.auth.errors import SignInFailed
from oo_app.settings import Settings, get_settings

CLIENT_NAME = "oidc"
FLOW_COOKIE = "oo_oauth"
SECURE_PREFIX = "__Secure-"
FLOW_MAX_AGE_S = 600  # a sign-in must come back from the provider within ten minutes
SCOPE = "openid email profile"
HTTP_TIMEOUT_S = 10.0
NOT_CONFIGURED = "Sign-in with a provider is not configured on this server (OO_OIDC_ISSUER is unset)."
# Authlib talks through httpx2 when it is installed, else httpx: a provider that does not answer raises either.
HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _compat.httpx2.HTTPError)


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine, where cookies may go without ``Secure`` over plain HTTP."""
    return urlsplit(url).hostname in {"localhost", "127.0.0.1", "::1"}


def with_login_state(app: ASGIApp) -> ASGIApp:
    """``app`` wrapped with the session Authlib keeps a sign-in flow in (an ``api_transformer`` of Reflex)."""
    settings = get_settings()
    secure = not is_local(settings.app_url)
    return SessionMiddleware(
        app,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie=SECURE_PREFIX + FLOW_COOKIE if secure else FLOW_COOKIE,
        max_age=FLOW_MAX_AGE_S,
        path="/auth",
        same_site="lax",
        https_only=secure,
    )


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def provider_key(issuer: str) -> str:
    """The ``oauth_accounts.provider`` of an issuer: subjects are unique per issuer, so the issuer names it."""
    if len(issuer) <= 64:
        return issuer
    return issuer[:47] + "#" + hashlib.sha256(issuer.encode()).hexdigest()[:16]


def callback_url(settings: Settings) -> str:
    """The redirect URI to register at the provider."""
    return f"{settings.app_url}/auth/callback"


def oidc_client(settings: Settings | None = None) -> StarletteOAuth2App:
    """The client of the configured provider; raises :class:`SignInFailed` (503) when none is configured."""
    settings = settings or get_settings()
    if not settings.oidc_issuer:
        raise SignInFailed(NOT_CONFIGURED, status_code=503)
    return _client(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret.get_secret_value())


@lru_cache(maxsize=8)
def _client(issuer: str, client_id: str, client_secret: str) -> StarletteOAuth2App:
    client_kwargs: dict[str, Any] = {"scope": SCOPE, "code_challenge_method": "S256", "timeout": HTTP_TIMEOUT_S}
    if not client_secret:
        client_kwargs["token_endpoint_auth_method"] = "none"
    return OAuth().register(
        CLIENT_NAME,
        client_id=client_id,
        client_secret=client_secret or None,
        server_metadata_url=discovery_url(issuer),
        client_kwargs=client_kwargs,
    )


def claims_options(settings: Settings) -> dict[str, dict[str, Any]]:
    """What the ID token must say beyond its signature: this issuer, this client as audience, a subject, a nonce."""
    return {
        "iss": {"essential": True, "value": settings.oidc_issuer},
        "aud": {"essential": True, "value": settings.oidc_client_id},
        "sub": {"essential": True},
        "nonce": {"essential": True},
    }


def forget_clients() -> None:
    """Drops the cached clients with their discovery documents and keys (tests switch providers)."""
    _client.cache_clear()
