"""``oo push``: VAPID keys, a delivery round on demand and the state of push, as a click group the main CLI registers.

Results go to stdout (env lines or JSON); a domain error exits with status 1 and its message, never a stack trace
or a key (``generate-vapid`` prints a new private key on purpose: it is for your secret store).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from oo_app.clitools import domain_errors


@click.group("push")
def push() -> None:
    """Web push: VAPID keys and delivery rounds."""


@push.command("generate-vapid")
@click.option("--subject", default="mailto:ops@example.com", show_default=True, help="Your contact for push services.")
def generate_vapid(subject: str) -> None:
    """Print a new VAPID key pair as environment lines (keep OO_VAPID_PRIVATE_KEY secret).

    Changing the key of a running deployment orphans every subscription: browsers must subscribe again.
    """
    from oo_app.push.keys import generate_private_key, public_key_of, raw_private_key

    key = generate_private_key()
    click.echo(f"OO_VAPID_PRIVATE_KEY={raw_private_key(key)}")
    click.echo(f"OO_VAPID_SUBJECT={subject}")
    click.echo(f"# public key (applicationServerKey, served at GET /api/push/key): {public_key_of(key)}")


@push.command("deliver")
@click.option("--at", "at", default=None, help="The round's moment (ISO 8601; default: now).")
@domain_errors
def deliver(at: str | None) -> None:
    """Run one delivery round now (or --at a moment) and print what happened, as JSON."""
    from oo_app.clock import as_utc
    from oo_app.push.delivery import deliver_due

    try:
        now = as_utc(at) if at else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 moment", param_hint="--at") from None
    report = deliver_due(now=now)
    click.echo(json.dumps(report.as_dict(), indent=2))
    click.echo(f"{len(report.sent)} of {report.persons} subscribed person(s) got a push", err=True)


@push.command("status")
@domain_errors
def status() -> None:
    """Print whether push is configured (its public key and subject), the subscriptions, the last day's pushes."""
    from oo_app.db import session_scope
    from oo_app.push.delivery import push_status
    from oo_app.push.errors import PushNotConfigured
    from oo_app.push.keys import load_vapid

    try:
        keys = load_vapid()
        configured = {"configured": True, "public_key": keys.public_key, "subject": keys.subject}
    except PushNotConfigured as error:
        configured = {"configured": False, "problem": str(error)}
    with session_scope() as session:
        state = push_status(session, datetime.now(UTC))
    click.echo(json.dumps(configured | state, indent=2))
