"""Tips: the tip log with filters, and how often tips are taken up (done or liked, over shown) by agent set, prompt
version, model and policy, over time.

Presentation only: every figure comes from oo_app.hub.tips over the app's database (OO_DATABASE_URL).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="oO hub · tips")


@app.cell
def _():
    from datetime import UTC, datetime, timedelta

    import marimo as mo
    import plotly.express as px

    from oo_app.db import get_engine
    from oo_app.hub import navigation
    from oo_app.hub import tips as tip_queries

    engine = get_engine()
    return UTC, datetime, engine, mo, navigation, px, timedelta, tip_queries


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("Tips")), refresh], justify="space-between", align="center")
    return (refresh,)


@app.cell
def _(UTC, datetime, refresh):
    refresh  # a click on "reload" runs every query again
    now = datetime.now(UTC)
    return (now,)


@app.cell
def _(engine, mo, now, timedelta, tip_queries):
    _options = tip_queries.tip_filter_options(engine)
    controls = mo.ui.dictionary(
        {
            "person": mo.ui.text(placeholder="id or part of an email", label="person"),
            "agent": mo.ui.dropdown(_options.agents, allow_select_none=True, label="agent"),
            "model": mo.ui.dropdown(_options.models, allow_select_none=True, label="model"),
            "policy": mo.ui.dropdown(_options.policies, allow_select_none=True, label="policy"),
            "prompt_version": mo.ui.dropdown(_options.prompt_versions, allow_select_none=True, label="prompt"),
            "reaction": mo.ui.dropdown(_options.reactions, allow_select_none=True, label="reaction"),
            "days": mo.ui.date_range(value=(now.date() - timedelta(days=29), now.date()), label="days (UTC)"),
            "shown": mo.ui.radio(["shown", "shadow", "both"], value="shown", inline=True, label="tips"),
        }
    )
    mo.hstack(list(controls.values()), wrap=True, justify="start")
    return (controls,)


@app.cell
def _(controls, tip_queries):
    _chosen = controls.value
    filters = tip_queries.TipFilters(
        person=_chosen["person"] or None,
        agent=_chosen["agent"],
        model=_chosen["model"],
        policy=_chosen["policy"],
        prompt_version=_chosen["prompt_version"],
        reaction=_chosen["reaction"],
        start=_chosen["days"][0],
        end=_chosen["days"][1],
        shadow={"shown": False, "shadow": True, "both": None}[_chosen["shown"]],
    )
    return (filters,)


@app.cell
def _(engine, filters, mo, now, tip_queries):
    now  # the log follows "reload" too
    log = tip_queries.tip_log(engine, filters, limit=500)
    mo.vstack(
        [
            mo.md(f"### Tip log ({len(log)}{'+' if len(log) == 500 else ''})"),
            mo.ui.table(log, selection=None, page_size=15, wrapped_columns=["text"]),
        ]
    )
    return (log,)


@app.cell
def _(mo, tip_queries):
    by_pick = mo.ui.dropdown(list(tip_queries.ACCEPTANCE_DIMENSIONS), value="agents", label="acceptance by")
    by_pick
    return (by_pick,)


@app.cell
def _(by_pick):
    by = by_pick.value
    return (by,)


@app.cell
def _(by, engine, filters, mo, now, px, tip_queries):
    now  # follows "reload"
    accepted = tip_queries.acceptance(engine, by, filters)
    _figure = px.bar(accepted, x=by, y="acceptance", text="shown", title=f"Acceptance (done or liked / shown) by {by}")
    _figure.update_traces(texttemplate="%{text} shown", textposition="outside")
    _figure.update_layout(template="plotly_white", yaxis_tickformat=".0%", yaxis_range=[0, 1.1], xaxis_title=None)
    mo.vstack(
        [
            mo.ui.table(accepted, selection=None, format_mapping={"acceptance": "{:.0%}".format}),
            mo.ui.plotly(_figure) if len(accepted) else mo.md("_No shown tip passes these filters._"),
        ]
    )
    return (accepted,)


@app.cell
def _(by, engine, filters, mo, now, px, tip_queries):
    now  # follows "reload"
    accepted_per_day = tip_queries.acceptance_per_day(engine, by, filters)
    _figure = px.line(
        accepted_per_day,
        x="date",
        y="acceptance",
        color=by,
        markers=True,
        hover_data=["shown", "accepted"],
        title=f"Acceptance per day by {by}",
    )
    _figure.update_layout(template="plotly_white", yaxis_tickformat=".0%", xaxis_title=None)
    _shown = px.bar(accepted_per_day, x="date", y="shown", color=by, title=f"Shown tips per day by {by}")
    _shown.update_layout(template="plotly_white", xaxis_title=None)
    mo.vstack([mo.ui.plotly(_figure), mo.ui.plotly(_shown)]) if len(accepted_per_day) else mo.md("")
    return (accepted_per_day,)


if __name__ == "__main__":
    app.run()
