"""The tip drafts, the output contract of the ``tip-generator`` alias, and the tips that state no one's facts.

:class:`TipDraft` is what every writer returns. The tips here need no learned fact about the person: the clock's
(:func:`by_the_clock`, for a person whose best hours oO has not learned: the time of day and the weekday are facts,
their habits are not), the general ones (:data:`GENERIC`), the gentle ones of a low-energy moment (:data:`GENTLE`),
those of a day off (:data:`REST`) and those of the quiet hours (:data:`QUIET`). The composer
(:mod:`oo_app.recommender.composer`) offers them beside the agents'.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from oo_app.models import TipKind

MAX_TIP_CHARS = 140


class TipDraft(BaseModel):
    """One tip as a writer returns it (the output contract of the ``tip-generator`` alias)."""

    text: str = Field(min_length=1, max_length=MAX_TIP_CHARS)
    kind: TipKind = TipKind.advice
    lead: str | None = None  # the agent whose facts it states (None: a generic, gentle or rest tip)


def advice(text: str) -> TipDraft:
    return TipDraft(text=text, kind=TipKind.advice)


def todo(text: str) -> TipDraft:
    return TipDraft(text=text, kind=TipKind.todo)


EARLY_FROM = 4  # from this hour to noon, an assumed quiet hour reads "early"; before it, "late"


WEEKEND = ("Saturday", "Sunday")


def by_the_clock(hour: int, weekday: str) -> list[TipDraft]:
    """Tips placing now by the clock alone, for a person whose best hours oO has not learned: the time of day and the
    weekday are facts, their habits are not, so none of these says "your" of an hour, and what holds for many people
    is said as such, never as the person's habit."""
    day = (
        [
            advice(f"It is {weekday}: one small thing for yourself counts more than the work list."),
            todo("Pick one task you would like off your mind before the week starts, and only that one."),
        ]
        if weekday in WEEKEND
        else []
    )
    if hour < EARLY_FROM:  # awake in the night, outside quiet hours they taught oO: keep it short
        part = [
            advice("It is late. Write down what is on your mind, then let it rest until the morning."),
            advice("Nothing needs you now. Let today be finished."),
        ]
    elif hour < 12:
        part = [
            todo("Before the inbox this morning: ten minutes on the task you would rather avoid."),
            advice("Mornings are often the clearest hours: try the hardest task before noon."),
            todo("Decide this morning which one task would make the day feel done."),
        ]
    elif hour < 14:
        part = [
            advice("Midday: step away from the screen for a few minutes before the afternoon starts."),
            todo("Before lunch, finish one small thing you started this morning."),
            todo("Halfway through the day: choose the one task the afternoon is for."),
        ]
    elif hour < 18:
        part = [
            todo("Afternoons suit small tasks: clear two quick ones from your list."),
            advice("Energy often dips in the afternoon. Pick a task that needs little thought."),
            todo("Close one loose end from this morning before the day runs out."),
        ]
    else:
        part = [
            todo("This evening, write down tomorrow's first task, then stop."),
            advice("Let the day end with one thing done, not a long list."),
            advice("The evening is for winding down. The list will keep until tomorrow."),
        ]
    return day + part


# A low-energy moment: the smallest step, kind words, nothing about what is late or how much got done.
GENTLE = [
    advice("Energy is low right now. One small step is enough; the rest can wait."),
    todo("Pick the smallest, easiest thing on your list and stop after it."),
    advice("Low energy is fine. Take a short break before you decide what is next."),
    advice("Go easy on yourself now: a glass of water and a few slow breaths first."),
]

# Any moment, anyone: what the composer falls back on when no agent's facts make a tip.
GENERIC = [
    todo("Pick one small task and finish it in the next ten minutes."),
    advice("Choose the one thing that would make today feel done."),
    advice("Take a short walk before you start the next task."),
    todo("Write the next step of your biggest task on paper, just the next step."),
    advice("Close the tabs you no longer need before you start something new."),
    todo("Find one task that has waited too long and give it five minutes now."),
    advice("A task that takes under two minutes is quicker done than written down."),
    advice("Put your phone out of reach for the next task: the task gets all of you."),
]

# A day off: time off is the point, not a gap in the list.
REST = [
    advice("Nothing on your list needs you now. Let the time off be time off."),
    advice("Leave the list closed today. It will keep until you are back."),
]

# The quiet hours, learned or assumed: rest, nothing to do now (what is on the mind may be written down and left).
QUIET = [
    advice("Nothing on your list needs you at this hour. Rest; it will keep."),
    advice("Put the screen away for now; your tasks will be there when the day starts."),
    advice("If something is on your mind, write it down and let it wait for the day."),
]
