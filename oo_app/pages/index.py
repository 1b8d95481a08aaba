"""``/``: the black page with one tip, its reactions, and "why this tip" on demand; without a session, sign-in."""

from __future__ import annotations

import reflex as rx

from oo_app.components.context_switch import context_switch
from oo_app.components.first_run import first_run_note, first_run_view
from oo_app.components.mood import mood_tap
from oo_app.components.reaction import reaction_button
from oo_app.components.style import LINK_STYLE, MUTED, PAGE_STYLE, SMALL_MUTED, TIP_STYLE
from oo_app.models import Reaction
from oo_app.pages.login import sign_in_view, sign_out_form
from oo_app.pwa import cached_tip_painter
from oo_app.state.tip import TipState


def index() -> rx.Component:
    """The tip for a signed-in person (the first run instead, until they answer it), the sign-in view otherwise.
    Until the session is looked up the page is black, with a tip painted over it by the prerendered HTML's painter:
    the last one kept on this device at once, then the one due, fetched while the scripts load."""
    return rx.cond(
        TipState.signed_in,
        rx.cond(TipState.first_run, first_run_view(), tip_view()),
        rx.cond(TipState.checked, sign_in_view(), rx.el.main(cached_tip_painter(), style=PAGE_STYLE)),
    )


def tip_view() -> rx.Component:
    return rx.el.main(
        rx.el.nav(
            # Shown by static/pwa.js when the browser offers installation.
            rx.el.button("install", id="install-app", type="button", hidden=True, style=LINK_STYLE),
            rx.el.a("settings", href="/settings", id="settings-link", style=LINK_STYLE),
            sign_out_form(),
            aria_label="Account",
            style={
                "position": "fixed",
                "top": "1rem",
                "right": "1rem",
                "display": "flex",
                "gap": "1rem",
                "align_items": "center",
            },
        ),
        rx.el.p(
            TipState.kind,
            id="tip-kind",
            style={**SMALL_MUTED, "text_transform": "uppercase", "letter_spacing": "0.2em"},
        ),
        rx.el.h1(
            rx.cond(TipState.error != "", TipState.error, TipState.text),
            id="tip-text",
            aria_live="polite",
            # What static/pwa.js keeps as the last tip (0 while an error is shown: never cached).
            custom_attrs={"data-tip-id": rx.cond(TipState.error != "", 0, TipState.tip_id), "data-kind": TipState.kind},
            style=TIP_STYLE,
        ),
        rx.el.div(
            reaction_button("done", Reaction.done, TipState.react, TipState.busy, TipState.tip_id),
            reaction_button("later", Reaction.snoozed, TipState.react, TipState.busy, TipState.tip_id),
            reaction_button("dismiss", Reaction.dismissed, TipState.react, TipState.busy, TipState.tip_id),
            role="group",
            aria_label="React to this tip",
            style={"display": "flex", "gap": "0.75rem", "flex_wrap": "wrap", "justify_content": "center"},
        ),
        rx.el.div(
            # The quiet way to say a kind of tip does not suit the person (the ``disliked`` reaction): what oO learns
            # from most (issue 17), worded for a screen reader too.
            rx.el.button(
                "not for me",
                id=f"react-{Reaction.disliked.value}",
                type="button",
                on_click=TipState.react(Reaction.disliked.value, TipState.tip_id),
                disabled=TipState.busy,
                aria_label="Not for me: fewer tips like this one",
                style=LINK_STYLE,
            ),
            rx.el.button(
                "why this tip?",
                id="why",
                type="button",
                on_click=TipState.toggle_why,
                aria_expanded=TipState.show_why,
                aria_controls="tip-why",
                style=LINK_STYLE,
            ),
            style={"display": "flex", "gap": "1.25rem", "justify_content": "center", "flex_wrap": "wrap"},
        ),
        rx.cond(
            TipState.show_why,
            # The facts behind the tip in the person's words, what oO learned about tips like it, then its writer on
            # a line of its own (oo_app/recommender/reasons.py).
            rx.el.div(
                rx.el.p(
                    rx.el.span(TipState.because, id="tip-because"),
                    rx.cond(TipState.learned != "", rx.fragment(" ", rx.el.span(TipState.learned, id="tip-learned"))),
                    style={**MUTED, "margin": "0", "line_height": "1.5"},
                ),
                rx.el.p(TipState.writer, id="tip-writer", style=SMALL_MUTED),
                id="tip-why",
                style={
                    "display": "flex",
                    "flex_direction": "column",
                    "gap": "0.4rem",
                    "max_width": "32rem",
                    "text_align": "center",
                },
            ),
        ),
        first_run_note(),
        mood_tap(),
        context_switch(),
        id="tip-page",
        style=PAGE_STYLE,
    )
