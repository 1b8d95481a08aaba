"""Shared by the ``oo`` command groups: domain errors and invalid settings become a message and exit status 1, never a
stack trace."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
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

    return wrapper  # type: ignore[return-value]


class SettingsChecked(click.Group):
    """A command group whose commands, nested ones included, report invalid ``OO_*`` settings in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as error:
            if error.title != "Settings":
                raise
            raise click.ClickException(settings_problem(error)) from None
