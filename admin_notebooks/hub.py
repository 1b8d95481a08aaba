"""The oO operator hub: who uses oO, how tips land, and links out to MLflow.

Presentation only: every number comes from oo_app.hub_queries over the app's own database (OO_DATABASE_URL).
Run as a script (python admin_notebooks/hub.py), as an app (marimo run admin_notebooks/hub.py) or in the editor.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="oO hub")


@app.cell
def _():
    import marimo as mo
    import plotly.express as px

    from oo_app import hub_queries
    from oo_app.db import get_engine
    from oo_app.settings import get_settings

    engine = get_engine()
    settings = get_settings()
    return engine, hub_queries, mo, px, settings


@app.cell
def _(engine, hub_queries, mo):
    stats = hub_queries.overview(engine)
    by_kind = " · ".join(f"{kind} **{count}**" for kind, count in sorted(stats.reactions.items()))
    mo.vstack(
        [
            mo.hstack(
                [
                    mo.stat(value=stats.persons, label="persons"),
                    mo.stat(value=stats.tips, label="tips"),
                    mo.stat(value=stats.tips_today, label="tips today"),
                    mo.stat(value=f"{stats.reaction_rate:.0%}", label="answered"),
                    mo.stat(value=f"{stats.done_rate:.0%}", label="done"),
                ],
                justify="start",
            ),
            mo.md(f"Reactions by kind: {by_kind or 'none yet'}"),
        ]
    )
    return (stats,)


@app.cell
def _(engine, hub_queries, mo, px):
    per_day = hub_queries.tips_per_day(engine, days=30)
    long = per_day.melt(
        id_vars="date", value_vars=[c for c in per_day.columns if c not in ("date", "tips")], var_name="reaction"
    )
    figure = px.bar(long, x="date", y="value", color="reaction", title="Tips per day by reaction (last 30 days)")
    figure.update_layout(barmode="stack", template="plotly_white", yaxis_title="tips", xaxis_title=None)
    mo.ui.plotly(figure)
    return (per_day,)


@app.cell
def _(engine, hub_queries, mo):
    tips = hub_queries.recent_tips(engine, limit=50)
    mo.vstack([mo.md("### Latest tips"), mo.ui.table(tips, selection=None, page_size=10)])
    return (tips,)


@app.cell
def _(mo, settings):
    mo.md(
        f"""
        ### MLflow
        [Experiments]({settings.mlflow_ui_url}/#/experiments) ·
        [Prompts]({settings.mlflow_ui_url}/#/prompts) ·
        [Traces]({settings.mlflow_ui_url}/#/experiments/0/traces)
        """
    )
    return


if __name__ == "__main__":
    app.run()
