"""Calendar agent: when the person is free next, until when, and how full today is against their usual day.

Reads only busy intervals and calendar days (:mod:`agents.busy`, consent ``calendar``): never what a meeting is about.
Infers ``usual_meetings`` (the median count of meetings of the past days the sync stored; None until there are
:data:`MIN_DAYS` of them). Its snippet says in plain words the free block now or next and its length, the next
meeting, and today's meeting count against the usual one; its data hold the same facts (clock times as ``HH:MM`` and
hours as numbers) for the composer and the grounding check. Without any calendar data it says so and nothing more.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from agents.base import Agent, AgentManifest, InferredParam, Snippet, UserHistory
from agents.busy import CALENDAR_CONSENT, HORIZON, CalendarDay, busy_at, next_busy, next_free_block, summarize_day

MIN_DAYS = 5  # past calendar days below which the usual meeting count is unknown
NEAR_USUAL = 1  # a day within this many meetings of the usual count is "about your usual"
HORIZON_HOURS = int(HORIZON.total_seconds() // 3600)


def _past_days(history: UserHistory) -> list[CalendarDay]:
    today = history.local(history.now).date()
    return [day for day in history.calendar_days if day.day < today]


def infer_usual_meetings(history: UserHistory) -> int | None:
    days = _past_days(history)
    if len(days) < MIN_DAYS:
        return None
    return round(statistics.median(day.meetings for day in days))


def length(minutes: float) -> tuple[str, dict[str, int]]:
    """A duration in plain words ("45 min", "3 h", "1 h 30 min") and its parts, whole minutes rounded down."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min", {"hours": 0, "minutes": rest}
    return (f"{hours} h {rest} min" if rest else f"{hours} h"), {"hours": hours, "minutes": rest}


def _meetings(count: int) -> str:
    return "no meetings" if count == 0 else "1 meeting" if count == 1 else f"{count} meetings"


def _today(history: UserHistory) -> CalendarDay:
    """Today's derivative: the one the sync stored, else today's share of the busy intervals held now."""
    today = history.local(history.now).date()
    stored = next((day for day in history.calendar_days if day.day == today), None)
    return stored if stored is not None else summarize_day(history.busy, today, history.zone)


def _when(history: UserHistory, moment: datetime, *, at: bool = False) -> str:
    """``moment`` in words: ``HH:MM`` today, else "tomorrow at HH:MM" or "Sunday at HH:MM" (local); with ``at``, a
    phrase that follows a noun ("at 09:00", "tomorrow at 09:00", "on Sunday at 12:00")."""
    local, today = history.local(moment), history.local(history.now).date()
    if local.date() == today:
        return f"at {local:%H:%M}" if at else f"{local:%H:%M}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {local:%H:%M}"
    return f"{'on ' if at else ''}{local:%A} at {local:%H:%M}"


def _note(history: UserHistory, data: dict[str, Any], key: str, moment: datetime, *, at: bool = False) -> str:
    """Record ``moment`` in ``data`` as ``key`` (``HH:MM``) and ``key_hour``; the moment in words (:func:`_when`)."""
    local = history.local(moment)
    data[key], data[f"{key}_hour"] = local.strftime("%H:%M"), local.hour
    return _when(history, moment, at=at)


def _free_part(history: UserHistory, data: dict[str, Any]) -> str:
    """The sentence about the current meeting, the next free block and the next meeting; fills ``data``."""
    now = history.now
    meeting = busy_at(history.busy, now)
    block = next_free_block(history.busy, now)
    following = next_busy(history.busy, now)
    data["in_meeting"] = meeting is not None
    parts = []
    if meeting is not None:
        parts.append(f"in a meeting until {_note(history, data, 'meeting_until', meeting.end)}")
    elif following is not None and (block is None or following.start < block.start):
        # A meeting comes before the next free block (the gap before it is too short to name).
        parts.append(f"next meeting {_note(history, data, 'next_meeting', following.start, at=True)}")
    if block is None or block.end is None:
        data["horizon_hours"] = HORIZON_HOURS
    if block is None:  # booked solid to the horizon
        parts.append(f"no free time in the next {HORIZON_HOURS} h")
        return _sentence("; ".join(parts))
    data["free_now"] = block.start <= now
    if block.start <= now:
        opening, joiner = "free now", "until"
    else:
        opening, joiner = f"free from {_note(history, data, 'free_from', block.start)}", "to"
    if block.end is None:
        parts.append(f"{opening} with nothing booked in the next {HORIZON_HOURS} h")
        return _sentence("; ".join(parts))
    words, data["free_length"] = length(block.minutes or 0)
    data["free_minutes"] = int(block.minutes or 0)
    data["free_until_today"] = history.local(block.end).date() == history.local(now).date()
    parts.append(f"{opening} {joiner} {_note(history, data, 'free_until', block.end)} ({words})")
    if "next_meeting" not in data:
        parts.append(f"next meeting {_note(history, data, 'next_meeting', block.end, at=True)}")
    return _sentence("; ".join(parts))


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _load_part(today: CalendarDay, usual: int | None, data: dict[str, Any]) -> str:
    """The sentence about today's meetings against the usual count; fills ``data``."""
    data["meetings_today"] = today.meetings
    data["busy_minutes_today"] = today.busy_minutes
    said = f"{_meetings(today.meetings)} today"
    if usual is None:
        data["load"] = "unknown"
        return _sentence(said)
    data["usual_meetings"] = usual
    if abs(today.meetings - usual) <= NEAR_USUAL:
        data["load"] = "usual"
        return _sentence(f"{said}, about your usual {usual}")
    data["load"] = "heavier" if today.meetings > usual else "lighter"
    relation = "more than" if today.meetings > usual else "fewer than"
    return _sentence(f"{said}, {relation} your usual {usual}")


def compute(history: UserHistory, params: Mapping[str, Any]) -> Snippet:
    local = history.local(history.now)
    data: dict[str, Any] = {"local_time": local.strftime("%H:%M"), "local_hour": local.hour}
    if not history.busy and not history.calendar_days:
        data["cold_start"] = True
        return Snippet("No calendar read yet.", data)
    usual = params.get("usual_meetings")
    usual = int(usual) if isinstance(usual, int | float) and not isinstance(usual, bool) and usual >= 0 else None
    text = f"{_free_part(history, data)} {_load_part(_today(history), usual, data)}"
    return Snippet(text, data)


AGENT = Agent(
    manifest=AgentManifest(
        id="calendar",
        version="1.0.0",
        description="Reads when your calendar says you are busy (never what about): your next free time and how "
        "full today is.",
        ttl=timedelta(minutes=15),
        schedule=timedelta(minutes=10),
        consents=(CALENDAR_CONSENT,),
        calendar=True,
        # No contexts: a meeting holds in every context, a day off included.
        params=(
            InferredParam(
                "usual_meetings",
                None,
                infer_usual_meetings,
                description="how many meetings a usual day of yours holds (the median of the past weeks)",
            ),
        ),
    ),
    compute=compute,
)
