"""``oo``: the operator command line, a thin adapter over the same domain functions as the app.

Machine-readable results go to stdout (JSON); progress and errors go to stderr; a domain error exits with status 1
and a message, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from oo_app.bootstrap import bootstrap
from oo_app.clitools import SettingsChecked, domain_errors
from oo_app.errors import NotFound
from oo_app.integrations.cli import integrations
from oo_app.push.cli import push

BACKGROUND_GRACE_S = 120.0  # how long `oo recommend` waits for the work its tip started (a local model writes slowly)


@click.group(cls=SettingsChecked)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """oO operator commands."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    bootstrap()


@main.command()
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str) -> None:
    """Apply the Alembic migrations to the configured database."""
    from oo_app.db import migrate as run_migrations
    from oo_app.settings import get_settings

    run_migrations(revision=revision)
    click.echo(f"database at {revision}", err=True)
    if get_settings().task_engine == "procrastinate":
        from agents.jobs import apply_schema

        click.echo("job queue tables " + ("created" if apply_schema() else "already there"), err=True)


@main.command("seed-demo")
def seed_demo() -> None:
    """Create the demo person with 90 days of synthetic history, if the database holds nobody yet."""
    from oo_app.db import session_scope
    from oo_app.demo import seed_demo as seed
    from oo_app.settings import get_settings

    with session_scope() as session:
        user = seed(session, get_settings().demo_email)
        message = f"seeded {user.email}" if user else "database already has people; nothing seeded"
    click.echo(message, err=True)


@main.command()
@click.option("--user", "email", required=True, help="Email of the person.")
@domain_errors
def recommend(email: str) -> None:
    """Write the next tip for a person and print {"tip": {...}} as the API returns it."""
    from oo_app.api import tip_body
    from oo_app.auth.users import user_by_email
    from oo_app.db import session_scope
    from oo_app.recommender import mark_shown
    from oo_app.recommender import recommend as write_tip
    from oo_app.recommender.background import drain_all

    with session_scope() as session:
        tip = mark_shown(session, write_tip(session, user_by_email(session, email)))
        body = tip_body(tip)
    click.echo(json.dumps(body))
    # Committing the shown tip started background work (a tip written ahead, a shadow): let it end before the
    # interpreter shuts executors down, which LiteLLM would otherwise log as errors.
    if not drain_all(BACKGROUND_GRACE_S):
        click.echo(f"background work still running after {BACKGROUND_GRACE_S:g} s; exiting when it ends", err=True)


@main.group()
def agents() -> None:
    """Agent registry and runs."""


@agents.command("list")
def agents_list() -> None:
    """Print the registry's manifests as JSON."""
    from agents.registry import registry

    click.echo(json.dumps([agent.manifest.public() for agent in registry().values()], indent=2))


@agents.command("infer")
@click.option("--history", "history_file", required=True, type=click.File("r"), help="A persona-format JSON file.")
@domain_errors
def agents_infer(history_file: Any) -> None:
    """Infer every agent's parameters from a history file; print {agent_id: {param: value}} on stdout."""
    from agents.base import UserHistory
    from agents.inference import infer_all

    try:
        data = json.load(history_file)
        history = UserHistory.from_mapping(data)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise click.ClickException(f"{history_file.name} is not a history in the persona format: {error}") from None
    click.echo(json.dumps(infer_all(history), sort_keys=True))


@agents.command("run")
@click.option("--user", "who", default=None, help="One person, by id or email.")
@click.option("--all", "everyone", is_flag=True, help="Every person.")
@domain_errors
def agents_run(who: str | None, everyone: bool) -> None:
    """Compute the due (person, agent) outputs now, with a progress bar on stderr."""
    from sqlmodel import select

    from agents.runner import run_due
    from oo_app.auth.users import user_by_email
    from oo_app.db import session_scope
    from oo_app.models import User

    if bool(who) == everyone:
        raise click.UsageError("give either --user ID_OR_EMAIL or --all")
    with session_scope() as session:
        if everyone:
            user_ids = list(session.exec(select(User.id).order_by(User.id)))
        elif who.isdigit():
            if session.get(User, int(who)) is None:
                raise NotFound(f"no person with the id {who}")
            user_ids = [int(who)]
        else:
            user_ids = [user_by_email(session, who).id]
    written: list[str] = []
    with click.progressbar(user_ids, label="agents", file=sys.stderr) as bar:
        for user_id in bar:
            with session_scope() as session:
                written.extend(output.agent_id for output in run_due(session, user_ids=[user_id]))
    click.echo(json.dumps({"persons": len(user_ids), "outputs": len(written), "agents": sorted(set(written))}))


@main.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Jobs at once (OO_WORKER_CONCURRENCY).")
def worker(concurrency: int | None) -> None:
    """Run an agent worker on the procrastinate job queue (PostgreSQL) until SIGINT or SIGTERM."""
    from agents.jobs import JobQueueUnavailable, run_worker
    from oo_app.ops.logs import configure_logging

    configure_logging()
    try:
        run_worker(concurrency)
    except JobQueueUnavailable as error:
        raise click.ClickException(str(error)) from None


@agents.command("enqueue")
def agents_enqueue() -> None:
    """Queue one job per due (person, agent) on the job queue; print how many."""
    from agents.jobs import JobQueueUnavailable, enqueue_due

    try:
        click.echo(json.dumps({"enqueued": enqueue_due()}))
    except JobQueueUnavailable as error:
        raise click.ClickException(str(error)) from None


@main.group()
def policy() -> None:
    """Tip policies: the incumbent (shown) and shadow candidates."""


def _policy_row(item: Any) -> dict[str, Any]:
    return {
        "name": item.name,
        "role": str(item.role),
        "prompt_version": item.prompt_version,
        "alias": item.alias,
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
@domain_errors
def policy_add(name: str, prompt_version: str, alias: str) -> None:
    """Register a shadow candidate: it writes beside every shown tip, never shown itself."""
    from oo_app.db import session_scope
    from oo_app.recommender.policies import add_candidate

    with session_scope() as session:
        click.echo(json.dumps(_policy_row(add_candidate(session, name, prompt_version, alias))))


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


@main.group()
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


@main.command()
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
@personas_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--policy", "names", multiple=True, help="A policy to simulate (repeatable); default: the incumbent.")
@domain_errors
def simulate(days: int, personas_dir: Path | None, seed: int, names: tuple[str, ...]) -> None:
    """Simulated persons react to each policy's tips for DAYS days, beside the random-agent baseline: acceptance and
    quiet-hours tips (a table on stderr, JSON on stdout). Runs in a temporary database."""
    from oo_app.db import session_scope
    from oo_app.evaluation.bench import DEFAULT_PERSONAS
    from oo_app.evaluation.simulation import simulate as run
    from oo_app.recommender import recommend
    from oo_app.recommender.policies import get_policy, incumbent

    with session_scope() as session:
        chosen = [get_policy(session, name) for name in names] or [incumbent(session)]
    writers = {
        item.name: (lambda session, user, now, item=item: recommend(session, user, now, policy=item)) for item in chosen
    }
    personas = sorted((personas_dir or DEFAULT_PERSONAS).glob("persona-*.json"))
    if not personas:
        raise click.UsageError("no persona-*.json in the personas folder")
    report = run(personas, days=days, policies=writers, seed=seed)
    click.echo(report.table(), err=True)
    click.echo(json.dumps(report.as_dict()))


main.add_command(integrations)
main.add_command(push)


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would be deleted, per table; delete nothing.")
def purge(dry_run: bool) -> None:
    """Apply the retention periods (OO_RETENTION_*): delete old rows, finished jobs and traces in bounded batches.

    Prints {"counts": {table: rows}, ...} (in a dry run: what would go); exits 1 when a part failed."""
    from oo_app.retention import purge as apply_retention

    report = apply_retention(dry_run=dry_run)
    for name, count in report.counts.items():
        click.echo(f"{name}: {count} {'would be deleted' if dry_run else 'deleted'}", err=True)
    for name, why in report.skipped.items():
        click.echo(f"{name}: skipped ({why})", err=True)
    click.echo(json.dumps(report.as_dict()))
    if report.failed:
        raise click.ClickException("not purged: " + "; ".join(f"{name}: {why}" for name, why in report.failed.items()))


@main.group()
def privacy() -> None:
    """Personal data: finishing account deletions."""


@privacy.command("finish-deletions")
def privacy_finish_deletions() -> None:
    """Delete the MLflow traces of deleted accounts whose trace store did not answer at the time.

    Prints {"finished": [ids], "pending": [ids], "error": ...}; exits 1 while some remain pending."""
    from dataclasses import asdict

    from oo_app.db import session_scope
    from oo_app.profile.deletion import finish_deletions

    with session_scope() as session:
        report = finish_deletions(session)
    click.echo(json.dumps(asdict(report)))
    if report.pending:
        raise click.ClickException(f"{len(report.pending)} deletions still pending: {report.error}")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default OO_HUB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default OO_HUB_PORT, 2718).")
@click.pass_context
def hub(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve every notebook of admin_notebooks/ read-only behind the operators' password (OO_HUB_PASSWORD).

    Listens on loopback unless --host names another address on this command line.
    """
    from oo_app.db import pending_migrations
    from oo_app.hub.server import HubNotConfigured, check_settings, is_loopback, serve
    from oo_app.ops.logs import configure_logging
    from oo_app.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    host = host or settings.hub_host
    port = port or settings.hub_port
    explicit = ctx.get_parameter_source("host") == click.core.ParameterSource.COMMANDLINE
    if not is_loopback(host) and not explicit:
        raise click.ClickException(
            f"OO_HUB_HOST={host} is not a loopback address; the hub serves on 127.0.0.1 unless you pass --host {host}"
        )
    try:
        check_settings(settings)
    except HubNotConfigured as error:
        raise click.ClickException(str(error)) from None
    pending = pending_migrations()
    if pending:
        raise click.ClickException(f"the database lacks the migrations {', '.join(pending)}: run `oo migrate` first")
    if not is_loopback(host):
        click.echo(f"warning: the hub listens on {host}, beyond this machine; put TLS in front of it", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"oO hub: http://{shown}:{port}/ (log in with OO_HUB_PASSWORD)", err=True)
    serve(settings, host, port)


if __name__ == "__main__":
    main()
