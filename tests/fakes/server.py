"""The plumbing every stand-in shares: a threaded HTTP server on a free loopback port, started and stopped around a
test (``with Fake() as fake:``), its base URL, and a handle from the request handler back to the stand-in."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from types import TracebackType
from typing import Any, Self

# How often a serving thread looks whether it is asked to stop: socketserver's default, half a second, made every stop
# of a stand-in (one per test that uses one) wait up to that long for the thread to notice.
SHUTDOWN_POLL_S = 0.05


def serve_in_background(server: BaseServer, name: str = "fake") -> threading.Thread:
    """``server`` serving from a daemon thread, started; ``server.shutdown()`` then returns within
    :data:`SHUTDOWN_POLL_S`."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, name=name, daemon=True
    )
    thread.start()
    return thread


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: Any  # the stand-in whose handler this server runs


class LoopbackFake:
    """Serves ``handler`` on 127.0.0.1 (a free port) in a daemon thread while started; subclasses hold the state the
    handler reads through ``self.server.fake``."""

    handler: type[BaseHTTPRequestHandler]
    name = "fake"
    address: tuple[str, int] = ("127.0.0.1", 0)  # where it listens (port 0: a free one)
    tls: ssl.SSLContext | None = None  # a server context makes it speak HTTPS

    def __init__(self) -> None:
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> Self:
        self._server = FakeHTTPServer(self.address, self.handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.fake = self
        self._thread = serve_in_background(self._server, self.name)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
