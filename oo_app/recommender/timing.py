"""When a tip may reach a person: at their inferred productive hours, never in their inferred quiet hours.

Decided from what oO inferred (the time-of-day agent's parameters), on the person's own clock with DST applied. The
offline simulation delivers by it, and so will web push.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from sqlmodel import Session, select

from agents.base import as_utc, zone
from agents.registry import get_agent
from agents.time_of_day import in_window
from oo_app.models import User, UserPreference

TIME_OF_DAY = "time-of-day"
MAX_DAILY_TIPS = 3


def hour_distance(a: int, b: int) -> int:
    """Hours between two hours of the day, around the clock."""
    return min((a - b) % 24, (b - a) % 24)


def timing_params(session: Session, user: User) -> dict[str, Any]:
    """The time-of-day parameters oO holds for ``user``: the agent's cold-start defaults (``tz``: the person's zone),
    overlaid by the stored values, each inferred by the agent's last run or set by the person."""
    manifest = get_agent(TIME_OF_DAY).manifest
    params: dict[str, Any] = {param.key: copy.deepcopy(param.cold_start_default) for param in manifest.params}
    params["tz"] = user.tz
    rows = session.exec(
        select(UserPreference).where(UserPreference.user_id == user.id, UserPreference.scope == manifest.id)
    ).all()
    params.update({row.key: row.value for row in rows})
    return params


def delivery_hours(params: Mapping[str, Any], limit: int = MAX_DAILY_TIPS) -> list[int]:
    """The local hours to deliver tips at, ascending: ``preferred_hour``, then the ``peak_hours`` nearest to it (a tie
    to the earlier), at most ``limit``; never an hour of the quiet window ``[quiet_start, quiet_end)``."""
    preferred = int(params["preferred_hour"])
    peaks = sorted({int(h) for h in params.get("peak_hours") or []}, key=lambda h: (hour_distance(h, preferred), h))
    start, end = int(params["quiet_start"]), int(params["quiet_end"])
    allowed = [hour for hour in dict.fromkeys([preferred, *peaks]) if not in_window(hour, start, end)]
    return sorted(allowed[:limit])


def is_quiet(params: Mapping[str, Any], moment: datetime) -> bool:
    """Whether ``moment`` lies in the quiet window of ``params`` on the clock of their ``tz`` (DST included); a naive
    ``moment`` is taken as UTC."""
    local = as_utc(moment).astimezone(zone(params.get("tz")))
    return in_window(local.hour, int(params["quiet_start"]), int(params["quiet_end"]))


def delivery_moments(params: Mapping[str, Any], day: date, limit: int = MAX_DAILY_TIPS) -> list[datetime]:
    """The UTC moments on the local date ``day`` (in ``tz``) at the top of each of :func:`delivery_hours`, ascending;
    an hour the day does not have (skipped by a DST change) is left out."""
    local_zone = zone(params.get("tz"))
    moments = []
    for hour in delivery_hours(params, limit):
        moment = datetime.combine(day, time(hour), tzinfo=local_zone).astimezone(UTC)
        if moment.astimezone(local_zone).hour == hour:
            moments.append(moment)
    return moments
