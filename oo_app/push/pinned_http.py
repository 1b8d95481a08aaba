"""HTTP for push sends that connects only where the endpoint check approved: no second DNS resolution.

Contract: a :class:`PinnedSession` opens every connection to an address pinned for its (host, port) by
:func:`pinned` around the request, never to what DNS answers at connection time, so a host re-pointed between the
check and the connection (DNS rebinding) cannot steer a send inside. The request keeps its URL: the ``Host`` header,
TLS SNI and certificate verification all use the host name. A connection without a pin fails, no redirect is followed
and no proxy is used (a proxy would resolve the name itself).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

_pins: ContextVar[Mapping[tuple[str, int], tuple[str, ...]] | None] = ContextVar("oo_push_pins", default=None)


def _key(host: str, port: int) -> tuple[str, int]:
    return host.strip("[]").rstrip(".").lower(), port


@contextmanager
def pinned(host: str, port: int, addresses: Iterable[str]) -> Iterator[None]:
    """Within the block, connections to ``host:port`` go to ``addresses`` (tried in order) and nowhere else."""
    token = _pins.set({**(_pins.get() or {}), _key(host, port): tuple(addresses)})
    try:
        yield
    finally:
        _pins.reset(token)


class _PinnedConnecting:
    """Replaces urllib3's ``_new_conn`` (resolve ``host``, connect) by a connection to a pinned address."""

    host: str
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        addresses = (_pins.get() or {}).get(_key(self.host, self.port))
        if not addresses:
            raise NewConnectionError(self, f"no checked address for {self.host}:{self.port}: not connecting")  # type: ignore[arg-type]
        failure: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from error
            except OSError as error:
                failure = error
        raise NewConnectionError(self, f"failed to connect to {self.host}: {failure}")  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedConnecting, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnecting, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["proxies"] = None  # a proxy would resolve the host itself: push services are reached directly
        return super().send(request, *args, **kwargs)


class PinnedSession(requests.Session):
    """A requests session that connects only to pinned addresses and never follows a redirect (a push service that
    answers 3xx has failed the send)."""

    def __init__(self) -> None:
        super().__init__()
        self.mount("http://", _PinnedAdapter())
        self.mount("https://", _PinnedAdapter())

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)
