"""Calendar syncs on the task engines (in-process scheduler and procrastinate workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procrastinate import App


def register(app: App) -> None:
    """Add the periodic calendar round to a procrastinate app (the task engine's one)."""


async def calendar_scheduler() -> None:
    """Runs a calendar round every minute for as long as the app lives, unless the in-process scheduler is off."""
