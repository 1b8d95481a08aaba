"""``oo policy``, ``oo bench``, ``oo simulate`` and ``oo personas``: tip policies, the evidence that decides between
them and the synthetic people it is gathered on, as click commands the main CLI registers (:mod:`oo_app.cli`). Same
conventions: JSON on stdout, progress on stderr, a domain error exits with status 1 and a message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from oo_app.clitools import domain_errors


@click.group()
def policy() -> None:
    """Tip policies: the incumbent (shown) and shadow candidates."""


def _policy_row(item: Any) -> dict[str, Any]:
    return {
        "name": item.name,
        "role": str(item.role),
        "prompt_version": item.prompt_version,
        "alias": item.alias,
        "chooser": str(item.chooser),
        "offline_judge_score": item.offline_judge_score,
        "offline_pass_rate": item.offline_pass_rate,
        "promoted_at": item.promoted_at.isoformat() if item.promoted_at else None,
        "promoted_by": item.promoted_by,
    }


@policy.command("list")
def policy_list() -> None:
    """Print every policy as JSON, the incumbent first."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import all_policies

    with session_scope() as session:
        click.echo(json.dumps([_policy_row(item) for item in all_policies(session)], indent=2))


@policy.command("add")
@click.argument("name")
@click.option("--prompt", "prompt_version", required=True, help="Orchestrator prompt version, e.g. orchestrator-v2.")
@click.option("--alias", required=True, help="The alias that writes its tips (configured in OO_LLM_ALIASES).")
@click.option(
    "--chooser",
    type=click.Choice(["thompson", "composer-order"]),
    default="thompson",
    show_default=True,
    help="How it chooses a tip's lead: learning on (thompson) or off (composer-order); a chooser other than the "
    "incumbent's is also judged off-policy from the incumbent's logged tips before a promotion.",
)
@domain_errors
def policy_add(name: str, prompt_version: str, alias: str, chooser: str) -> None:
    """Register a shadow candidate: it writes beside every shown tip, never shown itself."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import add_candidate

    with session_scope() as session:
        click.echo(json.dumps(_policy_row(add_candidate(session, name, prompt_version, alias, chooser))))


@policy.command("report")
@click.argument("name")
@domain_errors
def policy_report(name: str) -> None:
    """Print how a candidate compares with the incumbent (offline and online) and what blocks its promotion."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import promotion_blockers, shadow_report

    with session_scope() as session:
        report = shadow_report(session, name)
        click.echo(json.dumps({**report.as_dict(), "blockers": promotion_blockers(report)}, indent=2))


@policy.command("promote")
@click.argument("name")
@click.option("--by", "actor", required=True, help="Who promotes (kept on the policy).")
@click.option("--force", is_flag=True, help="Promote despite missing or worse evidence (logged).")
@domain_errors
def policy_promote(name: str, actor: str, force: bool) -> None:
    """Make a shadow candidate the incumbent; the old incumbent retires."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import promote

    with session_scope() as session:
        click.echo(json.dumps(_policy_row(promote(session, name, actor=actor, force=force))))


@policy.command("retire")
@click.argument("name")
@domain_errors
def policy_retire(name: str) -> None:
    """Stop a shadow candidate (its tips stay in the log)."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import retire

    with session_scope() as session:
        click.echo(json.dumps(_policy_row(retire(session, name))))


personas_option = click.option(
    "--personas",
    "personas_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of persona-*.json histories (default: tests/personas, a copy of the sample personas).",
)


@click.group()
def bench() -> None:
    """Offline benchmarks, logged to MLflow."""


@bench.command("models")
@click.option("--policy", "names", multiple=True, help="A policy to run (repeatable); default: incumbent and shadows.")
@personas_option
@click.option("--per-day", type=click.IntRange(1, 24), default=4, show_default=True, help="Moments per persona.")
@click.option("--no-reference", is_flag=True, help="Leave out the composer-only reference policy 'rules'.")
@click.option("--no-mlflow", is_flag=True, help="Print the figures only; log no MLflow run.")
@domain_errors
def bench_models(
    names: tuple[str, ...], personas_dir: Path | None, per_day: int, no_reference: bool, no_mlflow: bool
) -> None:
    """Run the personas through each policy (prompt + alias): latency, tokens, guardrail pass rate, judge score."""
    from oo_app.db import session_scope
    from oo_app.evaluation import bench as runner
    from oo_app.recommender.policies import get_policy, incumbent, record_offline, shadow_policies
    from oo_app.settings import get_settings

    with session_scope() as session:
        chosen = [get_policy(session, name) for name in names] or [incumbent(session), *shadow_policies(session)]
    aliases = get_settings().alias_table
    if not no_reference and runner.REFERENCE.alias in aliases and all(p.name != runner.REFERENCE.name for p in chosen):
        chosen.append(runner.REFERENCE)
    moments = runner.load_moments(personas_dir or runner.DEFAULT_PERSONAS, per_day)
    benches = []
    for item in chosen:
        click.echo(f"{item.name}: {len(moments)} tips via {item.alias} ({item.prompt_version})", err=True)
        benches.append(runner.bench_policy(item, moments) if no_mlflow else runner.run_logged(item, moments))
    with session_scope() as session:
        for result in benches:
            if result.policy is not runner.REFERENCE and "judge_score_mean" in result.metrics():
                record_offline(
                    session,
                    result.policy.name,
                    judge_score=result.metrics()["judge_score_mean"],
                    pass_rate=result.metrics()["guardrail_pass_rate"],
                    run_id=result.run_id,
                )
    click.echo(json.dumps(runner.summary(benches), indent=2))


@click.command()
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
@personas_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--policy", "names", multiple=True, help="A policy to simulate (repeatable); default: the incumbent.")
@click.option("--no-mlflow", is_flag=True, help="Print the figures only; log no MLflow run.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes sharing the runs.")
@click.option(
    "--writer",
    type=click.Choice(["rules", "configured"]),
    default="rules",
    show_default=True,
    help="Who writes the tips: the rule-based composer (the issue's goals are measured with it), or the configured "
    "tip writer (OO_TIP_WRITER, OO_LLM_ALIASES).",
)
@click.option(
    "--prior",
    is_flag=True,
    help="Start each person's learner from the population prior of the persons of the same policy simulated before "
    "them (default: from nothing, as the personas' tastes are drawn apart).",
)
@domain_errors
def simulate(
    days: int,
    personas_dir: Path | None,
    seed: int,
    names: tuple[str, ...],
    no_mlflow: bool,
    workers: int,
    writer: str,
    prior: bool,
) -> None:
    """Simulated persons react to each policy's tips for DAYS days, beside the baselines no-learning, random-agent and
    oracle: acceptance (overall and over the last 10 days), quiet-hours tips and the off-policy check (a table on
    stderr, JSON on stdout, its last line). Runs in a temporary database, with the rules writer unless --writer
    configured and without per-tip tracing whatever OO_TRACING_ENABLED says; logs the report as a run of MLflow's
    oo-simulation unless --no-mlflow."""
    import time

    from oo_app.db import session_scope
    from oo_app.evaluation.bench import DEFAULT_PERSONAS
    from oo_app.evaluation.simulation import simulate as run
    from oo_app.evaluation.simulation_report import log_report
    from oo_app.recommender import recommend
    from oo_app.recommender.policies import get_policy, incumbent

    with session_scope() as session:
        chosen = [get_policy(session, name) for name in names] or [incumbent(session)]
    writers = {
        ("incumbent" if not names else item.name): (
            lambda session, user, now, item=item: recommend(session, user, now, policy=item)
        )
        for item in chosen
    }
    personas = sorted((personas_dir or DEFAULT_PERSONAS).glob("persona-*.json"))
    if not personas:
        raise click.UsageError("no persona-*.json in the personas folder")
    started = time.perf_counter()
    report = run(personas, days=days, policies=writers, seed=seed, workers=workers, writer=writer, prior=prior)
    seconds = time.perf_counter() - started
    click.echo(report.table(), err=True)
    click.echo(f"{seconds:.1f} s", err=True)
    data = {**report.as_dict(), "seconds": round(seconds, 1)}
    if not no_mlflow:
        data["mlflow_run_id"] = log_report(report, seconds)
    click.echo(json.dumps(data))


@click.group()
def personas() -> None:
    """Synthetic personas: people with planted habits and hidden tastes, to check oO on people nobody tuned it on."""


@personas.command("generate")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--count", type=click.IntRange(1, 999), default=21, show_default=True, help="How many personas.")
@click.option("--seed", type=int, default=1, show_default=True, help="The set: the same seed writes the same files.")
@domain_errors
def personas_generate(folder: Path, count: int, seed: int) -> None:
    """Write COUNT personas persona-SEED-NN.json into DIR (created when missing) in the shared persona format, truth
    and hidden tastes included; one in seven is a cold start. Prints the paths as JSON."""
    from oo_app.evaluation.persona_set import write_persona_set

    try:
        paths = write_persona_set(folder, count=count, seed=seed)
    except OSError as error:
        raise click.ClickException(f"cannot write the personas into {folder}: {error.strerror or error}") from None
    click.echo(f"{len(paths)} personas in {folder}", err=True)
    click.echo(json.dumps({"seed": seed, "personas": [str(path) for path in paths]}))
