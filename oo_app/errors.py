"""Domain errors: raised with a message a person can act on; each boundary maps them to a status, toast or exit code."""

from __future__ import annotations


class OOError(Exception):
    """Base of oO's domain errors."""

    status_code = 400


class InvalidInput(OOError):
    status_code = 422


class NotFound(OOError):
    status_code = 404


class Conflict(OOError):
    status_code = 409
