"""``/``: the black page with one tip, its reactions, and "why this tip" on demand."""

from __future__ import annotations

import reflex as rx

from oo_app.components.reaction import reaction_button
from oo_app.state.tip import TipState

PAGE_STYLE = {
    "min_height": "100vh",
    "background": "#000000",
    "color": "#f2f2f2",
    "display": "flex",
    "flex_direction": "column",
    "align_items": "center",
    "justify_content": "center",
    "gap": "2rem",
    "padding": "2rem",
    "font_family": "system-ui, -apple-system, 'Segoe UI', sans-serif",
}
TIP_STYLE = {
    "font_size": "clamp(1.4rem, 4vw, 2.1rem)",
    "line_height": "1.35",
    "max_width": "36rem",
    "text_align": "center",
    "margin": "0",
    "font_weight": "400",
}
MUTED = {"color": "#9a9a9a", "font_size": "0.85rem", "margin": "0"}
LINK_STYLE = {
    **MUTED,
    "background": "transparent",
    "border": "none",
    "cursor": "pointer",
    "text_decoration": "underline",
    "_focus_visible": {"outline": "2px solid #ffffff", "outline_offset": "2px"},
}


def index() -> rx.Component:
    return rx.el.main(
        rx.el.p(
            TipState.kind, id="tip-kind", style={**MUTED, "text_transform": "uppercase", "letter_spacing": "0.2em"}
        ),
        rx.el.h1(
            rx.cond(TipState.error != "", TipState.error, TipState.text),
            id="tip-text",
            aria_live="polite",
            style=TIP_STYLE,
        ),
        rx.el.div(
            reaction_button("done", "done", TipState.react, TipState.busy),
            reaction_button("snooze", "snoozed", TipState.react, TipState.busy),
            reaction_button("dismiss", "dismissed", TipState.react, TipState.busy),
            role="group",
            aria_label="React to this tip",
            style={"display": "flex", "gap": "0.75rem", "flex_wrap": "wrap", "justify_content": "center"},
        ),
        rx.el.button("why this tip?", id="why", type="button", on_click=TipState.toggle_why, style=LINK_STYLE),
        rx.cond(
            TipState.show_why,
            rx.el.p("from ", TipState.sources, " · ", TipState.written_by, id="tip-why", style=MUTED),
        ),
        style=PAGE_STYLE,
    )
