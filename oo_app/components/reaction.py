"""A reaction button of the tip page: quiet text on black, visible focus ring for keyboard users."""

from __future__ import annotations

import reflex as rx

from oo_app.models import Reaction

BUTTON_STYLE = {
    "background": "transparent",
    "color": "#c8c8c8",
    "border": "1px solid #3a3a3a",
    "border_radius": "999px",
    "padding": "0.5rem 1.25rem",
    "font_size": "0.95rem",
    "cursor": "pointer",
    "_hover": {"color": "#ffffff", "border_color": "#8a8a8a"},
    "_focus_visible": {"outline": "2px solid #ffffff", "outline_offset": "2px"},
    "_disabled": {"opacity": "0.4", "cursor": "default"},
}


def reaction_button(
    label: str, reaction: Reaction, on_click: rx.EventHandler, disabled: rx.Var[bool], shown_id: rx.Var[int]
) -> rx.Component:
    """A button sending ``on_click(reaction, shown_id)``: the click names the tip the page shows, so the backend can
    answer it even if it lost the page's state."""
    return rx.el.button(
        label,
        id=f"react-{reaction.value}",
        type="button",
        on_click=on_click(reaction.value, shown_id),
        disabled=disabled,
        style=BUTTON_STYLE,
    )
