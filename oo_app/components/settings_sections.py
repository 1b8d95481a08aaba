"""The sections of ``/settings``, one function each: the page (:mod:`oo_app.pages.settings`) only lines them up
(what oO learned has its own module, :mod:`oo_app.components.learned_section`).

Each section is a ``<section>`` labelled by its heading, with its own feedback line (``<anchor>-feedback``) for the
errors and notices :class:`~oo_app.state.settings.SettingsState` files under the section's key. Controls are plain
buttons, fields and links that work by keyboard; the ids are what the browser tests and static/push.js look for.
"""

from __future__ import annotations

import reflex as rx

from agents.contexts import WEEKDAYS
from oo_app.components.backend import backend_url
from oo_app.components.style import (
    BUTTON,
    CARD,
    CHIP,
    DANGER,
    ERROR,
    FIELD,
    FOCUS,
    HEADING,
    LINK_BUTTON,
    MUTED,
    OK,
    ROW,
    SECTION,
    TEXT,
)
from oo_app.state.calendar import CalendarState
from oo_app.state.settings import ConsentRow, ContextRow, IntegrationRow, SettingsState

TODOIST_CONNECT = "/integrations/todoist/connect"  # oo_app.integrations.routes; the tip page may link it too


def page_header() -> rx.Component:
    """The way back to the tip, the title and who is signed in."""
    return rx.el.header(
        rx.el.a("← your tip", href="/", style={**MUTED, "color": TEXT}),
        rx.el.h1("Settings", style={"font_size": "1.6rem", "font_weight": "400", "margin": "0.5rem 0"}),
        rx.el.p("Signed in as ", SettingsState.email, style=MUTED),
        style=SECTION,
    )


def consents_section() -> rx.Component:
    return section("Consents", "consents", feedback("consents"), rx.foreach(SettingsState.consents, consent_row))


def contexts_section() -> rx.Component:
    """The person's contexts, one active at a time, and the form that adds one."""
    return section(
        "Contexts",
        "contexts",
        rx.el.p(
            "A context (work, home, holiday…) limits tips to the agents that fit it; one is on at a time. "
            "Switch it on the tip page, or give it hours of the week: a switch by hand lasts until the next of them.",
            style=MUTED,
        ),
        feedback("contexts"),
        rx.foreach(SettingsState.contexts, context_row),
        rx.el.form(
            rx.el.label("New context", html_for="new-context"),
            rx.el.input(id="new-context", name="name", required=True, max_length=64, style=FIELD),
            rx.el.button("add", type="submit", style=BUTTON),
            on_submit=SettingsState.create_context,
            reset_on_submit=True,
            style={**ROW, "padding_top": "0.8rem"},
        ),
    )


def notifications_section() -> rx.Component:
    """Web push in this browser; static/push.js reads the API's address from the section (``data-api``)."""
    return section(
        "Notifications",
        "push",
        rx.el.p(
            "oO can send your tip to this browser at your productive hours: never in your quiet hours, at most "
            "a few a day. Turning it on grants the “push” consent.",
            style=MUTED,
        ),
        rx.el.p(SettingsState.push_note, id="push-status", style=MUTED),
        feedback("push"),
        rx.el.div(
            rx.cond(
                SettingsState.push_status == "on",
                rx.el.button(
                    "turn off in this browser",
                    id="push-off",
                    type="button",
                    on_click=SettingsState.disable_push,
                    style=BUTTON,
                ),
                rx.el.button(
                    "turn on in this browser",
                    id="push-on",
                    type="button",
                    on_click=SettingsState.enable_push,
                    disabled=SettingsState.push_status == "unsupported",
                    style=BUTTON,
                ),
            ),
            style=ROW,
        ),
        id="push-section",
        custom_attrs={"data-api": backend_url("")},  # where static/push.js sends the subscription
    )


def integrations_section() -> rx.Component:
    """The connected services, each with its disconnect, and the link that connects Todoist."""
    return section(
        "Integrations",
        "integrations",
        feedback("integrations"),
        rx.foreach(SettingsState.integrations, integration_row),
        rx.el.a(
            "Connect Todoist",
            href=backend_url(TODOIST_CONNECT),
            reload_document=True,
            id="connect-todoist",
            style={**LINK_BUTTON, "margin_top": "0.6rem"},
        ),
        rx.el.p(
            "oO keeps when tasks were done and their project; it reads open tasks' titles only while writing a tip.",
            style=MUTED,
        ),
    )


def data_section() -> rx.Component:
    """The person's data: the export and the account's deletion."""
    return section(
        "Your data",
        "data",
        export_link(),
        deletion_form(),
        feedback("delete"),
        rx.el.p(
            "Deleting revokes oO's access to your integrations and removes everything oO stored about you.",
            style=MUTED,
        ),
    )


def export_link() -> rx.Component:
    return rx.el.a(
        "Export my data (JSON)",
        href=backend_url("/api/me/export"),
        reload_document=True,
        id="export",
        style=LINK_BUTTON,
    )


def deletion_form() -> rx.Component:
    """Deletion asks the person to type their email address (or the phrase) first."""
    return rx.el.form(
        rx.el.label(
            "Delete my account: type your email address or “delete my account”",
            html_for="delete-confirmation",
            style={"margin_top": "1.2rem"},
        ),
        rx.el.div(
            rx.el.input(id="delete-confirmation", name="confirmation", autocomplete="off", style=FIELD),
            rx.el.button("delete my account", type="submit", id="delete-account", style=DANGER),
            style=ROW,
        ),
        on_submit=SettingsState.delete_account,
        style={"display": "flex", "flex_direction": "column", "gap": "0.5rem"},
    )


def feedback(section: str) -> rx.Component:
    """The error or notice of one section, announced to screen readers."""
    return rx.el.p(
        rx.cond(
            SettingsState.errors.contains(section),
            SettingsState.errors[section],
            SettingsState.notices.get(section, ""),
        ),
        id=f"{section}-feedback",
        role="status",
        aria_live="polite",
        style=rx.cond(SettingsState.errors.contains(section), {**MUTED, "color": ERROR}, {**MUTED, "color": OK}),
    )


def section(title: str, anchor: str, *children: rx.Component, **props) -> rx.Component:
    """A ``<section>`` named by its ``<h2>`` (``<anchor>-heading``) for screen readers."""
    return rx.el.section(
        rx.el.h2(title, id=f"{anchor}-heading", style=HEADING),
        *children,
        aria_labelledby=f"{anchor}-heading",
        style=SECTION,
        **props,
    )


def consent_row(row: ConsentRow) -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.strong(row.key),
            rx.el.span(rx.cond(row.granted, " · granted", " · not granted"), style=MUTED),
            rx.cond(
                row.granted,
                rx.el.button("revoke", type="button", on_click=consent_change(row.key, False), style=DANGER),
                rx.el.button("grant", type="button", on_click=consent_change(row.key, True), style=BUTTON),
            ),
            style=ROW,
        ),
        rx.el.p(row.text, style=MUTED),
        rx.cond(row.agents != "", rx.el.p("needed by: ", row.agents, style=MUTED)),
        id="consent-" + row.key,
        style=CARD,
    )


def consent_change(key: rx.Var, granted: bool) -> list:
    """Grant or revoke ``key``, then let the calendar section see the change (it depends on ``calendar``)."""
    return [SettingsState.set_consent(key, granted), CalendarState.load]


def context_row(row: ContextRow) -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.strong(row.name),
            rx.el.span(" · ", row.meaning, rx.cond(row.in_effect, " · on now", ""), style=MUTED),
            context_buttons(row),
            style=ROW,
        ),
        rx.cond(
            row.schedules != "",
            rx.el.div(
                rx.el.span("on ", row.schedules, style=MUTED),
                rx.el.button(
                    "clear",
                    type="button",
                    on_click=SettingsState.clear_schedules(row.name),
                    aria_label="clear the hours of " + row.name,
                    style=BUTTON,
                ),
                style=ROW,
            ),
        ),
        schedule_form(row),
        style=CARD,
    )


def schedule_form(row: ContextRow) -> rx.Component:
    """Hours of the week for one context, folded away until asked for: weekday chips and two times (an end before the
    start runs overnight)."""
    return rx.el.details(
        rx.el.summary("hours for ", row.name, style={**MUTED, "cursor": "pointer", "_focus_visible": FOCUS}),
        schedule_fields(row),
    )


def schedule_fields(row: ContextRow) -> rx.Component:
    return rx.el.form(
        rx.el.fieldset(
            rx.el.legend("Hours for ", row.name, style=MUTED),
            rx.el.input(type="hidden", name="context", value=row.name),
            *[rx.el.label(rx.el.input(type="checkbox", name=f"day-{day}"), " ", day, style=CHIP) for day in WEEKDAYS],
            rx.el.label("from ", rx.el.input(type="time", name="start", required=True, style=FIELD), style=MUTED),
            rx.el.label("to ", rx.el.input(type="time", name="end", required=True, style=FIELD), style=MUTED),
            rx.el.button("add hours", type="submit", aria_label="add hours to " + row.name, style=BUTTON),
            style={**ROW, "border": "none", "padding": "0.4rem 0 0 0", "margin": "0"},
        ),
        on_submit=SettingsState.add_schedule,
        reset_on_submit=True,
    )


def context_buttons(row: ContextRow) -> rx.Component:
    return rx.fragment(
        rx.cond(
            row.in_effect,
            rx.el.button(
                "deactivate", type="button", on_click=SettingsState.context_action("deactivate", row.name), style=BUTTON
            ),
            rx.el.button(
                "activate", type="button", on_click=SettingsState.context_action("activate", row.name), style=BUTTON
            ),
        ),
        rx.el.button(
            "delete",
            type="button",
            on_click=SettingsState.context_action("delete", row.name),
            aria_label="delete the context " + row.name,
            style=DANGER,
        ),
    )


def integration_row(row: IntegrationRow) -> rx.Component:
    """One service: its state in words, "sync now" and disconnect while connected, "reconnect" when it must be."""
    return rx.el.div(
        rx.el.div(
            rx.el.strong(row.provider),
            rx.el.span(" · ", row.status_text, " since ", row.since, style=MUTED),
            rx.cond(row.synced != "", rx.el.span(" · ", row.synced, id="sync-status-" + row.provider, style=MUTED)),
            rx.cond(
                row.status == "connected",
                rx.el.button(
                    "sync now",
                    type="button",
                    id="sync-now-" + row.provider,
                    on_click=SettingsState.sync_now(row.provider),
                    aria_label="sync now from " + row.provider,
                    style=BUTTON,
                ),
            ),
            rx.cond(
                row.status == "connected",
                rx.el.button(
                    "disconnect", type="button", on_click=SettingsState.disconnect(row.provider), style=DANGER
                ),
            ),
            rx.cond(
                row.reauth,
                rx.el.a(
                    "reconnect",
                    href=backend_url(TODOIST_CONNECT),  # the one provider that needs reconnecting today
                    reload_document=True,
                    id="reconnect-" + row.provider,
                    aria_label="reconnect " + row.provider,
                    style=LINK_BUTTON,
                ),
            ),
            style=ROW,
        ),
        rx.cond(row.problem != "", rx.el.p(row.problem, id="sync-problem-" + row.provider, style=MUTED)),
        style=CARD,
    )
