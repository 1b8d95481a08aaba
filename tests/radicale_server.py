"""A real CalDAV server for the tests: Radicale on a free loopback port, its own storage folder, htpasswd users.

Import the ``radicale`` fixture (``from tests.radicale_server import radicale``) to get a running
:class:`RadicaleServer` for the module; seed calendars and events with :meth:`RadicaleServer.calendar` and
:meth:`RadicaleServer.put_event` (through the caldav library, as a real client would). Nothing leaves loopback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import caldav
import pytest

USERS = {"ada": "correct horse", "bob": "battery staple"}
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RadicaleServer:
    """A running Radicale: ``url`` is its root (``http://127.0.0.1:<port>/``); ``users`` name -> password."""

    url: str
    users: dict[str, str]
    process: subprocess.Popen[bytes] = field(repr=False)

    def principal_url(self, user: str) -> str:
        return f"{self.url}{user}/"

    def calendar_url(self, user: str, calendar_id: str) -> str:
        return f"{self.url}{user}/{calendar_id}/"

    def client(self, user: str) -> caldav.DAVClient:
        return caldav.DAVClient(self.url, username=user, password=self.users[user], timeout=10)

    def calendar(self, user: str, calendar_id: str, components: tuple[str, ...] = ("VEVENT",)) -> caldav.Calendar:
        """The calendar ``calendar_id`` of ``user``, made (for ``components``) when it does not exist yet."""
        principal = self.client(user).principal()
        for existing in principal.calendars():
            if str(existing.url).rstrip("/").endswith(f"/{calendar_id}"):
                return existing
        return principal.make_calendar(
            name=calendar_id, cal_id=calendar_id, supported_calendar_component_set=list(components)
        )

    def put_event(self, user: str, calendar_id: str, ics: str) -> None:
        """Store one calendar object (a whole VCALENDAR text) in that calendar."""
        self.calendar(user, calendar_id).save_event(ics)


def _write_config(folder: Path, port: int, users: dict[str, str]) -> Path:
    htpasswd = folder / "users"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    config = folder / "config"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {folder / "collections"}

[web]
type = none

[logging]
level = warning
"""
    )
    return config


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited at start (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Radicale did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f} s")


@contextmanager
def running_radicale(folder: Path, users: dict[str, str] | None = None) -> Iterator[RadicaleServer]:
    """Radicale running with its storage and users under ``folder``, stopped (and waited for) on exit."""
    users = dict(users or USERS)
    port = free_port()
    config = _write_config(folder, port, users)
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(process, port)
        yield RadicaleServer(f"http://127.0.0.1:{port}/", users, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """A Radicale for the test module, with the users of :data:`USERS` and no calendar yet."""
    with running_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server
