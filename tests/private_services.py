"""Private PostgreSQL and Redis servers for fault tests: each on its own free loopback port in a temp dir, so a test may
stop, kill and restart them without touching the machine's shared servers (127.0.0.1:5432 and :6379).

PostgreSQL runs from Debian's binaries (``/usr/lib/postgresql/<version>/bin``) with trust auth for ``postgres``;
as root, its commands run as the ``postgres`` user (the server refuses root). Redis is ``redis-server`` with no
persistence, so a restart loses every key, as a Redis without a volume would. :func:`missing_binaries` says why they
cannot run here; the fixtures skip with that reason, and only then. Nothing here outlives its fixture: servers are
stopped and their directories removed at teardown.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.app_server import ROOT, free_port
from tests.conftest import service_missing

START_TIMEOUT_S = 60
REDIS = "redis-server"


def postgres_bin() -> Path | None:
    """The directory of the newest installed PostgreSQL's server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def missing_binaries() -> str | None:
    """None when both servers can run privately here, else what is missing."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian package postgresql)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root, and no runuser to start PostgreSQL as the postgres user"
    if not shutil.which(REDIS):
        return "no redis-server on PATH (Debian package redis-server)"
    return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class PrivatePostgres:
    """A PostgreSQL cluster of its own: ``start()``, ``stop()`` (fast: sessions are cut), ``kill()`` (a crash),
    ``restart()``; ``url(database)`` for SQLAlchemy, ``create_database(name)``."""

    def __init__(self, root: Path) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError(missing_binaries() or "no PostgreSQL")
        self.bin = binaries
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_owner:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        result = subprocess.run(
            [*self._as_owner, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}\n{_tail(self.log)}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are terminated, committed work is kept."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def kill(self) -> None:
        """An immediate shutdown (as a crash): no checkpoint, recovery at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """An empty database ``name``; its URL."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def close(self) -> None:
        if self.running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # teardown: never mask the test's error
                self.kill()


def compose_redis_command() -> list[str]:
    """The command of docker-compose.yml's ``redis`` service, as compose runs it (``$$`` is a literal ``$``)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return [part.replace("$$", "$") for part in compose["services"]["redis"]["command"]]


class PrivateRedis:
    """A ``redis-server`` of its own without persistence: ``start()``, ``stop()``, ``restart()`` (every key lost);
    ``url`` for clients."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        # Compose's Redis (persistence off, keyspace notifications on), on a port of its own.
        command = [*compose_redis_command(), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.root), "--daemonize", "no"]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{_tail(self.log)}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Gone at once, without saving (as a container without a volume that is restarted)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        self.stop()


def _private_dir(prefix: str) -> Path:
    # Not under pytest's tmp_path: its parents are root's alone (0700), and PostgreSQL runs as postgres.
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL for the module's tests (which may stop and restart it); skipped only when its
    binaries are missing (and failed then on CI, where they are installed)."""
    reason = missing_binaries()
    if reason:
        service_missing(reason)
    root = _private_dir("oo-private-pg-")
    server = PrivatePostgres(root)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    """A running private Redis for the module's tests (which may restart it); skipped only when it is missing (and
    failed then on CI)."""
    reason = missing_binaries()
    if reason:
        service_missing(reason)
    root = _private_dir("oo-private-redis-")
    server = PrivateRedis(root)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)
