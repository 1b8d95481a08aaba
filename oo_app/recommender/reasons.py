"""Why this tip: the facts behind one tip in a sentence or two, what oO learned about tips like it, and who wrote it.

Contract: :func:`why` builds the answer from the facts (``data``) of the agent outputs a tip was written from, its lead
agent's first, and :func:`why_this_tip` reads those for a stored tip. The answer never names an agent id or a
parameter, and never states an assumed value (a cold-start default, :data:`agents.base.ASSUMED`) as learned: it says
that oO assumes it. It reads nothing but the tip's own outputs and the person's latest learner output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import ASSUMED
from agents.calendar import length
from agents.overdue_task import OPEN_TASK
from agents.recent_patterns import WEEKDAYS, weekday_phrase
from agents.rewards import LEARNER
from agents.time_of_day import HOUR_KEYS, PEAK_KEYS, QUIET_KEYS
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_TIP_MODEL
from oo_app.models import AgentOutput, Tip

Facts = Mapping[str, Mapping[str, Any]]  # an output's data by agent id

NO_FACTS = "A general tip: no facts about you went into it."
NO_HISTORY = "A general tip: oO does not know your habits yet, and learns them from how you answer its tips."
GENERAL = "A general tip, not one about your own habits."
EXPIRED = "oO no longer keeps the facts this tip was written from."
UNSAID = "It draws on what oO knows of your day."
BY_THE_CLOCK = (
    "oO has not learned yet when in the day you work best, so this tip goes by the clock; it learns that from when you "
    "get things done."
)

MODEL_LABELS = {COMPOSER_MODEL: "the rule-based composer", LOCAL_TIP_MODEL: "the local model (Gemma 3 270M)"}


def model_label(model: str) -> str:
    """A writer's name for operators' reports ("the rule-based composer"); the model id when it has none."""
    return MODEL_LABELS.get(model, model)


@dataclass(frozen=True)
class Why:
    """The answer to "why this tip?": ``because`` (the facts behind it, one sentence), ``learned`` (what oO learned
    about tips like it; empty until it can say) and ``written_by`` (who wrote it, in plain words)."""

    because: str
    learned: str
    written_by: str

    @property
    def text(self) -> str:
        """The facts and what oO learned, as one short paragraph (the writer apart)."""
        return " ".join(part for part in (self.because, self.learned) if part)


def written_by(model: str) -> str:
    """Who wrote a tip, in plain words: oO's rules, the local model, or another language model (named)."""
    if not model:
        return ""
    if model == COMPOSER_MODEL:
        return "Written by oO's rules."
    if model == LOCAL_TIP_MODEL:
        return "Written by the local model from these facts."
    return f"Written by a language model ({model}) from these facts."


def _at(hour: int) -> str:
    return f"{int(hour) % 24:02d}:00"


def _span(hours: Sequence[int]) -> str:
    """Hours of the day as a reader says them: "around 10:00", "between 09:00 and 12:00" for a run, else a list."""
    ordered = sorted({int(hour) % 24 for hour in hours})
    if len(ordered) == 1:
        return f"around {_at(ordered[0])}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"between {_at(ordered[0])} and {_at(ordered[-1] + 1)}"
    return "around " + _and([_at(hour) for hour in ordered])


def _and(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def _days(value: float) -> str:
    number = f"{value:g}"
    return f"{number} day" if number == "1" else f"{number} days"


def _time_of_day(data: Mapping[str, Any], tip: str) -> str:
    """The person's hours that place now in their day (never the clock: the page may stay open for hours); the
    learned hour the tip itself names (their preferred hour, when their quiet hours start) when it names one."""
    assumed = set(data.get(ASSUMED) or ())
    knows_peak, knows_quiet = not assumed & PEAK_KEYS, not assumed & QUIET_KEYS
    quiet_start, quiet_end = _at(data["quiet_start"]), _at(data["quiet_end"])
    preferred = _at(data["preferred_hour"])
    phase = data.get("phase")
    if phase == "quiet":
        if not knows_quiet:
            return f"oO does not know your quiet hours yet, so it assumes {quiet_start} to {quiet_end}."
        said = f"Your quiet hours run from {quiet_start} to {quiet_end}"
        if knows_peak and preferred in tip:
            return f"{said}, and you get the most done around {preferred}."
        return f"{said}."
    if not knows_peak:
        return BY_THE_CLOCK
    peaks = [int(hour) for hour in data.get("peak_hours") or [data["preferred_hour"]]]
    if preferred in tip:
        said = f"You get the most done around {preferred}"
    elif phase == "before_peak":
        said = f"Your best hours start at {_at(min(peaks))}"
    else:
        said = f"You get the most done {_span(peaks)}"
    if knows_quiet and quiet_start in tip:
        return f"{said}, and your quiet hours start at {quiet_start}."
    return f"{said}."


def _momentum(data: Mapping[str, Any], _tip: str) -> str:
    done, noun = int(data.get("done_last_7_days", 0)), str(data.get("noun") or "tasks")
    things = noun if done != 1 else noun[:-1]
    if data.get("cold_start"):
        return (
            f"You completed {done} {things} in the last 7 days; oO needs a few more weeks of history to know your "
            "usual pace."
        )
    relation = {"rising": "up on", "falling": "down on"}.get(str(data.get("trend")), "in line with")
    return (
        f"You completed {done} {things} in the last 7 days ({data.get('per_day_last_7_days', 0):g} a day), "
        f"{relation} your usual {data.get('baseline_per_day', 0):g} a day."
    )


def _overdue(data: Mapping[str, Any], _tip: str) -> str:
    if data.get("cold_start"):
        return "oO has seen too few tasks with a due date to tell how your due dates hold."
    late = float(data.get("lateness_tolerance_days", 0))
    if abs(late) < 0.25:
        said = "You usually finish tasks on the day they are due"
    else:
        said = f"You usually finish tasks about {_days(abs(late))} {'after' if late > 0 else 'before'} their due date"
    if data.get("least_real_project"):
        said += f", and {data['least_real_project']} due dates slip the most"
    elif data.get("most_real_project"):
        said += f", and {data['most_real_project']} due dates hold best"
    return said + "."


def _focus(data: Mapping[str, Any], _tip: str) -> str:
    areas = [str(area) for area in data.get("preferred_areas") or []]
    if data.get("cold_start") or not areas:
        return "oO has seen too few finished tasks to tell where you get things done."
    done = data.get("completions") or {}
    named = [f"{area} ({done[area]} done)" if done.get(area) else area for area in areas]
    return f"Most of what you finish is in {', then '.join(named)}."


def _patterns(data: Mapping[str, Any], _tip: str) -> str:
    if data.get("cold_start"):
        return "oO needs more history to see the rhythm of your week and your day."
    days = [WEEKDAYS.index(day) for day in data.get("busy_weekdays") or [] if day in WEEKDAYS]
    on = f"on {weekday_phrase(days)}" if days else ""
    if data.get("peak_hour") is not None:
        return f"Most of your tasks get done around {_at(data['peak_hour'])}{', mostly ' + on if on else ''}."
    if on:
        return f"Most of your tasks get done {on}."
    return "oO sees no strong weekly or daily rhythm in when you get things done."


def _calendar(data: Mapping[str, Any], _tip: str) -> str:
    if data.get("cold_start"):
        return "oO has not read your calendar yet."
    if data.get("in_meeting") and data.get("meeting_until"):
        said = f"Your calendar shows a meeting until {data['meeting_until']}"
    elif data.get("free_now") and data.get("free_until") and data.get("free_minutes") is not None:
        said = f"Your calendar is free until {data['free_until']} ({length(int(data['free_minutes']))[0]})"
    elif data.get("free_now") and data.get("horizon_hours"):
        said = f"Nothing is booked in your calendar for the next {data['horizon_hours']} hours"
    elif data.get("free_from") and data.get("free_until"):
        said = f"Your calendar is free next from {data['free_from']} to {data['free_until']}"
    else:
        said = "Your calendar is booked for the next hours"
    if data.get("load") in ("heavier", "lighter"):
        said += f", with {data.get('meetings_today')} meetings today against your usual {data.get('usual_meetings')}"
    return said + "."


def _mood(data: Mapping[str, Any], _tip: str = "") -> str | None:
    because = data.get("because")
    if data.get("energy_now") == "low" and because == "hour":
        return "Your energy tends to dip around this hour."
    if data.get("energy_now") == "low" and because == "weekday":
        return "Your energy tends to dip on this day of the week."
    if data.get("energy_now") == "low" and because == "recent mood":
        return "You have felt low lately."
    if data.get("latest") and data.get("latest_at"):
        return f"You checked in feeling {data['latest']} at {data['latest_at']}."
    return None


def _open_task(_data: Mapping[str, Any], _tip: str = "") -> str:
    return "It is the most urgent open task on your list, by its due date."


# What each agent's facts say, in the person's words, given the tip's text; an agent without an entry is never named.
SAYINGS: dict[str, Callable[[Mapping[str, Any], str], str | None]] = {
    OPEN_TASK: _open_task,
    "calendar": _calendar,
    "time-of-day": _time_of_day,
    "momentum": _momentum,
    "overdue-task": _overdue,
    "focus-area": _focus,
    "recent-patterns": _patterns,
    "mood": _mood,
}


def _said(agent_id: str, data: Mapping[str, Any], tip: str = "") -> str | None:
    saying = SAYINGS.get(agent_id)
    if saying is None:
        return None
    try:
        return saying(data, tip)
    except (KeyError, TypeError, ValueError):
        return None  # facts of an older agent version: say nothing rather than something wrong


def because(lead: str | None, facts: Facts, tip: str = "") -> str:
    """The facts behind a tip led by ``lead`` (None: a general tip) whose text is ``tip``, in one sentence of the
    person's words."""
    if lead == OPEN_TASK:  # a signal of the moment, never stored: the tip itself quotes the task
        return _open_task({}, tip)
    if lead is not None:
        if lead not in facts:
            return EXPIRED
        return _said(lead, facts[lead], tip) or UNSAID
    mood = facts.get("mood") or {}
    if mood.get("energy_now") == "low":
        said = _said("mood", mood)
        if said:
            return f"{said[:-1]}, so this tip keeps it small."
    if not facts:
        return NO_FACTS
    # What the learner knows is how the person answers tips, not their habits: it speaks in the ``learned`` sentence.
    if all(_knows_nothing(data) for agent_id, data in facts.items() if agent_id != LEARNER):
        return NO_HISTORY
    return GENERAL


def _knows_nothing(data: Mapping[str, Any]) -> bool:
    """Whether an output's facts hold nothing learned about the person: too little history, or only assumed hours."""
    return bool(data.get("cold_start")) or set(data.get(ASSUMED) or ()) >= HOUR_KEYS


def why(lead: str | None, facts: Facts, model: str, learned: str | None = None, tip: str = "") -> Why:
    """The answer to "why this tip?" for the tip ``tip`` led by ``lead``, written by ``model`` from ``facts`` (an
    output's data by agent id), with what oO learned about tips like it (the learner agent's words,
    :func:`agents.learner.why`)."""
    return Why(because(lead, facts, tip), learned or "", written_by(model))


# Every tip shown reads them: built once, their values bound at each call. The person's latest learner output (what
# oO learned about tips like it, in :func:`agents.learner.why`'s words) comes with the tip's outputs.
_LATEST_LEARNER = (
    select(AgentOutput.id)
    .where(AgentOutput.user_id == sa.bindparam("user_id"), AgentOutput.agent_id == LEARNER)
    .order_by(col(AgentOutput.computed_at).desc(), col(AgentOutput.id).desc())
    .limit(1)
    .scalar_subquery()
)
_FACTS_AND_LEARNED = select(AgentOutput.id, AgentOutput.agent_id, AgentOutput.data, _LATEST_LEARNER).where(
    AgentOutput.user_id == sa.bindparam("user_id"),
    sa.or_(col(AgentOutput.id).in_(sa.bindparam("ids", expanding=True)), AgentOutput.id == _LATEST_LEARNER),
)


def why_this_tip(session: Session, tip: Tip) -> Why:
    """The answer to "why this tip?" for a stored tip: the facts of the outputs it was written from (those deleted
    since are left out), what oO learned about tips like it, its writer. One read."""
    from agents.learner import why as learned  # the agent's own words; imported late: the agent reads oO's names

    ids = [source.get("output_id") for source in tip.sources]
    ids = [output_id for output_id in ids if isinstance(output_id, int)]
    rows = session.exec(_FACTS_AND_LEARNED, params={"user_id": tip.user_id, "ids": ids}).all()
    facts = {agent_id: dict(data or {}) for output_id, agent_id, data, _ in rows if output_id in ids}
    latest = next((data for output_id, _, data, newest in rows if output_id == newest), None)
    said = learned(latest, tip.lead_agent) if latest is not None else None
    return why(tip.lead_agent, facts, tip.model, said, tip.text)
