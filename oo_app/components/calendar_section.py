"""The calendar section of ``/settings``: what oO reads of a calendar and never keeps, the ``calendar`` consent in
place, and one card per kind (Google Calendar, CalDAV, an ICS address): a form or link to connect it, or its host,
last sync and problem in words with "sync now" and "disconnect".

Reads :class:`~oo_app.state.calendar.CalendarState` (loaded when the section appears); granting the consent here
reloads the settings page's consents too. Ids start with ``calendar-``: the browser tests look for them.
"""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var

from oo_app.components.backend import backend_url
from oo_app.components.style import (
    BUTTON,
    CARD,
    DANGER,
    ERROR,
    FIELD,
    HEADING,
    LINK_BUTTON,
    MUTED,
    OK,
    ROW,
    SECTION,
    TEXT,
)
from oo_app.state.calendar import CalendarState
from oo_app.state.settings import SettingsState

GOOGLE_CONNECT = "/integrations/google-calendar/connect"  # oo_app.calendar.google_routes
FORM = {"display": "flex", "flex_direction": "column", "gap": "0.4rem", "padding_top": "0.4rem"}
WIDE_FIELD = {**FIELD, "width": "100%", "max_width": "28rem", "box_sizing": "border-box"}

WHAT_OO_READS = (
    "oO reads only when you are busy, for the next two days, so a tip fits your free time and no notification "
    "reaches you in a meeting. A calendar address or CalDAV server sends whole events: oO takes only when each starts "
    "and ends, and never keeps, logs or passes on a meeting's title, description, guests or place."
)
CALDAV_HELP = (
    "iCloud, Fastmail and Nextcloud need an app password made for oO in your account's security settings, not your "
    "usual password. This is the only case where oO keeps a password, and it keeps it encrypted."
)
ICS_HELP = (
    "Paste the calendar's secret address. Google Calendar: Settings, your calendar, “Integrate calendar”, “Secret "
    "address in iCal format”. Apple Calendar (iCloud): share the calendar as a public calendar and copy its webcal:// "
    "link. Outlook: Settings, Calendar, Shared calendars, “Publish a calendar” with “Can view when I'm busy”, the ICS "
    "link. Anyone with the address can read the calendar: oO keeps it encrypted."
)


def calendar_section() -> rx.Component:
    return rx.el.section(
        rx.el.h2("Calendar", id="calendar-heading", style=HEADING),
        rx.el.p(WHAT_OO_READS, style=MUTED),
        consent_line(),
        feedback("calendar"),
        rx.cond(CalendarState.google_offered | CalendarState.google.connected, google_card()),
        caldav_card(),
        ics_card(),
        id="calendar-section",
        aria_labelledby="calendar-heading",
        on_mount=CalendarState.load,
        style=SECTION,
    )


def consent_line() -> rx.Component:
    """The consent a calendar needs; granted in place when it is missing."""
    return rx.cond(
        CalendarState.granted,
        rx.el.p(
            "It uses the “Your calendar” consent; turning it off deletes what oO kept.",
            id="calendar-consent",
            style=MUTED,
        ),
        rx.el.div(
            rx.el.p("Connecting a calendar needs the “Your calendar” consent.", id="calendar-consent", style=MUTED),
            rx.el.button(
                "grant “Your calendar”",
                type="button",
                id="calendar-grant",
                on_click=[CalendarState.grant, SettingsState.load],
                style=BUTTON,
            ),
            style=ROW,
        ),
    )


def feedback(place: str) -> rx.Component:
    """The error or notice of one place of the section, announced to screen readers."""
    failed = CalendarState.errors.contains(place)
    return rx.el.p(
        rx.cond(failed, CalendarState.errors[place], CalendarState.notices.get(place, "")),
        id="calendar-feedback" if place == "calendar" else f"calendar-{place}-feedback",
        role="status",
        aria_live="polite",
        style=rx.cond(failed, {**MUTED, "color": ERROR}, {**MUTED, "color": OK}),
    )


def connected_row(kind: str, row: Var) -> rx.Component:
    """A connected calendar: its host, its last sync, its problem in words, "sync now" and "disconnect"."""
    idle = CalendarState.working == ""
    return rx.fragment(
        rx.el.div(
            rx.el.span(
                rx.cond(row.reauth, "was connected to ", "connected to "),
                rx.el.span(row.label, id=f"calendar-label-{kind}", style={"color": TEXT}),
                style=MUTED,
            ),
            rx.el.span(row.synced, id=f"calendar-synced-{kind}", style=MUTED),
            rx.cond(
                ~row.reauth,
                rx.el.button(
                    rx.cond(CalendarState.working == kind, "syncing…", "sync now"),
                    type="button",
                    id=f"calendar-sync-{kind}",
                    on_click=CalendarState.sync_now(kind),
                    disabled=~idle,
                    aria_label="sync now from " + row.title,
                    style=BUTTON,
                ),
            ),
            rx.el.button(
                "disconnect",
                type="button",
                id=f"calendar-disconnect-{kind}",
                on_click=CalendarState.disconnect(kind),
                disabled=~idle,
                aria_label="disconnect " + row.title,
                style=DANGER,
            ),
            style=ROW,
        ),
        rx.cond(
            row.problem != "", rx.el.p(row.problem, id=f"calendar-problem-{kind}", style={**MUTED, "color": ERROR})
        ),
    )


def card(kind: str, title: str, row: Var, *when_not_connected: rx.Component) -> rx.Component:
    return rx.el.div(
        rx.el.h3(title, style={"font_size": "1rem", "font_weight": "500", "margin": "0 0 0.3rem 0"}),
        rx.cond(row.connected, connected_row(kind, row)),
        *when_not_connected,
        feedback(kind),
        id=f"calendar-{kind}",
        style=CARD,
    )


def google_card() -> rx.Component:
    row = CalendarState.google
    link = rx.el.a(
        rx.cond(row.reauth, "reconnect Google Calendar", "connect Google Calendar"),
        href=backend_url(GOOGLE_CONNECT),
        reload_document=True,
        id="calendar-connect-google",
        style=LINK_BUTTON,
    )
    return card(
        "google",
        "Google Calendar",
        row,
        rx.cond(
            ~row.connected | row.reauth,
            rx.cond(
                CalendarState.granted,
                link,
                rx.el.p("Grant “Your calendar” above to connect it.", style=MUTED),
            ),
        ),
    )


def submit(kind: str) -> rx.Component:
    """The form's button; without the consent it grants "Your calendar" first (its click runs before the submit)."""
    props = {
        "type": "submit",
        "id": f"calendar-connect-{kind}",
        "disabled": CalendarState.working != "",
        "style": {**BUTTON, "align_self": "flex-start"},
    }
    return rx.cond(
        CalendarState.granted,
        rx.el.button(rx.cond(CalendarState.working == kind, "connecting…", "connect"), **props),
        rx.el.button("grant “Your calendar” and connect", on_click=[CalendarState.grant, SettingsState.load], **props),
    )


def field(kind: str, name: str, label: str, **props) -> rx.Component:
    return rx.fragment(
        rx.el.label(label, html_for=f"calendar-{kind}-{name}", style={**MUTED, "color": TEXT}),
        rx.el.input(
            id=f"calendar-{kind}-{name}",
            name=name,
            required=True,
            max_length=2048,
            autocomplete="off",
            spell_check=False,
            style=WIDE_FIELD,
            **props,
        ),
    )


def caldav_card() -> rx.Component:
    row = CalendarState.caldav
    form = rx.el.form(
        rx.el.p(CALDAV_HELP, id="calendar-caldav-help", style=MUTED),
        field("caldav", "url", "Server address", type="url", placeholder="https://caldav.example.com/"),
        field("caldav", "username", "User name", aria_describedby="calendar-caldav-help"),
        field("caldav", "password", "App password", type="password", aria_describedby="calendar-caldav-help"),
        submit("caldav"),
        on_submit=CalendarState.connect_caldav,
        style=FORM,
    )
    return card("caldav", "CalDAV: iCloud, Fastmail, Nextcloud…", row, rx.cond(~row.connected | row.reauth, form))


def ics_card() -> rx.Component:
    row = CalendarState.ics
    form = rx.el.form(
        rx.el.p(ICS_HELP, id="calendar-ics-help", style=MUTED),
        field(
            "ics",
            "address",
            "Secret address",
            type="url",
            placeholder="https://… or webcal://…",
            aria_describedby="calendar-ics-help",
        ),
        submit("ics"),
        on_submit=CalendarState.connect_ics,
        style=FORM,
    )
    return card("ics", "A calendar address (ICS)", row, rx.cond(~row.connected | row.reauth, form))
