"""Experiments: the policies, each shadow candidate against the incumbent (online), the benchmark runs of MLflow's
``oo-bench`` experiment, the off-policy estimates from the logged tips and the latest ``oo simulate`` run (offline),
and the one explicit promotion, recorded in the audit log.

Presentation only: figures come from oo_app.hub.experiments and oo_app.hub.mlflow_store; a promotion goes through
oo_app.hub.actions.promote_policy, i.e. oo_app.recommender.policies.promote (what `oo policy promote` calls) plus an audit event naming the operator
(oo_app.audit.hub_operator: the server's word, else OO_HUB_OPERATOR, else ?operator=, else "operator").
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="oO hub · experiments")


@app.cell
def _():
    from datetime import UTC, datetime

    import marimo as mo
    import plotly.express as px

    from oo_app import audit
    from oo_app.db import get_engine
    from oo_app.errors import OOError
    from oo_app.hub import actions, mlflow_store, navigation
    from oo_app.hub import experiments as experiment_queries

    engine = get_engine()
    return OOError, UTC, actions, audit, datetime, engine, experiment_queries, mlflow_store, mo, navigation, px


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("Experiments")), refresh], justify="space-between", align="center")
    return (refresh,)


@app.cell
def _(UTC, datetime, refresh):
    refresh  # a click on "reload" runs every query again
    now = datetime.now(UTC)
    return (now,)


@app.cell
def _(audit, mo):
    operator = audit.hub_operator(mo.app_meta().request, mo.query_params())
    return (operator,)


@app.cell
def _(engine, experiment_queries, mo, now, promotion):
    now, promotion  # the table follows "reload" and a promotion
    policy_table = experiment_queries.policy_table(engine)
    mo.vstack([mo.md("### Policies"), mo.ui.table(policy_table, selection=None)])
    return (policy_table,)


@app.cell
def _(engine, experiment_queries, mo, now, promotion, px):
    now, promotion  # follows "reload" and a promotion
    comparisons = experiment_queries.shadow_comparisons(engine)
    _scores = comparisons.melt(
        id_vars="policy",
        value_vars=["judge_candidate", "judge_incumbent", "agreement_mean"],
        var_name="figure",
        value_name="score",
    )
    _figure = px.bar(_scores, x="policy", y="score", color="figure", barmode="group", title="Online, on shadow pairs")
    _figure.update_layout(template="plotly_white", yaxis_range=[0, 1], xaxis_title=None)
    mo.vstack(
        [
            mo.md(
                "### Shadow candidates against the incumbent\nEach shadow tip is written from the same snippets as a "
                "shown one; `pairs` counts them, the judge scores both, `agreement` is their embedder cosine."
            ),
            mo.vstack([mo.ui.table(comparisons, selection=None), mo.ui.plotly(_figure)])
            if len(comparisons)
            else mo.md("_No shadow candidate runs: add one with `oo policy add NAME --prompt ... --alias ...`._"),
        ]
    )
    return (comparisons,)


@app.cell
def _(mlflow_store, mo, now, px):
    now  # follows "reload"
    bench = mlflow_store.bench_runs()
    if bench.message:
        _shown = mo.callout(mo.md(bench.message), kind="warn")
    else:
        _figure = px.scatter(
            bench.runs,
            x="latency_p50_s",
            y="judge_score_mean",
            color="policy",
            size="tips",
            hover_data=["name", "guardrail_pass_rate", "started"],
            title="Benchmarks: judge score against median latency",
        )
        _figure.update_layout(template="plotly_white")
        _shown = mo.vstack([mo.ui.table(bench.runs, selection=None, page_size=10), mo.ui.plotly(_figure)])
    _experiment = f" ([in MLflow]({bench.experiment_url}))" if bench.experiment_url else ""
    mo.vstack([mo.md(f"### Offline: `oo bench models` runs{_experiment}"), _shown])
    return (bench,)


@app.cell
def _(engine, experiment_queries, mo, now, px):
    now  # follows "reload"
    offpolicy = experiment_queries.offpolicy_estimates(engine)
    if len(offpolicy):
        _estimates = offpolicy.assign(minus=offpolicy["acceptance"] - offpolicy["low"])
        _estimates = _estimates.assign(plus=_estimates["high"] - _estimates["acceptance"])
        _figure = px.scatter(
            _estimates,
            x="policy",
            y="acceptance",
            color="method",
            error_y="plus",
            error_y_minus="minus",
            title="Off-policy: each policy's acceptance estimated from the logged tips (95% intervals)",
        )
        _figure.update_layout(template="plotly_white", yaxis_range=[0, 1], xaxis_title=None)
        _shown = mo.vstack([mo.ui.table(offpolicy, selection=None), mo.ui.plotly(_figure)])
    else:
        _shown = mo.md("_No logged tip with a propensity and a reaction yet._")
    mo.vstack(
        [
            mo.md(
                "### Offline: off-policy estimates\nFrom the shown tips' leads, candidates and propensities: what "
                "each policy's acceptance would have been (IPS and self-normalised IPS). `effective_tips` says how "
                "many tips the estimate really rests on; evidence for a promotion beside the shadow scores."
            ),
            _shown,
        ]
    )
    return (offpolicy,)


@app.cell
def _(mlflow_store, mo, now, px):
    now  # follows "reload"
    simulation = mlflow_store.latest_simulation()
    if simulation.message:
        _shown = mo.callout(mo.md(simulation.message), kind="warn")
    else:
        _figure = px.line(
            simulation.by_day,
            x="day",
            y="acceptance",
            color="policy",
            markers=True,
            title="Simulation: acceptance per simulated day",
        )
        _figure.update_layout(template="plotly_white", yaxis_range=[0, 1])
        _shown = mo.vstack([mo.ui.table(simulation.summary, selection=None), mo.ui.plotly(_figure)])
    _run = f" ([in MLflow]({simulation.url}))" if simulation.url else ""
    mo.vstack([mo.md(f"### Offline: the latest `oo simulate` run{_run}"), _shown])
    return (simulation,)


@app.cell
def _(engine, experiment_queries, mo, now, operator):
    now  # a reload offers the candidates anew
    _candidates = experiment_queries.shadow_comparisons(engine)["policy"].tolist()
    promote_form = mo.ui.dictionary(
        {
            "policy": mo.ui.dropdown(_candidates, label="candidate"),
            "force": mo.ui.checkbox(label="force (promote despite the blockers; recorded)"),
        }
    ).form(submit_button_label="Promote", bordered=True)
    mo.vstack(
        [
            mo.md(
                f"### Promote a candidate\nThe same promotion as `oo policy promote`: refused with its reasons until "
                f"the evidence is there, unless forced. Recorded in the audit log as **{operator}**."
            ),
            promote_form if _candidates else mo.md("_No candidate to promote._"),
        ]
    )
    return (promote_form,)


@app.cell
def _(promote_form):
    promotion_request = promote_form.value
    return (promotion_request,)


@app.cell
def _(OOError, actions, engine, mo, operator, promotion_request):
    promotion = None
    if promotion_request and promotion_request.get("policy"):
        try:
            promotion = actions.promote_policy(
                engine, promotion_request["policy"], actor=operator, force=bool(promotion_request.get("force"))
            )
            _said = mo.callout(mo.md(f"**{promotion.name}** is the incumbent now (by {operator})."), kind="success")
        except OOError as _error:
            _said = mo.callout(str(_error), kind="danger")
    else:
        _said = mo.md("")
    _said
    return (promotion,)


@app.cell
def _(actions, audit, engine, mo, now, promotion):
    now, promotion  # follows "reload" and a promotion
    promotions = actions.audit_log(engine, limit=50, action=audit.PROMOTE_POLICY)
    mo.vstack([mo.md("### Promotions (audit log)"), mo.ui.table(promotions, selection=None, page_size=10)])
    return (promotions,)


if __name__ == "__main__":
    app.run()
