"""``oo``: the operator command line, a thin adapter over the same domain functions as the app.

Machine-readable results go to stdout (JSON); progress and errors go to stderr; a domain error exits with status 1
and a message, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from oo_app.bootstrap import bootstrap
from oo_app.calendar.cli import calendar
from oo_app.clitools import SettingsChecked, domain_errors
from oo_app.errors import NotFound
from oo_app.evaluation.cli import bench, personas, policy, simulate
from oo_app.integrations.cli import integrations
from oo_app.llm.cli import models
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
        from oo_app.tasks.engine import apply_schema

        click.echo("job queue tables " + ("created" if apply_schema() else "already there"), err=True)


@main.command("seed-demo")
@click.option(
    "--fresh-person",
    "fresh_email",
    metavar="EMAIL",
    default=None,
    help="Instead, create a brand-new person with this email (no history, no consents, first run not answered) and "
    "print it as JSON; an existing email is refused.",
)
@domain_errors
def seed_demo(fresh_email: str | None) -> None:
    """Create the demo person with 90 days of synthetic history, if the database holds nobody yet."""
    from oo_app.db import session_scope
    from oo_app.demo import seed_demo as seed
    from oo_app.settings import get_settings

    if fresh_email is not None:
        from oo_app.demo import seed_fresh_person

        with session_scope() as session:
            person = seed_fresh_person(session, fresh_email)
            body = {
                "created": {"id": person.id, "email": person.email, "tz": person.tz},
                "history": {"events": 0, "task_completions": 0},
                "consents": [],
                "first_run": "not answered: the tip page asks this person first",
            }
        click.echo(json.dumps(body))
        return
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
    from oo_app.recommender.reasons import why_this_tip

    with session_scope() as session:
        tip = mark_shown(session, write_tip(session, user_by_email(session, email)))
        body = tip_body(tip, why_this_tip(session, tip))
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
    from oo_app.ops.logs import configure_logging
    from oo_app.tasks.engine import JobQueueUnavailable, run_worker

    configure_logging()
    try:
        run_worker(concurrency)
    except JobQueueUnavailable as error:
        raise click.ClickException(str(error)) from None


@agents.command("enqueue")
def agents_enqueue() -> None:
    """Queue one job per due (person, agent) on the job queue; print how many."""
    from oo_app.tasks.agent_jobs import enqueue_due
    from oo_app.tasks.engine import JobQueueUnavailable, get_app

    try:
        click.echo(json.dumps({"enqueued": enqueue_due(get_app())}))
    except JobQueueUnavailable as error:
        raise click.ClickException(str(error)) from None


main.add_command(policy)
main.add_command(bench)
main.add_command(simulate)
main.add_command(personas)
main.add_command(integrations)
main.add_command(calendar)
main.add_command(push)
main.add_command(models)


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
    from oo_app.hub.server import HubNotConfigured, check_settings, serve
    from oo_app.loopback import is_loopback
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
