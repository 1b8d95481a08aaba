"""The page's production build, made by the first page server of a run and served as it is by the next ones.

``reflex run --env prod`` compiles and builds the page each time it starts (about 15 s), into the checkout's web
directory. The build depends on the sources and on the port: Reflex writes the backend's URL, port included, into the
page. So a server that builds records what it built for (:func:`record_build`); a later server of this checkout may
serve that build, on the same port, when :func:`reusable_port` finds the sources unchanged, the build untouched since
(a developer's own ``reflex run`` rebuilds it) and the port free; otherwise it builds again, on
:func:`port_to_build_for`. Serving without building is ``reflex run`` minus those two steps (tests/reflex_prebuilt.py).
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a build is made of: the app's code and assets, its configuration, the frontend's locked packages (package.json
# there is rewritten by every build, from the rest), and Reflex itself.
SOURCES = ("oo_app", "agents", "assets", "rxconfig.py", "reflex.lock", "pyproject.toml")
REWRITTEN_BY_BUILDS = {"reflex.lock/package.json"}
STAMP = "oo-suite-build.json"  # in the web directory, which git ignores


def web_dir(env: dict[str, str]) -> Path:
    """The web directory Reflex builds into for a server started from the checkout with ``env``."""
    return ROOT / env.get("REFLEX_WEB_WORKDIR", ".web")


@lru_cache
def sources_digest() -> str | None:
    """A digest of the files a build is made of (tracked or not, unless git ignores them), once per process: a test
    run does not edit the app. None outside a git checkout: then no build is reused."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    digest = hashlib.sha256(f"reflex {version('reflex')}\n".encode())
    for name in sorted({name for name in listed.decode().split("\0") if name} - REWRITTEN_BY_BUILDS):
        path = ROOT / name
        if path.is_file():  # listed but deleted in the work tree: no longer a source
            digest.update(f"{name}\n".encode() + path.read_bytes() + b"\n")
    return digest.hexdigest()


def _build_marker(web: Path) -> str | None:
    """What the build in ``web`` is as it lies on disk now: its settings for the page (backend URLs) and when its
    page was written. None when there is no build."""
    settings, page = web / "env.json", web / "build" / "client" / "index.html"
    if not settings.is_file() or not page.is_file():
        return None
    written = page.stat()
    return hashlib.sha256(settings.read_bytes() + f"{written.st_mtime_ns} {written.st_size}".encode()).hexdigest()


def _recorded(web: Path) -> dict[str, object]:
    try:
        recorded = json.loads((web / STAMP).read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def port_is_free(port: int) -> bool:
    """Whether a server could listen on loopback ``port`` now (binding as servers do, past a stopped one's port)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def reusable_port(web: Path) -> int | None:
    """The port the build in ``web`` was made for, when a server can serve it as it is on that port now; else None."""
    recorded = _recorded(web)
    port = recorded.get("port")
    fits = (
        isinstance(port, int)
        and sources_digest() is not None
        and recorded.get("sources") == sources_digest()
        and recorded.get("build") == _build_marker(web)
    )
    return port if fits and isinstance(port, int) and port_is_free(port) else None


def port_to_build_for(web: Path, free_port: int) -> int:
    """The port to build for: the recorded one while it is free (a later run may reuse the build), else ``free_port``.
    Forgets the recorded build, which building replaces."""
    port = _recorded(web).get("port")
    (web / STAMP).unlink(missing_ok=True)
    return port if isinstance(port, int) and port_is_free(port) else free_port


def record_build(web: Path, port: int) -> None:
    """Note that the build now in ``web`` was made from the current sources for ``port``."""
    if sources_digest() is not None and _build_marker(web) is not None:
        stamp = {"sources": sources_digest(), "port": port, "build": _build_marker(web)}
        (web / STAMP).write_text(json.dumps(stamp))
