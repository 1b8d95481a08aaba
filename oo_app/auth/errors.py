"""Errors of signing in: who is asking could not be established, or a write did not come from oO's own page.

They are domain errors (:class:`oo_app.errors.OOError`), so the API answers them as JSON with their status.
"""

from __future__ import annotations

from oo_app.errors import OOError


class Unauthenticated(OOError):
    """No valid session: no cookie, an unknown or forged token, or an expired sign-in."""

    status_code = 401


class Forbidden(OOError):
    """The person is known but may not do this (a write without the CSRF proof, an operator route)."""

    status_code = 403


class SignInFailed(OOError):
    """A sign-in, sign-out or callback was refused; the message is what the person reads on the plain page."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int = 400, reason: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason or message
