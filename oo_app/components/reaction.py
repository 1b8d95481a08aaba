"""A reaction button of the tip page: quiet text on black, visible focus ring for keyboard users."""

from __future__ import annotations

import reflex as rx

from oo_app.components.style import REACTION_BUTTON
from oo_app.models import Reaction


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
        style=REACTION_BUTTON,
    )
