"""When a delivery round may push a person: the slot it is due for, the hold of their meetings, the push's TTL.

Pure functions of the person's timing parameters (:mod:`oo_app.recommender.timing`), the clock and their busy
intervals; :func:`oo_app.push.delivery.deliver_due` calls them for each person in a round. They never read or write
the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from agents.busy import BusyInterval, busy_at, next_busy
from oo_app.clock import zone
from oo_app.recommender.timing import MAX_DAILY_TIPS, delivery_moments, next_wall_clock, push_moment


def due_slot(params: Mapping[str, Any], now: datetime, grace: timedelta) -> datetime | None:
    """The delivery moment ``now`` falls within ``grace`` after (on the person's clock), or None."""
    today = now.astimezone(zone(params.get("tz"))).date()
    for day in (today - timedelta(days=1), today):
        for moment in delivery_moments(params, day, MAX_DAILY_TIPS):
            if moment <= now < moment + grace:
                return moment
    return None


def push_ttl(params: Mapping[str, Any], now: datetime, ttl_s: int, busy: Sequence[BusyInterval] = ()) -> int:
    """``ttl_s``, cut so that a push held for an offline browser expires before the person's quiet hours begin and
    before their next meeting starts."""
    start, end = int(params["quiet_start"]), int(params["quiet_end"])
    ends = []
    if start != end:
        ends.append(next_wall_clock(now, start, zone(params.get("tz"))))
    meeting = next_busy(busy, now)
    if meeting is not None:
        ends.append(meeting.start)
    return max(0, min([ttl_s, *(int((moment - now).total_seconds()) for moment in ends)]))


def meeting_hold(
    params: Mapping[str, Any], slot: datetime, now: datetime, busy: Sequence[BusyInterval], grace: timedelta
) -> str | None:
    """``in_meeting`` while the person's meetings hold the due ``slot`` back at ``now`` (a meeting now, or the slot
    moved to a meeting's end still to come, or taken by a meeting that outlasts the grace); None when free."""
    moment = push_moment(params, slot, busy, grace)
    if moment is None or now < moment or busy_at(busy, now) is not None:
        return "in_meeting"
    return None
