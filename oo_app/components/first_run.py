"""The first run on the black page, shown once instead of the tip, and the quiet note under a generic first tip.

One form: a heading, one sentence of what oO is, each consent as a labelled checkbox in plain words (all off until
the person ticks one), the offer to connect Todoist when this server has it, "Continue" and "Not now". Plain HTML
controls, so the keyboard and screen readers work as they do everywhere; styles from :mod:`.style` only.
"""

from __future__ import annotations

import reflex as rx

from oo_app.components.backend import backend_url
from oo_app.components.style import (
    CHECKBOX,
    CHOICE,
    CHOICE_TEXT,
    CHOICE_TITLE,
    ERROR,
    FIELDSET,
    FIRST_RUN_FORM,
    FIRST_RUN_TITLE,
    INLINE_LINK,
    LEGEND,
    MUTED,
    NOTE,
    PAGE_STYLE,
    PRIMARY_BUTTON,
    QUIET_BUTTON,
    ROW,
)
from oo_app.state.first_run import ConsentChoice, FirstRunState
from oo_app.state.tip import TipState


def consent_choice(choice: ConsentChoice) -> rx.Component:
    box = "consent-" + choice.key
    return rx.el.div(
        rx.el.input(
            type="checkbox",
            id=box,
            name=choice.key,
            # Uncontrolled (the browser owns the tick, at once); the state keeps it for the Todoist round trip.
            default_checked=choice.granted,
            on_change=lambda granted: FirstRunState.toggle(choice.key, granted),
            aria_describedby=box + "-text",
            style=CHECKBOX,
        ),
        rx.el.div(
            rx.el.label(choice.title, html_for=box, style=CHOICE_TITLE),
            rx.el.span(choice.text, id=box + "-text", style=CHOICE_TEXT),
        ),
        style=CHOICE,
    )


def todoist_offer() -> rx.Component:
    """The link to Todoist's OAuth (it comes back to this page while the first run is unanswered)."""
    return rx.match(
        FirstRunState.todoist,
        (
            "offer",
            rx.el.p(
                "Are your tasks in Todoist? ",
                rx.el.a(
                    "Connect Todoist",
                    href=backend_url("/integrations/todoist/connect"),
                    reload_document=True,
                    id="first-run-todoist",
                    style=INLINE_LINK,
                ),
                ": oO reads only when they were done, never what they say.",
                style=MUTED,
            ),
        ),
        ("connected", rx.el.p("Todoist is connected.", id="first-run-todoist-connected", style=MUTED)),
        rx.fragment(),
    )


def first_run_view() -> rx.Component:
    return rx.el.main(
        rx.el.form(
            rx.el.h1("Welcome to oO", id="first-run-title", style=FIRST_RUN_TITLE),
            rx.el.p(
                "oO shows you one tip at a time, at a good moment, written from what you let it learn.",
                style=MUTED,
            ),
            rx.el.fieldset(
                rx.el.legend("What may oO learn from? Nothing is on until you tick it.", style=LEGEND),
                rx.foreach(FirstRunState.choices, consent_choice),
                style=FIELDSET,
            ),
            todoist_offer(),
            rx.el.p("You can change your mind any time in settings.", style=MUTED),
            rx.cond(
                FirstRunState.error != "",
                rx.el.p(FirstRunState.error, id="first-run-error", role="alert", style={**MUTED, "color": ERROR}),
            ),
            rx.el.div(
                rx.el.button(
                    rx.cond(FirstRunState.busy, "Writing your first tip…", "Continue"),
                    id="first-run-continue",
                    type="submit",
                    disabled=FirstRunState.busy,
                    style=PRIMARY_BUTTON,
                ),
                rx.el.button(
                    "Not now",
                    id="first-run-skip",
                    type="button",
                    on_click=[FirstRunState.skip, TipState.load],
                    disabled=FirstRunState.busy,
                    style=QUIET_BUTTON,
                ),
                style={**ROW, "gap": "1.5rem"},
            ),
            # The tip's state loads once the answer is saved: the first tip, or the first run again after an error.
            on_submit=[FirstRunState.save, TipState.load],
            aria_labelledby="first-run-title",
            aria_busy=FirstRunState.busy,
            id="first-run",
            style=FIRST_RUN_FORM,
        ),
        id="first-run-page",
        style=PAGE_STYLE,
    )


def first_run_note() -> rx.Component:
    """Under the first tip of a person who granted nothing: why it is generic and what would make it personal."""
    return rx.cond(
        FirstRunState.note,
        rx.el.p(
            "This tip is a general one: oO knows nothing about you yet. To make your tips yours, let it learn from "
            "when you use oO or from your finished tasks in ",
            rx.el.a("settings", href="/settings", id="first-run-note-settings", style=INLINE_LINK),
            ".",
            id="first-run-note",
            style=NOTE,
        ),
    )
