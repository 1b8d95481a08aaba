"""Development secret files: a key generated once into a git-ignored file when no key is configured.

Used by the token vault (``data/token.key``) and web push (``data/vapid.key``); production refuses to run without
configured keys, so these files exist only on a developer's machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, generate: Callable[[], str], header: str = "") -> tuple[list[str], bool]:
    """The non-comment lines of ``path`` and whether this call created it. A missing file is created atomically
    (``O_EXCL``, mode 0600: of two processes starting at once, one generates and the other reads) holding
    ``generate()``, after ``header`` as a ``#`` comment when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        lines = [line.strip() for line in path.read_text().splitlines()]
        return [line for line in lines if line and not line.startswith("#")], False
    secret = generate()
    with os.fdopen(descriptor, "w") as handle:
        if header:
            handle.write(f"# {header}\n")
        handle.write(secret + "\n")
    return [secret], True
