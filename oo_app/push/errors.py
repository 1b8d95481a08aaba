"""Errors of web push, as domain errors (:class:`oo_app.errors.OOError`): the API answers them with their status."""

from __future__ import annotations

from oo_app.errors import InvalidInput, OOError


class PushNotConfigured(OOError):
    """Push cannot work here: no VAPID key or subject outside development, or a malformed key."""

    status_code = 503


class EndpointRefused(InvalidInput):
    """A push endpoint oO will not POST to (not https, a private address, unresolvable, malformed)."""


class AnswerRefused(OOError):
    """A notification's answer token that oO did not sign for answering a tip (forged, altered, another purpose)."""

    status_code = 403


class AnswerExpired(OOError):
    """A notification's answer token past its expiry: the tip can still be answered on the page."""

    status_code = 410
