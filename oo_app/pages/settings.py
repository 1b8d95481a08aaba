"""``/settings``: what oO learned and what the person decides: preferences, consents, contexts, integrations, their
calendar, their data. Black like the tip page, one column, plain controls that work by keyboard; every change is live
(it is stored and the page shows the stored state at once). The sections are built in
:mod:`oo_app.components.learned_section`, :mod:`oo_app.components.settings_sections` and
:mod:`oo_app.components.calendar_section`."""

from __future__ import annotations

import reflex as rx

from oo_app.components.calendar_section import calendar_section
from oo_app.components.learned_section import learned_section
from oo_app.components.settings_sections import (
    consents_section,
    contexts_section,
    data_section,
    integrations_section,
    notifications_section,
    page_header,
)
from oo_app.components.style import COLUMN, PAGE_STYLE
from oo_app.state.settings import SettingsState


def settings_view() -> rx.Component:
    return rx.el.main(
        page_header(),
        learned_section(),
        consents_section(),
        contexts_section(),
        notifications_section(),
        integrations_section(),
        calendar_section(),
        data_section(),
        style=COLUMN,
    )


def settings() -> rx.Component:
    """The settings of a signed-in person (black while loading; ``load`` sends anyone else to ``/``)."""
    return rx.cond(SettingsState.signed_in, settings_view(), rx.el.main(style=PAGE_STYLE))
