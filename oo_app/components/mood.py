"""The mood check-in under the tip: three quiet buttons (low, okay, good) in a named group, the chosen one pressed.

Shown only to a signed-in person who allows ``mood`` (:class:`~oo_app.state.mood.MoodState` loads itself when the
control appears); otherwise nothing is drawn but an empty live region. Keyboard: the buttons are plain buttons in the
tab order after the tip's own controls; a screen reader hears the group's question, each button's pressed state and,
after a tap, what was stored.
"""

from __future__ import annotations

import reflex as rx

from agents.base import MOOD_LEVELS
from oo_app.components.style import MOOD_BUTTON, MOOD_ROW, SMALL_MUTED
from oo_app.state.mood import MoodState

QUESTION = "Your energy right now?"


def mood_button(level: int, word: str) -> rx.Component:
    return rx.el.button(
        word,
        id=f"mood-{word}",
        type="button",
        on_click=MoodState.tap(level),
        disabled=MoodState.busy,
        aria_pressed=rx.cond(MoodState.chosen == level, "true", "false"),
        style=MOOD_BUTTON,
    )


def mood_tap() -> rx.Component:
    """The check-in: a question, its three answers and a live region for what was stored."""
    return rx.el.div(
        rx.cond(
            MoodState.offered,
            rx.el.div(
                rx.el.span(QUESTION, id="mood-question", style=SMALL_MUTED),
                *(mood_button(level, word) for level, word in MOOD_LEVELS.items()),
                role="group",
                aria_labelledby="mood-question",
                style=MOOD_ROW,
            ),
        ),
        rx.el.p(MoodState.note, id="mood-note", role="status", style=SMALL_MUTED),
        id="mood",
        on_mount=MoodState.load,
    )
