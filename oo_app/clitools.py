"""Shared by the ``oo`` command groups: domain errors become a message and exit status 1, never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from oo_app.errors import OOError

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(command: F) -> F:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OOError as error:
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]
