"""A real HTTP server on loopback standing in for the server behind an ICS address (or anything a calendar is read
from): each path answers a set status, headers and body, and every request is recorded. Nothing leaves loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class IcsServer:
    """A loopback HTTP server answering ``routes[path] = (status, headers, body)`` and recording requests."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], str | bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: IcsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server.seen.append((self.command, self.path, dict(self.headers)))
            status, headers, body = server.routes.get(self.path, (404, {}, ""))
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            for name, value in {"Content-Type": "text/calendar", **headers}.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PROPFIND = do_REPORT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving() -> Iterator[IcsServer]:
    """A running :class:`IcsServer` with no route yet, shut down on exit."""
    state = IcsServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = int(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def ics_server() -> Iterator[IcsServer]:
    """A loopback HTTP server for the test; set ``ics_server.routes[path]`` and fetch ``ics_server.url(path)``."""
    with serving() as server:
        yield server
