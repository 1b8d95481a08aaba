"""``oo calendar``: calendar syncs on demand, as a click group the main CLI registers.

Results go to stdout as JSON; a domain error exits with status 1 and its message, never a stack trace, an address or
a password.
"""

from __future__ import annotations

import json

import click

from oo_app.clitools import domain_errors


@click.group("calendar")
def calendar() -> None:
    """Connected calendars (CalDAV, Google, ICS addresses)."""


@calendar.command("sync")
@click.option("--email", default=None, help="Sync this person's calendars now; without it, one round of due ones.")
@domain_errors
def sync(email: str | None) -> None:
    """Read connected calendars now and store their days: one person's (every calendar), else a round of those due."""
    from oo_app.db import session_scope

    if email is None:
        from oo_app.calendar.jobs import sync_due

        click.echo(json.dumps({"synced": sync_due()}))
        return
    from oo_app.auth.users import user_by_email
    from oo_app.calendar import access
    from oo_app.calendar import sync as calendar_sync

    with session_scope() as session:
        user = user_by_email(session, email)
        kinds = [integration.provider for integration in access.calendar_integrations(session, user.id)]
        reports = [calendar_sync.sync(session, user, kind).as_dict() for kind in kinds]
    click.echo(json.dumps({"calendars": reports}))
