"""``oo``: the operator command line, a thin adapter over the same domain functions as the app.

Machine-readable results go to stdout (JSON); progress and errors go to stderr; a domain error exits with status 1
and a message, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from oo_app.errors import NotFound, OOError

F = TypeVar("F", bound=Callable[..., Any])


def _domain_errors(command: F) -> F:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OOError as error:
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """oO operator commands."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)


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
@_domain_errors
def recommend(email: str) -> None:
    """Write the next tip for a person and print {"tip": {...}} as the API returns it."""
    from oo_app.api import tip_body
    from oo_app.db import session_scope
    from oo_app.recommender import mark_shown
    from oo_app.recommender import recommend as write_tip
    from oo_app.users import user_by_email

    with session_scope() as session:
        tip = mark_shown(session, write_tip(session, user_by_email(session, email)))
        body = tip_body(tip)
    click.echo(json.dumps(body))


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
@_domain_errors
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
@_domain_errors
def agents_run(who: str | None, everyone: bool) -> None:
    """Compute the due (person, agent) outputs now, with a progress bar on stderr."""
    from sqlmodel import select

    from agents.runner import run_due
    from oo_app.db import session_scope
    from oo_app.models import User
    from oo_app.users import user_by_email

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

    logging.getLogger().setLevel(logging.INFO)
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


if __name__ == "__main__":
    main()
