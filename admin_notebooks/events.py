"""Events: the durable signal store (tips shown and answered, moods, app opens) by person, type and time.

Presentation only: every row comes from oo_app.hub.events over the app's database (OO_DATABASE_URL).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="oO hub · events")


@app.cell
def _():
    from datetime import UTC, datetime, timedelta

    import marimo as mo
    import plotly.express as px

    from oo_app.db import get_engine
    from oo_app.hub import events as event_queries
    from oo_app.hub import navigation

    engine = get_engine()
    return UTC, datetime, engine, event_queries, mo, navigation, px, timedelta


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("Events")), refresh], justify="space-between", align="center")
    return (refresh,)


@app.cell
def _(UTC, datetime, refresh):
    refresh  # a click on "reload" runs every query again
    now = datetime.now(UTC)
    return (now,)


@app.cell
def _(engine, event_queries, mo, now, timedelta):
    controls = mo.ui.dictionary(
        {
            "person": mo.ui.text(placeholder="id or part of an email", label="person"),
            "types": mo.ui.multiselect(event_queries.event_types(engine), label="types (none: all)"),
            "days": mo.ui.date_range(value=(now.date() - timedelta(days=6), now.date()), label="days (UTC)"),
        }
    )
    mo.hstack(list(controls.values()), wrap=True, justify="start")
    return (controls,)


@app.cell
def _(controls, event_queries):
    _chosen = controls.value
    filters = event_queries.EventFilters(
        person=_chosen["person"] or None,
        types=tuple(_chosen["types"]),
        start=_chosen["days"][0],
        end=_chosen["days"][1],
    )
    return (filters,)


@app.cell
def _(engine, event_queries, filters, mo, now, px):
    now  # follows "reload"
    per_day = event_queries.events_per_day(engine, filters)
    _figure = px.bar(per_day, x="date", y="events", color="type", title="Events per day by type")
    _figure.update_layout(barmode="stack", template="plotly_white", xaxis_title=None)
    mo.ui.plotly(_figure) if len(per_day) else mo.md("_No event passes these filters._")
    return (per_day,)


@app.cell
def _(engine, event_queries, filters, mo, now):
    now  # follows "reload"
    found = event_queries.events(engine, filters, limit=1000)
    mo.vstack(
        [
            mo.md(f"### Events ({len(found)}{'+' if len(found) == 1000 else ''}), newest first"),
            mo.ui.table(found, selection=None, page_size=25),
        ]
    )
    return (found,)


if __name__ == "__main__":
    app.run()
