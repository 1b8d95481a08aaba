"""The environment ./scripts/dev and ./scripts/test install: its packages carry their compiled modules, so no process
compiles them again (scripts/_env.sh, docs/adr/0020-compiled-once.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# Large packages that every web worker, agent worker or the hub imports.
IMPORTED_BY_EVERY_PROCESS = ["sqlalchemy.orm.session", "pydantic.main", "reflex.state", "litellm.main", "mlflow"]


@pytest.mark.parametrize("module", IMPORTED_BY_EVERY_PROCESS)
def test_the_installed_packages_carry_their_bytecode(module: str) -> None:
    origin = importlib.util.find_spec(module).origin
    cached = Path(importlib.util.cache_from_source(origin))
    assert cached.is_file(), f"{module} has no compiled module at {cached}: every process would compile it again"
