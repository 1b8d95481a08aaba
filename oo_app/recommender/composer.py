"""The rule-based composer: a deterministic tip writer over the agents' facts.

It is the safety net behind every model (a failed or unfaithful model answer falls back to it) and, until a real
model is configured, the writer behind the ``tip-generator`` alias. It only states what the facts say. When the mood
agent says energy is low now, it writes only gentle tips: one small step or rest, never pressure about what is late.
The calendar leads when it names free time ("45 min free before 14:00: your one deep task fits"), never in quiet hours,
where the quiet tips stand in for the generic ones ("pick one small task now").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.base import ASSUMED
from agents.calendar import length
from agents.overdue_task import OPEN_TASK
from agents.time_of_day import PEAK_KEYS, QUIET_KEYS
from oo_app.llm.aliases import CHECKS_MODEL, COMPOSER_MODEL, COMPOSER_PROVIDER
from oo_app.llm.router import Provider, answer
from oo_app.models import TipKind
from oo_app.recommender.drafts import (
    EARLY_FROM,
    GENERIC,
    GENTLE,
    QUIET,
    REST,
    TipDraft,
    advice,
    by_the_clock,
    todo,
)
from oo_app.recommender.grounding import links_in
from oo_app.recommender.learning import Choice, in_order
from oo_app.recommender.prompts import facts_from

if TYPE_CHECKING:
    import litellm
    from litellm import CustomLLM


def _time_of_day(data: Mapping[str, Any]) -> list[TipDraft]:
    """Tips placing now in the person's day. An hour the agent assumed (its data's ``assumed``: a cold-start default,
    nothing learned yet) is never stated as theirs: without learned peak hours no tip speaks of a best hour, and
    without learned quiet hours a late hour reads as the clock, not as their quiet hours."""
    preferred = int(data["preferred_hour"])
    peaks = sorted(int(h) for h in data.get("peak_hours") or [preferred])
    quiet_start, quiet_end = int(data["quiet_start"]), int(data["quiet_end"])
    weekday = data.get("weekday", "today")
    phase = data.get("phase")
    assumed = set(data.get(ASSUMED) or ())
    knows_peak, knows_quiet = not assumed & PEAK_KEYS, not assumed & QUIET_KEYS
    if phase == "quiet" and not knows_quiet:  # the assumed quiet hours: the clock says late, or early
        if EARLY_FROM <= int(data.get("local_hour", 0)) < 12:
            return [advice("It is early. Nothing needs you yet; let the day start later.")]
        return [
            advice("It is late. Rest now; the next tip can wait for the morning."),
            advice("Nothing needs you now. Let today be finished."),
        ]
    if phase == "quiet":
        return [
            advice(f"Quiet hours until {quiet_end:02d}:00. Rest now; the next tip can wait for the morning."),
            *([todo(f"Tomorrow at {preferred:02d}:00: start with the task that matters most.")] if knows_peak else []),
            advice("Nothing needs you now. Let today be finished."),
            advice(f"Your quiet hours run until {quiet_end:02d}:00. Put the list away until then."),
        ]
    if not knows_peak:  # every tip below speaks of the person's best hours: until learned, the clock speaks
        return by_the_clock(int(data.get("local_hour", 12)), str(weekday))
    if phase == "peak":
        last = peaks[-1]
        return [
            todo("This is your best hour. Start the task you have been putting off, now."),
            advice(f"Your peak hours run through {last:02d}:00: one deep task, no inbox."),
            todo(f"Close one open loop by {last:02d}:00."),
            advice(f"Until {last:02d}:00 your focus is at its best: notifications off, one thing at a time."),
            todo(f"Give the hardest task on your list the time until {last:02d}:00."),
        ]
    if phase == "before_peak":
        return [
            advice(f"Your peak starts at {peaks[0]:02d}:00. Save the hardest task for then."),
            todo(f"Pick the one task that matters most and block {preferred:02d}:00 for it."),
            advice(f"Before {peaks[0]:02d}:00, clear small admin so your peak stays free for deep work."),
            todo(f"Decide now what you will start at {peaks[0]:02d}:00, so the peak begins at once."),
            advice(f"Keep {peaks[0]:02d}:00 free of meetings: it is when you do your best work."),
        ]
    return [
        advice(f"Past your peak hours: keep the rest of {weekday} light."),
        todo(f"Write down tomorrow's first task for {preferred:02d}:00."),
        *([advice(f"Wind down before {quiet_start:02d}:00, when your quiet hours begin.")] if knows_quiet else []),
        todo("Tidy one small loose end, then call it a day."),
        advice(f"Your best hours are behind you for {weekday}: routine tasks only from here."),
    ]


def _momentum(data: Mapping[str, Any]) -> list[TipDraft]:
    """Tips on the last week's pace; none while the agent has too little history to read it (its trend is then the
    cold-start default, an assumption, never a fact to state)."""
    if data.get("cold_start"):
        return []
    trend, done = data.get("trend"), int(data.get("done_last_7_days", 0))
    if trend == "rising":
        return [
            advice(f"{done} tasks done in the last 7 days: keep the streak, but pick just one for now."),
            todo(f"You are on a roll with {done} tasks this week: one more small win keeps it going."),
            advice("Your momentum is rising. Keep the next task small so the streak holds."),
            advice(f"{done} tasks in 7 days. Rest is part of it: finish one, then take a break."),
        ]
    if trend == "falling":
        return [
            todo("Momentum dipped this week. Pick the smallest open task and finish it now."),
            advice("A slow week is fine. One small win restarts the engine."),
            todo("Fewer tasks got done this week. Restart with one you can finish in ten minutes."),
            advice("Momentum is lower than usual. Let one easy task count as today's win."),
        ]
    if done > 0:
        return [
            advice(f"A steady week: {done} tasks done in the last 7 days. Keep the same pace today."),
            todo("Your pace is steady. Finish one task today and it stays that way."),
        ]
    return []


def _overdue(data: Mapping[str, Any]) -> list[TipDraft]:
    project, late = data.get("least_real_project"), float(data.get("lateness_tolerance_days", 0))
    found = []
    if project:
        found.append(todo(f"Your {project} due dates slip the most: give one {project} task a real date."))
    if late >= 1:
        found.append(advice("Your due dates tend to slip. Move one to a date you will really keep."))
    if project:
        found.append(todo(f"{project} tasks run late most often. Pick one and set a date you can keep."))
        found.append(advice(f"Look over your {project} tasks: one of them needs a due date you believe in."))
    if late >= 1:
        found.append(todo("Clear one overdue date today: finish the task or move it honestly."))
    return found


def _focus(data: Mapping[str, Any]) -> list[TipDraft]:
    areas = [str(area) for area in data.get("preferred_areas") or []]
    if len(areas) < 2:
        return []
    first, second = areas[0], areas[1]
    return [
        todo(f"Most of your wins are in {first}. Give {second} ten minutes today."),
        advice(f"{first} is where you get things done. Start there when the day gets busy."),
        todo(f"{second} comes second in what you finish: one small {second} task today."),
        advice(f"Keep your focus on {first} and {second}; the rest can wait."),
    ]


def _patterns(data: Mapping[str, Any]) -> list[TipDraft]:
    peak = data.get("peak_hour")
    if peak is None or float(data.get("daily_strength", 0)) < 3:
        return []
    hour = f"{int(peak):02d}:00"
    return [
        advice(f"Most of your tasks get done around {hour}. Keep that hour free."),
        todo(f"Around {hour} is when you finish things. Save the hard task for then."),
        advice(f"Guard {hour} today: no meetings, one real task."),
        todo(f"Plan your next task for {hour}, the hour you get the most done."),
    ]


def _open_task(data: Mapping[str, Any]) -> list[TipDraft]:
    """A todo naming the person's most overdue open task, its title quoted as the facts quote it."""
    title, days = str(data["title"]), int(data["days_overdue"])
    if not title:
        return []
    if days == 0:
        return [
            todo(f"'{title}' is due today: give it ten minutes now."),
            todo(f"Start '{title}' now: it is due today."),
        ]
    late = "1 day" if days == 1 else f"{days} days"
    return [
        todo(f"'{title}' is {late} overdue: give it a date today."),
        todo(f"Ten minutes on '{title}' today would move it forward."),
    ]


CALENDAR = "calendar"
DEEP_BLOCK, SHORT_BLOCK = 90, 30  # minutes of free time that hold a deep task, one task, or one small thing


def _calendar(data: Mapping[str, Any]) -> list[TipDraft]:
    """Tips fitted to the person's free time and meetings, each stating the calendar line's own times and lengths."""
    if data.get("cold_start"):
        return []
    found = []
    if data.get("in_meeting") and data.get("meeting_until"):
        found.append(advice(f"After your meeting ends at {data['meeting_until']}, start with the task that matters."))
    until, minutes = data.get("free_until"), data.get("free_minutes")
    rest_of_day = data.get("free_now") and (data.get("horizon_hours") or data.get("free_until_today") is False)
    if rest_of_day:
        found.append(todo("No meeting for the rest of today: start the task that needs a long stretch."))
    elif until and minutes is not None:
        words = length(int(minutes))[0]
        if data.get("free_now") and int(minutes) >= DEEP_BLOCK:
            found.append(todo(f"Free until {until} ({words}): block it for your one deep task."))
        elif data.get("free_now") and int(minutes) >= SHORT_BLOCK:
            found.append(todo(f"{words} free before {until}: your one deep task fits."))
        elif data.get("free_now"):
            found.append(todo(f"{words} before your {until} meeting: close one small loop."))
        elif data.get("free_from") and data.get("free_until_today"):
            found.append(advice(f"Your next free time is {data['free_from']} to {until}: save the deep task for it."))
    usual, today = data.get("usual_meetings"), data.get("meetings_today")
    if data.get("load") == "heavier":
        found.append(advice(f"{today} meetings today, more than your usual {usual}: keep tasks small between them."))
    elif data.get("load") == "lighter":
        found.append(advice(f"A light day: {today} meetings against your usual {usual}. Give the space to one task."))
    return found


# Rules per agent id, in priority order; an agent without a rule contributes facts but no candidate.
RULES: dict[str, Callable[[Mapping[str, Any]], list[TipDraft]]] = {
    OPEN_TASK: _open_task,  # one real task, named, beats every general rule
    CALENDAR: _calendar,  # the free time of the moment, before the habits of the day
    "time-of-day": _time_of_day,
    "momentum": _momentum,
    "overdue-task": _overdue,
    "focus-area": _focus,
    "recent-patterns": _patterns,
}


def _led(agent_id: str, drafts: list[TipDraft]) -> list[TipDraft]:
    return [draft.model_copy(update={"lead": agent_id}) for draft in drafts]


def low_energy(facts: Mapping[str, Any]) -> bool:
    """Whether the mood agent says the person's energy is low now."""
    mood = (facts.get("signals") or {}).get("mood") or {}
    return isinstance(mood, Mapping) and mood.get("energy_now") == "low"


def _gentle(signals: Mapping[str, Any]) -> list[TipDraft]:
    """The candidates of a low-energy moment: rest in quiet hours, else the gentle tips."""
    time_of_day = signals.get("time-of-day") or {}
    rest = _led("time-of-day", _time_of_day(time_of_day)) if time_of_day.get("phase") == "quiet" else []
    return rest + GENTLE


# In a context of kind ``work`` the agents about tasks speak first; at ``rest`` (a day off) no todo is written at
# all, and the rest tips (drafts.REST) lead: time off is the point, not a gap in the list.
WORK_FIRST = (OPEN_TASK, "overdue-task", "focus-area", "momentum")


def normalized(text: str) -> str:
    return " ".join(text.lower().split())


def context_kind(facts: Mapping[str, Any]) -> str | None:
    """The kind of the context in effect the facts carry (``work``, ``home``, ``rest``, ``any``), or None."""
    context = facts.get("context")
    return str(context.get("kind")) if isinstance(context, Mapping) else None


def candidates(facts: Mapping[str, Any]) -> list[TipDraft]:
    """Every tip the facts support, best first: at a low-energy moment only the gentle ones; else the agents' rules in
    priority order (work's task agents first in a work context), then the generic tips; at rest, advice only, the
    rest tips first. In the quiet hours (learned, or assumed for a new person) the calendar's free time is no room for
    a task and the quiet tips stand in for the generic ones, unless the context in effect is work (a night shift the
    person named): what the person's own facts say remains, "pick one small task now" does not."""
    signals: Mapping[str, Any] = facts.get("signals") or {}
    if low_energy(facts):
        try:
            return _gentle(signals)
        except (KeyError, TypeError, ValueError):
            return list(GENTLE)
    kind = context_kind(facts)
    order = list(RULES)
    quiet = (signals.get("time-of-day") or {}).get("phase") == "quiet"
    if quiet:
        order.remove(CALENDAR)  # free time in the quiet hours is rest, not room for a task
    if kind == "work":
        order = [*WORK_FIRST, *(agent_id for agent_id in order if agent_id not in WORK_FIRST)]
    found: list[TipDraft] = []
    for agent_id in order:
        data = signals.get(agent_id)
        if data:
            try:
                found.extend(_led(agent_id, RULES[agent_id](data)))
            except (KeyError, TypeError, ValueError):
                continue  # facts from an older agent version: the other rules and the generic tips remain
    general = QUIET if quiet and kind != "work" else GENERIC
    if kind == "rest":
        return REST + [draft for draft in found + general if draft.kind is not TipKind.todo]
    return found + general


def options(facts: Mapping[str, Any]) -> list[TipDraft]:
    """The candidates a tip may be: those naming nothing link-like (a project called "evil.io" is never one; the
    generic tips always remain)."""
    return [option for option in candidates(facts) if not links_in(option.text)]


def compose(
    facts: Mapping[str, Any], choice: Choice | None = None, found: Sequence[TipDraft] | None = None
) -> TipDraft:
    """The option ``choice`` names (:func:`oo_app.recommender.learning.choose` over :func:`options`; given, or carried
    by the facts as ``{"index", "lead"}``); without one, the first option not among the recent tips, and when all
    were shown, the one shown longest ago. ``found``: the :func:`options` of these facts when the caller has them."""
    found = options(facts) if found is None else found
    chosen = {"index": choice.index, "lead": choice.lead} if choice is not None else facts.get("choice")
    if isinstance(chosen, Mapping):
        index = chosen.get("index")
        if isinstance(index, int) and 0 <= index < len(found) and found[index].lead == chosen.get("lead"):
            return found[index]
    return found[in_order(found, facts.get("recent_tips") or [])]


def rules_provider(checks: Callable[[str, Sequence[str], Sequence[str], float | None], BaseModel]) -> Provider:
    """The ``oo-rules`` custom provider: the composer answers the tip JSON (``oo-rules/composer``), ``checks(tip,
    lines, recent, sense)`` the judge JSON (``oo-rules/checks``; the bootstrap passes the offline judge: the sense
    classifier held down by the guardrail checks)."""

    def handler() -> CustomLLM:
        from litellm import CustomLLM

        class RuleModels(CustomLLM):
            """Rules speaking the chat-completion contract: the composer answers the tip JSON (``tip-generator``),
            the offline judge answers the judge JSON (``judge``)."""

            def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
                if model == CHECKS_MODEL.split("/", 1)[1]:
                    judged = ((kwargs.get("litellm_params") or {}).get("metadata") or {}).get("oo_judge")
                    if not judged:
                        raise ValueError("the checks judge needs metadata['oo_judge'] (tip, lines, recent)")
                    verdict = checks(judged["tip"], judged["lines"], judged.get("recent") or [], judged.get("sense"))
                    return answer(CHECKS_MODEL, verdict.model_dump_json())
                if model != COMPOSER_MODEL.split("/", 1)[1]:
                    raise ValueError(f"no rule model {model!r}")
                draft = compose(facts_from(messages, kwargs))
                return answer(COMPOSER_MODEL, json.dumps(draft.model_dump(mode="json")))

            async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
                return self.completion(model, messages, *args, **kwargs)

        return RuleModels()

    return Provider(COMPOSER_PROVIDER, handler)
