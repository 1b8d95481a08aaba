"""Shared by the ``oo`` command groups: domain errors, invalid settings, a database that is not migrated or does not
answer become a message and exit status 1, never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from pydantic import ValidationError

from oo_app.errors import OOError
from oo_app.settings import settings_problem

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(command: F) -> F:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OOError as error:
            raise click.ClickException(str(error)) from None
        except sa.exc.DBAPIError as error:
            raise click.ClickException(database_problem(error)) from error

    return wrapper  # type: ignore[return-value]


def database_problem(error: sa.exc.DBAPIError) -> str:
    """What to do about a database error a command met: migrate, or bring the database up; else what it said."""
    from oo_app.db import is_unavailable, pending_migrations
    from oo_app.settings import get_settings

    if is_unavailable(error):
        return f"the database does not answer ({type(error.orig).__name__}); start it, or check OO_DATABASE_URL"
    try:
        missing = pending_migrations()
    except sa.exc.SQLAlchemyError:
        missing = []
    if missing:
        where = sa.make_url(get_settings().database_url).render_as_string(hide_password=True)
        return f"the database {where} lacks {len(missing)} migration(s): run `oo migrate` first (./scripts/dev does)"
    return f"the database refused the command ({type(error.orig).__name__})"


class SettingsChecked(click.Group):
    """A command group whose commands, nested ones included, report invalid ``OO_*`` settings in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as error:
            if error.title != "Settings":
                raise
            raise click.ClickException(settings_problem(error)) from None
