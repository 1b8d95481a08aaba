"""Agents: how fresh each agent's outputs are against its TTL and the freshness SLA, how long runs take, what fails,
and which persons wait for a fresh output.

Presentation only: every figure comes from oo_app.hub.agent_health over the app's database (OO_DATABASE_URL). Not named
agents.py: run as a script, a notebook of that name would shadow the ``agents`` package for every import.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="oO hub · agents")


@app.cell
def _():
    from datetime import UTC, datetime

    import marimo as mo
    import plotly.express as px

    from oo_app.db import get_engine
    from oo_app.hub import agent_health as agent_queries
    from oo_app.hub import navigation

    engine = get_engine()
    return UTC, agent_queries, datetime, engine, mo, navigation, px


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("Agents")), refresh], justify="space-between", align="center")
    return (refresh,)


@app.cell
def _(UTC, datetime, refresh):
    refresh  # a click on "reload" runs every query again
    now = datetime.now(UTC)
    return (now,)


@app.cell
def _(agent_queries, engine, mo, now):
    freshness = agent_queries.agent_freshness(engine, now=now)
    _meeting = int(freshness["meets_sla"].sum())
    mo.vstack(
        [
            mo.md(
                f"### Freshness against TTL\nAn output is fresh while it is younger than its agent's TTL and of the "
                f"current version; the SLA asks that **{agent_queries.FRESHNESS_SLA:.0%}** of the persons an agent may "
                f"speak for have a fresh one. **{_meeting} of {len(freshness)}** agents meet it."
            ),
            mo.ui.table(
                freshness,
                selection=None,
                format_mapping={"freshness": "{:.0%}".format, "ttl_h": "{:g} h".format},
            ),
        ]
    )
    return (freshness,)


@app.cell
def _(agent_queries, freshness, mo, px):
    _figure = px.bar(
        freshness, x="agent", y="freshness", color="meets_sla", title="Share of persons with a fresh output"
    )
    _figure.add_hline(y=agent_queries.FRESHNESS_SLA, line_dash="dot", annotation_text="SLA")
    _figure.update_layout(template="plotly_white", yaxis_tickformat=".0%", yaxis_range=[0, 1.05], xaxis_title=None)
    mo.ui.plotly(_figure)
    return


@app.cell
def _(mo):
    days = mo.ui.slider(1, 30, value=7, label="runs of the last N days", show_value=True)
    days
    return (days,)


@app.cell
def _(agent_queries, days, engine, mo, now):
    run_stats = agent_queries.agent_run_stats(engine, days=days.value, now=now)
    mo.vstack(
        [
            mo.md(f"### Runs of the last {days.value} days"),
            mo.ui.table(run_stats, selection=None, format_mapping={"error_rate": "{:.0%}".format}),
        ]
    )
    return (run_stats,)


@app.cell
def _(agent_queries, days, engine, mo, now, px):
    runs = agent_queries.agent_runs(engine, days=days.value, now=now)
    _figure = px.scatter(
        runs,
        x="started_at",
        y="duration_ms",
        color="agent",
        symbol="status",
        hover_data=["person_id", "error"],
        title="Run durations (ms) over time",
    )
    _figure.update_layout(template="plotly_white", xaxis_title=None)
    mo.ui.plotly(_figure) if len(runs) else mo.md("_No agent run in this window._")
    return (runs,)


@app.cell
def _(agent_queries, days, engine, mo, now):
    run_errors = agent_queries.agent_runs(engine, days=days.value, now=now, status="error", limit=100)
    mo.vstack(
        [
            mo.md(f"### Errors ({len(run_errors)})"),
            mo.ui.table(run_errors, selection=None, page_size=10) if len(run_errors) else mo.md("_None._"),
        ]
    )
    return (run_errors,)


@app.cell
def _(agent_queries, engine, mo, navigation, now):
    stale = agent_queries.stale_outputs(engine, now=now)
    _people = navigation.notebook_href("people")
    mo.vstack(
        [
            mo.md(
                f"### Persons waiting for a fresh output ({len(stale)})\nRecompute one person's agents in "
                f"[people]({_people})."
            ),
            mo.ui.table(stale, selection=None, page_size=20, format_mapping={"age_h": "{:.1f}".format})
            if len(stale)
            else mo.md("_Every eligible person has a fresh output of every agent._"),
        ]
    )
    return (stale,)


if __name__ == "__main__":
    app.run()
