"""Domain errors of the integrations, each with a message that says what to do next.

Routes, the CLI and account deletion turn them into a status code, an exit code or a report; none of them carries a
token, a key or a task's content.
"""

from __future__ import annotations

from oo_app.errors import Conflict, OOError


class VaultNotConfigured(OOError):
    """The token vault has no usable key (outside development, ``OO_TOKEN_KEYS`` is required)."""

    status_code = 503


class UnreadableToken(Conflict):
    """A stored token was encrypted with a key the vault no longer has."""


class NotConnected(Conflict):
    """The person has no connected integration with that provider."""


class ReauthNeeded(Conflict):
    """The provider no longer accepts oO's tokens (revoked, expired without refresh): the person must reconnect."""


class ProviderUnavailable(OOError):
    """The provider did not answer, or answered something that is not its documented contract."""

    status_code = 502


class IntegrationNotConfigured(OOError):
    """oO has no OAuth client for this provider (its client ID and secret are not set)."""

    status_code = 503


class TokenRefused(ReauthNeeded):
    """The provider answered 401 to the access token: a refresh may cure it, else the person must reconnect."""


class RateLimited(ProviderUnavailable):
    """The provider asked oO to slow down (HTTP 429); ``retry_after_s`` is how long it asked to wait, if it said."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SyncTokenRejected(ProviderUnavailable):
    """The provider no longer accepts the stored sync token: the next sync starts over with a full one."""


class WebhookRefused(OOError):
    """A webhook delivery without a valid signature: nothing is read from it."""

    status_code = 401


class MalformedWebhook(OOError):
    """A signed webhook delivery whose body or headers are not the provider's documented shape."""

    status_code = 400
