"""Plain words the page states share (no state here): how long ago something happened, and a domain error's message
as a sentence. Pure functions, so any page state may import them without importing another page's state.
"""

from __future__ import annotations

from datetime import datetime


def ago(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, in plain words ("just now", "5 minutes ago", "yesterday")."""
    if moment is None:
        return "not synced yet"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count == 1:
                return "last synced yesterday"
            return f"last synced {count} {unit}{'s' if count > 1 else ''} ago"
    return "last synced just now"


def sentence(message: str) -> str:
    """A domain error's message as a sentence: its first letter upper-case and a full stop at its end."""
    message = message.strip()
    if not message:
        return ""
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
