"""The tracked ``reflex.lock/package.json`` is byte for byte what Reflex renders from it, so a build leaves the tree
clean. Reflex renders it on one line when it lays out ``.web``; bun rewrites it indented when a dependency changes;
a build copies ``.web``'s back over the tracked one. Committing bun's form once (as happened) dirtied every
newcomer's first run; ``scripts/dev`` has Reflex render ``.web``'s afresh, so an old ``.web`` does not either."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from reflex.utils import frontend_skeleton

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_JSON = ROOT / "reflex.lock" / "package.json"


def test_the_tracked_package_json_is_what_reflex_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # Reflex reads reflex.lock/ under the working directory
    rendered = frontend_skeleton._compile_package_json()  # what laying out .web writes, and a build copies back

    assert PACKAGE_JSON.read_text() == rendered, (
        "reflex.lock/package.json is not Reflex's rendering of itself (bun's indented form?): a build rewrites it. "
        "Write the rendering: python -c 'from reflex.utils import frontend_skeleton as f; "
        'print(f._compile_package_json(), end="")\' > reflex.lock/package.json'
    )


def test_scripts_dev_has_reflex_render_the_web_package_json_afresh() -> None:
    script = (ROOT / "scripts" / "dev").read_text()
    assert "rm -f .web/package.json" in script.split("exec reflex run")[0]


def test_both_lock_files_are_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "reflex.lock"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == ["reflex.lock/bun.lock", "reflex.lock/package.json"], "bun installs strictly from the pair"
