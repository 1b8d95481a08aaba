"""Revoking a person's provider tokens: on disconnect of one integration and on account deletion.

Best effort at the provider (each request bounded by the provider's timeout), certain at home: whatever the
provider answers, the tokens (and the open tasks cached in this process) are forgotten locally and the integration is
marked ``disconnected``. A failure is
reported and logged (never with a token), so the person can still revoke oO's access in the provider's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, col, select

from oo_app.errors import OOError
from oo_app.integrations import open_tasks
from oo_app.integrations.oauth import DISCONNECTED, integration_of, provider_for, revoke
from oo_app.integrations.vault import describe, forget_tokens, read_tokens
from oo_app.models import Integration, User, utcnow

log = logging.getLogger(__name__)

Outcome = Literal["revoked", "nothing_to_revoke", "failed"]


@dataclass(frozen=True)
class Revocation:
    """What happened to one integration's tokens: always forgotten here; revoked at the provider, or not."""

    provider: str
    revocation: Outcome
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "status": DISCONNECTED, "revocation": self.revocation, "error": self.error}


Revoker = Callable[[Session, Integration], Revocation]
# Providers that revoke their own way (Google ends a whole grant with one call) or hold credentials that no provider
# can revoke (a CalDAV password, an ICS address): wired by :func:`oo_app.bootstrap.bootstrap`, since the providers'
# rooms sit above this one.
_revokers: dict[str, Revoker] = {}


def provide_revoker(provider: str, revoker: Revoker | None) -> None:
    """Revoke and forget ``provider``'s integrations with ``revoker`` (None: back to OAuth 2's RFC 7009 path)."""
    if revoker is None:
        _revokers.pop(provider, None)
    else:
        _revokers[provider] = revoker


def forget_credentials(session: Session, integration: Integration) -> Revocation:
    """For credentials no provider revokes (a password, a secret address): forgotten here, nothing to revoke."""
    forget_tokens(integration)
    integration.status = DISCONNECTED
    integration.updated_at = utcnow()
    session.add(integration)
    return Revocation(provider=integration.provider, revocation="nothing_to_revoke")


def revoke_and_forget(session: Session, integration: Integration) -> Revocation:
    """Revoke one integration's access at its provider (best effort, the way its kind needs) and forget its tokens
    here for certain, leaving it ``disconnected`` (added to the session; the caller flushes)."""
    if (revoker := _revokers.get(integration.provider)) is not None:
        return revoker(session, integration)
    outcome: Outcome = "nothing_to_revoke"
    error: str | None = None
    if integration.access_token_enc is not None or integration.refresh_token_enc is not None:
        try:
            tokens = read_tokens(integration)
            provider = provider_for(integration.provider)
            # A refresh token first: revoking it also ends the access tokens of its grant (RFC 7009, section 2.1).
            if tokens.refresh_token:
                revoke(provider, tokens.refresh_token, "refresh_token")
            revoke(provider, tokens.access_token, "access_token")
            outcome = "revoked"
        except OOError as failure:
            outcome, error = "failed", str(failure)
            log.warning("revocation of %s failed, tokens forgotten anyway: %s", describe(integration), failure)
    forget_tokens(integration)
    open_tasks.forget(integration.user_id)
    integration.status = DISCONNECTED
    integration.updated_at = utcnow()
    session.add(integration)
    return Revocation(provider=integration.provider, revocation=outcome, error=error)


def disconnect(session: Session, user: User, provider: str) -> Revocation:
    """Revoke and forget ``user``'s tokens of ``provider``, leaving the integration ``disconnected`` (flushed)."""
    integration = integration_of(session, user, provider)
    if integration is None:
        return Revocation(provider=provider, revocation="nothing_to_revoke")
    result = revoke_and_forget(session, integration)
    session.flush()
    return result


def revoke_all(session: Session, user: User) -> list[Revocation]:
    """Revoke each of ``user``'s provider tokens at its provider and forget them all (flushed; the caller commits).

    Never raises for a provider's failure: each one is in the returned list, so account deletion goes on.
    """
    open_tasks.forget(user.id)
    integrations = session.exec(
        select(Integration).where(Integration.user_id == user.id).order_by(col(Integration.id))
    ).all()
    results = [revoke_and_forget(session, integration) for integration in integrations]
    session.flush()
    return results
