"""``oo integrations``: the token vault's keys and on-demand syncs, as a click group the main CLI registers.

Results go to stdout as JSON; a domain error exits with status 1 and its message, never a stack trace or a token.
"""

from __future__ import annotations

import json

import click

from oo_app.clitools import domain_errors


@click.group("integrations")
def integrations() -> None:
    """Third-party integrations: the token vault and Todoist."""


@integrations.command("rotate-keys")
@domain_errors
def rotate_keys() -> None:
    """Re-encrypt every stored token with the newest key of OO_TOKEN_KEYS, in one transaction.

    To change keys: put the new key first in OO_TOKEN_KEYS (keep the old ones after it), run this, then drop the old
    keys. Running it again changes nothing.
    """
    from oo_app.db import session_scope
    from oo_app.integrations.vault import rotate

    with session_scope() as session:
        report = rotate(session)
    click.echo(json.dumps(report.as_dict()))
    click.echo(f"{report.rotated} token(s) re-encrypted, {report.current} already under the newest key", err=True)


@integrations.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for OO_TOKEN_KEYS (put it first to make it the key that encrypts)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode("ascii"))


@integrations.command("sync")
@click.option("--user", "email", required=True, help="Email of the person.")
@domain_errors
def sync(email: str) -> None:
    """Fetch a person's completed Todoist tasks now and store their derivatives; prints the sync report."""
    from oo_app.auth.users import user_by_email
    from oo_app.db import session_scope
    from oo_app.integrations import todoist

    with session_scope() as session:
        report = todoist.sync(session, user_by_email(session, email))
    click.echo(json.dumps(report.as_dict()))
