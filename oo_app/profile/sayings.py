"""How each agent parameter is said to a person: per key, the sentence when oO knows the value, the sentence while it
assumes it, and the value in a few words (beside a value the person set). Used by :mod:`oo_app.profile.plain_words`.

Pure functions of a JSON value; they may raise on a value of the wrong shape (the caller says it as it is instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agents.recent_patterns import STRONG_DAILY, STRONG_WEEKLY, WEEKDAYS

# The agents by what they are about, for a person, in the order a person reads them (what shapes their day first):
# the title of the settings page's group (and of the tips they lead), and what the agent does, said to them.
AGENT_WORDS: dict[str, tuple[str, str]] = {
    "time-of-day": ("Your day", "When in the day you get things done, and when oO leaves you alone."),
    "focus-area": ("Your areas", "The projects you get the most done in."),
    "overdue-task": ("Due dates", "How your due dates hold, and which projects' dates are real."),
    "momentum": ("Your pace", "Whether your last week is above, in line with or below your usual."),
    "recent-patterns": ("Your rhythms", "How far back “recent” reaches for you, and your weekly and daily rhythms."),
    "mood": ("Your mood", "How you have felt lately and when your energy dips, from your mood check-ins."),
    "calendar": ("Your calendar", "When your calendar says you are busy (never what about), and how full a day is."),
    "learner": ("Tips you take up", "Which kinds of tip you take up, learned from how you answer them."),
}
MOST, FEW = 0.6, 0.25  # shares of tips taken up that read "most" and "rarely" (as the learner's own words)
NOTABLE_DAYS = 0.5  # a project's due dates hold or slip notably by this many days against the person's usual
ON_TIME_DAYS = 0.25


def agent_title(agent_id: str) -> str:
    """An agent's name for a person ("Your day"), or its id made readable."""
    return AGENT_WORDS[agent_id][0] if agent_id in AGENT_WORDS else agent_id.replace("-", " ").capitalize()


def agent_about(agent_id: str, description: str) -> str:
    """What an agent does, said to the person; its manifest's ``description`` for an agent oO has no words for."""
    return AGENT_WORDS[agent_id][1] if agent_id in AGENT_WORDS else description


def reading_order(agent_id: str) -> tuple[int, str]:
    """Sorts agents as a person reads them: those of :data:`AGENT_WORDS` in its order, then the others by id."""
    order = list(AGENT_WORDS)
    return (order.index(agent_id) if agent_id in order else len(order), agent_id)


def hour(value: Any) -> str:
    """An hour of the day as a clock reads it: 9 -> "09:00"."""
    return f"{int(value) % 24:02d}:00"


def listed(words: Iterable[str]) -> str:
    """Words as a sentence lists them: "a", "a and b", "a, b and c"."""
    items = list(words)
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def _joined(clauses: Sequence[str]) -> str:
    """``clauses`` as one sentence: joined by semicolons, capitalised, with a full stop."""
    text = "; ".join(clauses)
    return text[0].upper() + text[1:] + "."


def _days(days: float) -> str:
    days = abs(days)
    if days < 0.75:
        return "half a day"
    if days < 1.5:
        return "a day"
    return f"{round(days)} days"


def things(number: float) -> str:
    if number < 0.75:
        return "less than one thing"
    rounded = round(number)
    return "about one thing" if rounded == 1 else f"about {rounded} things"


# Each key: (the sentence when the value is known, the sentence while oO assumes it, the value in a few words).
Sayings = tuple[Callable[[Any], str], Callable[[Any], str], Callable[[Any], str]]


def _trend_words(value: Any) -> str:
    return {"rising": "more than usual", "falling": "less than usual"}.get(str(value), "about as much as usual")


def _trend(value: Any) -> str:
    if str(value) in ("rising", "falling"):
        return f"Lately you are getting {'more' if value == 'rising' else 'less'} done than usual."
    return "You are getting about as much done as usual."


def _lateness(value: Any) -> str:
    days = float(value)
    if abs(days) < ON_TIME_DAYS:
        return "You usually finish things on the day they are due."
    if days > 0:
        return f"Your due dates slip about {_days(days)}."
    return f"You usually finish about {_days(days)} before the due date."


def _realness(value: Any) -> str:
    shifts = {str(project): float(days) for project, days in dict(value).items()}
    if not shifts:
        return "No project has enough tasks with due dates to compare yet."
    hold = [name for name, days in sorted(shifts.items(), key=lambda item: -item[1]) if days >= NOTABLE_DAYS]
    slip = [name for name, days in sorted(shifts.items(), key=lambda item: item[1]) if days <= -NOTABLE_DAYS]
    said = []
    if hold:
        said.append(f"{listed(hold)} due dates hold better than your others")
    if slip:
        said.append(f"{listed(slip)} due dates slip more")
    if not said:
        return f"The due dates of {listed(sorted(shifts))} hold about equally well."
    return _joined(said)


def _weekly(value: Any) -> str:
    strength, day = float(value["strength"]), WEEKDAYS[int(value["peak_weekday"]) % 7]
    if strength > STRONG_WEEKLY:
        return f"Your week has a strong rhythm: {day}s are your busiest."
    if strength > 0:
        return f"Your weeks have no strong rhythm; {day}s are a little busier."
    return "Your weeks have no rhythm oO can see: every day is much alike."


def _daily(value: Any) -> str:
    strength, peak = float(value["strength"]), hour(value["peak_hour"])
    if strength >= STRONG_DAILY:
        return f"Much of your day's work falls around {peak}."
    return f"Your days have no strong peak; {peak} is a little busier."


def _mood(value: Any) -> str:
    level = float(value)
    return "good" if level >= 2.5 else "low" if level <= 1.5 else "okay"


def dips(hours: Any, weekdays: Any) -> str:
    """When the person's energy tends to dip: "around 15:00 and on Mondays", or that it shows no dip."""
    at = [hour(item) for item in sorted(int(item) for item in hours)]
    on = [f"{WEEKDAYS[item % 7]}s" for item in sorted(int(item) for item in weekdays)]
    when = [f"around {listed(at)}"] * bool(at) + [f"on {listed(on)}"] * bool(on)
    return f"Your energy tends to dip {' and '.join(when)}." if when else "Your energy shows no regular dip."


def _shares(tastes: Any) -> dict[str, float]:
    """Per agent a tip came from: the share of its tips the person takes up (a share set by hand, or a Beta mean)."""
    found = {}
    for lead, taste in dict(tastes or {}).items():
        if "@" in lead or lead.startswith("kind:"):
            continue
        if isinstance(taste, Mapping):
            alpha, beta = float(taste.get("alpha", 1)), float(taste.get("beta", 1))
            found[lead] = alpha / (alpha + beta) if alpha + beta > 0 else 0.5
        elif isinstance(taste, int | float) and not isinstance(taste, bool):
            found[lead] = float(taste)
    return found


def _tip_name(lead: str) -> str:
    return "general" if lead == "generic" else f"“{agent_title(lead)}”"


def _tastes(value: Any) -> str:
    shares = _shares(value)
    most = [_tip_name(lead) for lead, share in sorted(shares.items()) if share >= MOST]
    few = [_tip_name(lead) for lead, share in sorted(shares.items()) if share <= FEW]
    said = []
    if most:
        said.append(f"you take up most {listed(most)} tips")
    if few:
        said.append(f"you rarely take up {listed(few)} tips")
    if not said:
        return "You take up some tips of every kind; none stands out yet."
    return _joined(said)


def _areas(value: Any) -> str:
    names = [str(name) for name in value or []]
    if not names:
        return "No project stands out yet as where you get things done."
    if len(names) == 1:
        return f"{names[0]} is where you get the most done."
    return f"{listed(names)} are where you get things done."


def _meetings(value: Any) -> str:
    count = int(value)
    return f"A usual day of yours holds about {count} meeting{'s' if count != 1 else ''}."


SAYINGS: dict[str, Sayings] = {
    "preferred_hour": (
        lambda v: f"You get the most done around {hour(v)}.",
        lambda v: f"oO is still learning your best hour; it assumes {hour(v)} until then.",
        hour,
    ),
    "peak_hours": (
        lambda v: (
            f"Your most productive hours: {listed(hour(h) for h in v)}."
            if v
            else "No hours stand out as your most productive."
        ),
        lambda v: f"oO is still learning your most productive hours; it assumes {listed(hour(h) for h in v)}.",
        lambda v: listed(hour(h) for h in v) or "none",
    ),
    "tz": (lambda v: f"Your day runs on {v} time.", lambda v: f"oO reads your day in {v} time.", str),
    "engagement_trend": (
        _trend,
        lambda v: (
            "oO needs about five weeks of done tasks to tell whether you are getting more or less done than usual."
        ),
        _trend_words,
    ),
    "lateness_tolerance_days": (
        _lateness,
        lambda v: "oO needs a few more tasks with due dates to tell how you treat them.",
        lambda v: _lateness(v).removesuffix("."),
    ),
    "project_realness": (
        _realness,
        lambda v: "oO is still learning which of your projects' due dates are real.",
        lambda v: _realness(v).removesuffix("."),
    ),
    "lookback_days": (
        lambda v: f"Your last 30 done things reach back {int(v)} days: that is what oO calls recent.",
        lambda v: f"oO is still learning how far back “recent” reaches for you; it looks at the last {int(v)} days.",
        lambda v: f"{int(v)} days",
    ),
    "weekly_cycle": (_weekly, lambda v: "oO is still learning the rhythm of your week.", _weekly),
    "daily_cycle": (_daily, lambda v: "oO is still learning the rhythm of your day.", _daily),
    "preferred_areas": (_areas, lambda v: "oO is still learning where you get things done.", _areas),
    "recent_mood": (
        lambda v: f"Lately you have felt {_mood(v)}.",
        lambda v: "oO does not know how you feel yet: a mood check-in on the tip page tells it.",
        _mood,
    ),
    "low_hours": (
        lambda v: dips(v, []),
        lambda v: "oO is still learning at which hours your energy dips.",
        lambda v: dips(v, []),
    ),
    "low_weekdays": (
        lambda v: dips([], v),
        lambda v: "oO is still learning on which days your energy dips.",
        lambda v: dips([], v),
    ),
    "usual_meetings": (
        _meetings,
        lambda v: "oO is still learning how many meetings a usual day of yours holds.",
        _meetings,
    ),
    "tastes": (
        _tastes,
        lambda v: "oO is still learning which tips you take up; until then every kind gets its turn.",
        _tastes,
    ),
}
