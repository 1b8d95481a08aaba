"""Time helpers: an instant as aware UTC, a person's zone by name.

Pure functions of the standard library: this module imports nothing of the app, so every layer may use it (the
agents included). Storage is UTC; a person's zone is applied only at the edges (inference, display, push timing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "UTC"  # a person's zone until something better is known (a sign-in's claim, their browser)


def as_utc(value: datetime | str) -> datetime:
    """Parse an ISO 8601 string or take a datetime; a naive one is taken as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is UTC:
        return moment  # already what is asked: a history's every time comes through here, most of them in UTC
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def known_zone(name: Any) -> str | None:
    """``name`` when it is an IANA time zone this machine knows, else None (for a zone from outside: a sign-in's
    claims, a browser)."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; bad paths raise ValueError
        return None
    return name
