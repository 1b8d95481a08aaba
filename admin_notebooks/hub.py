"""The oO operator hub: who uses oO, how tips land, what fails, and the way to every other notebook and to MLflow.

Presentation only: every number comes from oo_app.hub.overview over the app's own database (OO_DATABASE_URL).
Run as a script (python admin_notebooks/hub.py), as an app (marimo run admin_notebooks/) or in the editor.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="oO hub")


@app.cell
def _():
    from datetime import UTC, datetime

    import marimo as mo
    import plotly.express as px

    from oo_app.db import get_engine
    from oo_app.hub import mlflow_store, navigation
    from oo_app.hub import overview as overview_queries

    engine = get_engine()
    return UTC, datetime, engine, mlflow_store, mo, navigation, overview_queries, px


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("oO hub")), refresh], justify="space-between", align="center")
    return (refresh,)


@app.cell
def _(UTC, datetime, refresh):
    refresh  # a click on "reload" runs every query again
    now = datetime.now(UTC)
    return (now,)


@app.cell
def _(engine, mo, now, overview_queries):
    stats = overview_queries.overview(engine, now=now)
    _by_kind = " · ".join(f"{kind} **{count}**" for kind, count in sorted(stats.reactions.items()))
    mo.vstack(
        [
            mo.hstack(
                [
                    mo.stat(value=stats.persons, label="persons"),
                    mo.stat(value=stats.active_today, label="active today", caption="an event or a reaction"),
                    mo.stat(value=stats.tips_today, label="tips today", caption=f"{stats.tips} in all"),
                    mo.stat(value=f"{stats.reaction_rate:.0%}", label="answered"),
                    mo.stat(value=f"{stats.acceptance:.0%}", label="accepted", caption="done or liked"),
                    mo.stat(value=f"{stats.done_rate:.0%}", label="done"),
                ],
                justify="start",
                wrap=True,
            ),
            mo.hstack(
                [
                    mo.stat(
                        value=stats.agent_errors_today,
                        label="agent errors today",
                        target_direction="decrease",
                    ),
                    mo.stat(
                        value=stats.fallbacks_today,
                        label="LLM fallbacks today",
                        caption=f"{stats.fallbacks} in all: the composer wrote in the model's place",
                        target_direction="decrease",
                    ),
                ],
                justify="start",
            ),
            mo.md(f"Reactions by kind: {_by_kind or 'none yet'}"),
        ]
    )
    return (stats,)


@app.cell
def _(engine, mo, now, overview_queries, px):
    per_day = overview_queries.tips_per_day(engine, days=30, now=now)
    _long = per_day.melt(
        id_vars="date", value_vars=[c for c in per_day.columns if c not in ("date", "tips")], var_name="reaction"
    )
    _figure = px.bar(_long, x="date", y="value", color="reaction", title="Tips per day by reaction (last 30 days)")
    _figure.update_layout(barmode="stack", template="plotly_white", yaxis_title="tips", xaxis_title=None)
    mo.ui.plotly(_figure)
    return (per_day,)


@app.cell
def _(engine, mo, now, overview_queries, px):
    errors = overview_queries.errors_per_day(engine, days=30, now=now)
    _figure = px.line(
        errors.melt(id_vars="date", var_name="kind", value_name="count"),
        x="date",
        y="count",
        color="kind",
        markers=True,
        title="Agent errors and LLM fallbacks per day (last 30 days)",
    )
    _figure.update_layout(template="plotly_white", xaxis_title=None)
    mo.ui.plotly(_figure)
    return (errors,)


@app.cell
def _(engine, mo, now, overview_queries):
    now  # the latest tips follow "reload" too
    tips = overview_queries.recent_tips(engine, limit=50)
    mo.vstack([mo.md("### Latest tips"), mo.ui.table(tips, selection=None, page_size=10)])
    return (tips,)


@app.cell
def _(mo, navigation):
    mo.md(
        "### Notebooks\n"
        + "\n".join(
            f"- [{name}]({navigation.notebook_href(name)}): {what}"
            for name, what in navigation.NOTEBOOKS.items()
            if name != "hub"
        )
    )
    return


@app.cell
def _(mlflow_store, mo):
    links = mlflow_store.mlflow_links()
    _prompts = "\n".join(
        f"- [{version}]({url})" if url else f"- {version}: not registered yet (the app registers prompts at start)"
        for version, url in links.prompts.items()
    )
    mo.vstack(
        [
            mo.md(
                f"""
### MLflow
[Experiments]({links.ui}/#/experiments) ·
[tip traces]({links.traces}) ·
[oo-tips]({links.experiments["oo-tips"]}) ·
[oo-bench (benchmarks)]({links.experiments["oo-bench"]}) ·
[Prompts]({links.ui}/#/prompts)

{_prompts}
"""
            ),
            mo.callout(mo.md(links.message), kind="warn") if links.message else mo.md(""),
        ]
    )
    return (links,)


if __name__ == "__main__":
    app.run()
