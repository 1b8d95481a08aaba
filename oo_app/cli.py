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

from oo_app.errors import OOError

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

    run_migrations(revision=revision)
    click.echo(f"database at {revision}", err=True)


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


@agents.command("run")
@click.option("--user", "email", default=None, help="Only this person (email); default: everyone.")
@_domain_errors
def agents_run(email: str | None) -> None:
    """Compute every due (person, agent) output now."""
    from agents.runner import run_due
    from oo_app.db import session_scope
    from oo_app.users import user_by_email

    with session_scope() as session:
        user_ids = [user_by_email(session, email).id] if email else None
        written = run_due(session, user_ids=user_ids)
        click.echo(json.dumps({"outputs": len(written), "agents": sorted({o.agent_id for o in written})}))


if __name__ == "__main__":
    main()
