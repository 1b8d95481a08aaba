"""Domain errors: raised with a message a person can act on; each boundary maps them to a status, toast or exit code."""

from __future__ import annotations

import math


class OOError(Exception):
    """Base of oO's domain errors."""

    status_code = 400


class InvalidInput(OOError):
    status_code = 422


class NotFound(OOError):
    status_code = 404


class Conflict(OOError):
    status_code = 409


class TooManyRequests(OOError):
    """Past a limit: nothing was done; ``retry_after_s`` says when to try again (the API's ``Retry-After``)."""

    status_code = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))
