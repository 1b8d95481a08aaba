"""When a delivery round may push a person: the slot still open, the hold of their meetings, the push's TTL.

Pure functions of the person's timing parameters (:mod:`oo_app.recommender.timing`), the clock and their busy
intervals; :func:`oo_app.push.delivery.deliver_due` calls them for each person in a round. They never read or write
the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from agents.busy import BusyInterval, next_busy
from oo_app.clock import zone
from oo_app.recommender.timing import (
    MAX_DAILY_TIPS,
    delivery_moments,
    free_to_read,
    next_wall_clock,
    push_moment,
    slot_window,
)


def open_slot(params: Mapping[str, Any], now: datetime, grace: timedelta) -> datetime | None:
    """The slot a round at ``now`` may still push: the latest delivery moment at or before ``now`` (on the person's
    clock) while ``now`` is inside its productive window (:func:`~oo_app.recommender.timing.slot_window`) or its
    grace; None between windows."""
    today = now.astimezone(zone(params.get("tz"))).date()
    started = [
        moment
        for day in (today - timedelta(days=1), today)
        for moment in delivery_moments(params, day, MAX_DAILY_TIPS)
        if moment <= now
    ]
    if not started:
        return None
    slot = started[-1]
    return slot if now < max(slot_window(params, slot)[1], slot + grace) else None


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
    """Why the open ``slot`` gets no push at ``now`` by the clock and the person's meetings, or None when it may go.

    ``in_meeting`` while the person is not free to read a tip now (in a meeting, or less than
    :data:`~oo_app.recommender.timing.READING_TIME` before one), or the slot's push moment is still to come or lost
    in meetings that fill its window; ``not_due`` once the grace after the push moment has passed. Busy times name
    only the meetings that have not ended, so past the grace a person whose busy times oO knows (``busy`` not empty)
    and who is free now is taken to have just left the meeting that held the slot: the push goes (within the slot's
    window, which the caller keeps)."""
    if not free_to_read(busy, now):
        return "in_meeting"
    moment = push_moment(params, slot, busy)
    if moment is None or now < moment:
        return "in_meeting"
    if now < moment + grace or busy:
        return None
    return "not_due"
