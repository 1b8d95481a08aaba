"""The tip page's one-tap context switch: the person's contexts and "none" as a row of quiet buttons, the one in
effect pressed (``aria-pressed``). Empty until the person has a context (they create them in settings).

A tap sends two events in order: the switch (which writes a tip for the new context) and then the tip page's
``load``, which shows it; the page's events run one after another, so the second sees the first's tip."""

from __future__ import annotations

import reflex as rx

from oo_app.components.style import CONTEXT_BUTTON, CONTEXT_ROW
from oo_app.state.context_switch import NONE, ContextSwitchState
from oo_app.state.tip import TipState


def _button(label: rx.Var[str] | str, name: rx.Var[str] | str) -> rx.Component:
    return rx.el.button(
        label,
        type="button",
        aria_pressed=ContextSwitchState.current == name,
        on_click=[ContextSwitchState.switch(name), TipState.load],
        disabled=ContextSwitchState.busy,
        style=CONTEXT_BUTTON,
    )


def context_switch() -> rx.Component:
    return rx.el.div(
        rx.cond(
            ContextSwitchState.names.length() > 0,
            rx.el.div(
                rx.foreach(ContextSwitchState.names, lambda name: _button(name, name)),
                _button("none", NONE),
                role="group",
                aria_label="Context",
                style=CONTEXT_ROW,
            ),
        ),
        id="context-switch",
        on_mount=ContextSwitchState.load,
    )
