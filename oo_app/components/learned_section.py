"""The "What oO learned about you" section of ``/settings``: each agent's statements in plain words, the control that
fits each (an hour picker, the quiet window, area chips), whether it is learned or set by the person, "use what oO
learned", a switch per agent; the raw parameters stay editable under an "advanced" fold.

Plain controls that work by keyboard: native selects, checkboxes, buttons and a ``<details>`` fold. Each agent's
feedback line sits under its title (``said-<agent>-feedback``); the raw fold keeps the section's ``prefs-feedback``.
"""

from __future__ import annotations

import reflex as rx

from oo_app.components.settings_sections import feedback
from oo_app.components.style import (
    AGENT_TITLE,
    BUTTON,
    CARD,
    CHIP,
    ERROR,
    FIELD,
    FOLD_SUMMARY,
    HEADING,
    MUTED,
    OK,
    ROW,
    SECTION,
    STATEMENT,
    SWITCH,
    TEXT,
)
from oo_app.state.learned import AREA_FIELD, ParamRow, SaidRow
from oo_app.state.settings import SettingsState

HOURS = [(str(hour), f"{hour:02d}:00") for hour in range(24)]


def learned_section() -> rx.Component:
    """The plain-words statements of every agent, then the raw parameters folded away."""
    return rx.el.section(
        rx.el.h2("What oO learned about you", id="prefs-heading", style=HEADING),
        rx.el.p(
            "oO learns these from what you do. Change any of them: your word wins over what oO learned until you "
            "choose “use what oO learned”. Switch a part off and oO stops using it for your tips.",
            style=MUTED,
        ),
        rx.foreach(SettingsState.said, said_row),
        rx.el.details(
            rx.el.summary("Advanced: the raw values", id="advanced-summary", style=FOLD_SUMMARY),
            rx.el.p(
                "What each agent computes with, as stored. Set your own value to override it; "
                "“use learned” goes back to what oO learned.",
                style=MUTED,
            ),
            feedback("prefs"),
            rx.foreach(SettingsState.params, param_row),
            id="advanced",
            style={"margin_top": "1rem"},
        ),
        aria_labelledby="prefs-heading",
        style=SECTION,
    )


def said_feedback(row: SaidRow) -> rx.Component:
    """The error or notice of one agent's controls, announced to screen readers."""
    key = "learned:" + row.scope
    failed = SettingsState.errors.contains(key)
    return rx.el.p(
        rx.cond(failed, SettingsState.errors[key], SettingsState.notices.get(key, "")),
        id="said-" + row.scope + "-feedback",
        role="status",
        aria_live="polite",
        style=rx.cond(failed, {**MUTED, "color": ERROR}, {**MUTED, "color": OK}),
    )


def agent_heading(row: SaidRow) -> rx.Component:
    """An agent's title, what it does, and its on/off switch."""
    return rx.el.div(
        rx.el.div(
            rx.el.h3(row.heading, id="agent-" + row.scope, style=AGENT_TITLE),
            rx.el.button(
                rx.cond(row.enabled, "on", "off"),
                type="button",
                role="switch",
                aria_checked=rx.cond(row.enabled, "true", "false"),
                aria_label="use " + row.heading + " for my tips",
                id="switch-" + row.scope,
                on_click=SettingsState.set_enabled(row.scope, ~row.enabled),
                style=SWITCH,
            ),
            style={**ROW, "justify_content": "space-between"},
        ),
        rx.el.p(row.about, style=MUTED),
        rx.cond(~row.enabled, rx.el.p("Off: oO does not use this part for your tips.", style=MUTED)),
        rx.cond(row.needs != "", rx.el.p(row.needs, id="needs-" + row.scope, style=MUTED)),
        said_feedback(row),
        style={"padding_top": "1.4rem"},
    )


def said_row(row: SaidRow) -> rx.Component:
    return rx.fragment(
        rx.cond(row.heading != "", agent_heading(row)),
        rx.el.div(
            rx.el.p(row.text, id=row.dom_id, style=STATEMENT),
            rx.el.p(
                row.source_label,
                rx.cond(row.learned != "", rx.el.span(" · ", row.learned)),
                id=row.dom_id + "-source",
                style=MUTED,
            ),
            rx.el.div(
                rx.match(
                    row.control,
                    ("hour", hour_form(row)),
                    ("window", quiet_form(row)),
                    ("areas", areas_form(row)),
                    rx.fragment(),
                ),
                rx.cond(
                    row.source == "user",
                    rx.el.button(
                        "use what oO learned",
                        type="button",
                        id=row.dom_id + "-learned",
                        on_click=SettingsState.use_learned(row.scope, row.param_keys),
                        style=BUTTON,
                    ),
                ),
                style=ROW,
            ),
            style=CARD,
        ),
    )


def hour_select(row: SaidRow, name: str, value: rx.Var, label: rx.Var | str) -> rx.Component:
    field_id = row.dom_id + "-" + name
    return rx.fragment(
        rx.el.label(label, html_for=field_id, style=MUTED),
        rx.el.select(
            *[rx.el.option(text, value=hour) for hour, text in HOURS],
            id=field_id,
            name=name,
            default_value=value,
            key=field_id + value,  # a stored change re-renders the picker at the stored hour
            style=FIELD,
        ),
    )


def hour_form(row: SaidRow) -> rx.Component:
    return rx.el.form(
        rx.el.input(type="hidden", name="scope", value=row.scope),
        rx.el.input(type="hidden", name="key", value=row.id),
        hour_select(row, "hour", row.hour, "best hour"),
        rx.el.button("save", type="submit", aria_label="save the hour", style=BUTTON),
        on_submit=SettingsState.save_hour,
        style=ROW,
    )


def quiet_form(row: SaidRow) -> rx.Component:
    return rx.el.form(
        rx.el.input(type="hidden", name="scope", value=row.scope),
        hour_select(row, "start", row.hour, "quiet from"),
        hour_select(row, "end", row.end, "to"),
        rx.el.button("save", type="submit", aria_label="save the quiet hours", style=BUTTON),
        on_submit=SettingsState.save_quiet,
        style=ROW,
    )


def area_chip(row: SaidRow, name: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.el.input(
            type="checkbox",
            name=AREA_FIELD + name,
            default_checked=row.chosen.contains(name),
            key=row.dom_id + name + row.chosen.contains(name).to_string(),
        ),
        " ",
        name,
        style={**CHIP, "margin_right": "0.6rem"},
    )


def areas_form(row: SaidRow) -> rx.Component:
    return rx.cond(
        row.choices.length() > 0,
        rx.el.form(
            rx.el.fieldset(
                rx.el.legend("Areas that count (at most 5)", style=MUTED),
                rx.el.input(type="hidden", name="scope", value=row.scope),
                rx.foreach(row.choices, lambda name: area_chip(row, name)),
                rx.el.button("save", type="submit", aria_label="save the areas", style=BUTTON),
                style={**ROW, "border": "none", "padding": "0", "margin": "0"},
            ),
            on_submit=SettingsState.save_areas,
        ),
        rx.el.p("oO has no projects of yours yet: connect Todoist below and they appear here.", style=MUTED),
    )


def param_row(row: ParamRow) -> rx.Component:
    """One raw parameter: its value in a text field (JSON for lists and objects), save, and "use learned"."""
    return rx.el.div(
        rx.cond(row.scope_heading != "", rx.el.h3(row.scope_heading, style={**MUTED, "color": TEXT})),
        rx.el.form(
            rx.el.label(row.key, html_for=row.field_id, style={"min_width": "11rem"}),
            rx.el.input(
                id=row.field_id,
                name="value",
                default_value=row.value,
                key=row.field_id + row.value,
                aria_describedby=row.field_id + "-help",
                style={**FIELD, "flex": "1", "min_width": "8rem"},
            ),
            rx.el.input(type="hidden", name="scope", value=row.scope),
            rx.el.input(type="hidden", name="key", value=row.key),
            rx.el.button("save", type="submit", style=BUTTON),
            rx.cond(
                row.source == "user",
                rx.el.button(
                    "use learned",
                    type="button",
                    on_click=SettingsState.reset_pref(row.scope, row.key),
                    aria_label="use the learned value of " + row.key,
                    style=BUTTON,
                ),
            ),
            on_submit=SettingsState.save_pref,
            style=ROW,
        ),
        rx.el.p(
            row.source_label,
            rx.cond(row.inferred != "", rx.el.span(" · learned: ", row.inferred)),
            " · ",
            row.description,
            " (",
            row.expects,
            ")",
            id=row.field_id + "-help",
            style=MUTED,
        ),
        style=CARD,
    )
