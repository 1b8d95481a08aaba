"""People: look up one person by email or id, see what the settings page shows them (never a token), their consents,
latest tips and agent outputs, and recompute their due agents.

Presentation only: the person comes from oo_app.hub.people.find_person (oo_app.profile.overview.profile_of);
the recompute goes through oo_app.hub.actions.recompute_person, i.e. agents.runner.run_due (what `oo agents run
--user` calls) plus an audit event naming the operator (oo_app.audit.hub_operator) and the person by id only.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="oO hub · people")


@app.cell
def _():
    from datetime import UTC, datetime

    import marimo as mo
    import pandas as pd

    from oo_app import audit
    from oo_app.db import get_engine
    from oo_app.errors import NotFound
    from oo_app.hub import actions, navigation
    from oo_app.hub import people as people_queries

    engine = get_engine()
    return NotFound, UTC, actions, audit, datetime, engine, mo, navigation, pd, people_queries


@app.cell
def _(mo, navigation):
    refresh = mo.ui.refresh(label="reload")
    mo.hstack([mo.md(navigation.notebook_heading("People")), refresh], justify="space-between", align="center")
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
def _(mo):
    who_box = mo.ui.text(placeholder="email or id", label="person", debounce=False)
    who_box
    return (who_box,)


@app.cell
def _(who_box):
    who = who_box.value.strip()
    return (who,)


@app.cell
def _(NotFound, engine, mo, now, people_queries, who):
    card = None
    if who:
        try:
            card = people_queries.find_person(engine, who, now=now)
        except NotFound as _error:
            _said = mo.callout(str(_error), kind="warn")
    if card is not None:
        _person = card.profile.person
        _said = mo.md(
            f"## {_person.email} (id {_person.id})\n{_person.display_name or 'no display name'} · zone {_person.tz}"
            f" · role {_person.role} · since {_person.created_at:%Y-%m-%d}"
        )
    elif not who:
        _said = mo.md("_Type an email or an id._")
    _said
    return (card,)


@app.cell
def _(card, mo, pd):
    mo.stop(card is None)
    _consents = pd.DataFrame(
        [(c.key, c.granted, c.agreed_version, c.at, ", ".join(c.agents)) for c in card.profile.consents],
        columns=["consent", "granted", "agreed version", "at", "agents that need it"],
    )
    _contexts = pd.DataFrame([(c.name, c.active) for c in card.profile.contexts], columns=["context", "active"])
    _integrations = pd.DataFrame(
        [(i.provider, i.status, i.scopes, i.connected_since) for i in card.profile.integrations],
        columns=["integration", "status", "scopes", "connected since"],
    )
    mo.vstack(
        [
            mo.md("### Signals (how each reaches their tips now)"),
            mo.ui.table(card.signals, selection=None, wrapped_columns=["detail"]),
            mo.md("### Consents"),
            mo.ui.table(_consents, selection=None),
            mo.hstack([mo.ui.table(_contexts, selection=None), mo.ui.table(_integrations, selection=None)]),
        ]
    )
    return


@app.cell
def _(card, mo, pd):
    mo.stop(card is None)
    _prefs = pd.DataFrame(
        [
            (scope.scope, scope.enabled, p.key, p.value, p.source, p.inferred)
            for scope in card.profile.prefs
            for p in scope.params
        ],
        columns=["scope", "enabled", "parameter", "value", "source", "inferred"],
    )
    mo.vstack(
        [mo.md("### Parameters (the person's values beside the learned ones)"), mo.ui.table(_prefs, selection=None)]
    )
    return


@app.cell
def _(card, mo):
    mo.stop(card is None)
    mo.vstack(
        [
            mo.md("### Latest tips"),
            mo.ui.table(card.tips, selection=None, page_size=10, wrapped_columns=["text"]),
            mo.md("### Newest output per agent"),
            mo.ui.table(card.outputs, selection=None, wrapped_columns=["snippet"]),
        ]
    )
    return


@app.cell
def _(card, mo, operator):
    mo.stop(card is None)
    recompute_button = mo.ui.run_button(label="Recompute due agents", kind="warn")
    mo.vstack(
        [
            mo.md(
                "### Recompute\nRuns this person's due agents now, as `oo agents run --user` does; recorded in the "
                f"audit log as **{operator}**."
            ),
            recompute_button,
        ]
    )
    return (recompute_button,)


@app.cell
def _(recompute_button):
    recompute_requested = recompute_button.value
    return (recompute_requested,)


@app.cell
def _(actions, card, engine, mo, operator, people_queries, recompute_requested):
    recomputed = None
    if recompute_requested and card is not None:
        recomputed = actions.recompute_person(engine, card.profile.person.id, actor=operator)
        _after = people_queries.find_person(engine, str(card.profile.person.id)).outputs
        _said = mo.vstack(
            [
                mo.callout(
                    mo.md(f"Recomputed: {', '.join(recomputed) or 'nothing was due'}."),
                    kind="success",
                ),
                mo.ui.table(_after, selection=None, wrapped_columns=["snippet"]),
            ]
        )
    else:
        _said = mo.md("")
    _said
    return (recomputed,)


@app.cell
def _(actions, audit, card, engine, mo, recomputed):
    mo.stop(card is None)
    recomputed  # follows a recompute
    _actions = actions.audit_log(engine, limit=20, target=audit.person_target(card.profile.person.id))
    mo.vstack([mo.md("### Operator actions on this person"), mo.ui.table(_actions, selection=None)])
    return


if __name__ == "__main__":
    app.run()
