"""HTTP to a calendar a person named (an ICS address, a CalDAV server), under push's SSRF rules.

Contract: a host is read only once approved like a push endpoint (:mod:`oo_app.push.endpoints`: every address it
resolves to public, ``https``; ``http`` and private addresses only with ``allow_private``, i.e. development and
tests), and every connection goes to an address that approval resolved, never to a second DNS answer. A redirect is
followed only to a host approved the same way, at most :data:`MAX_REDIRECTS` times, and credentials never follow it
to another origin; an answer larger than ``max_bytes``, or slower as a whole than the timeout, is refused. Requests
go straight through the transport: no proxy, no cookie, and no log line (the address of an ICS calendar is its
secret, so it must never reach a log or a message).
"""

from __future__ import annotations

import base64
import email.utils
import functools
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from oo_app.calendar.sources import InvalidCalendar
from oo_app.integrations.errors import ProviderUnavailable, RateLimited
from oo_app.push.endpoints import is_public, resolve
from oo_app.push.errors import EndpointRefused
from oo_app.settings import get_settings

MAX_ADDRESS_LENGTH = 2048
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class AddressRefused(InvalidCalendar):
    """An address oO will not read: not https, credentials inside, or a host on a private network."""


@dataclass(frozen=True)
class ApprovedHost:
    """A calendar host that passed the check, with the addresses a connection may use."""

    host: str
    port: int
    addresses: tuple[str, ...]


def normalize_address(address: str, *, webcal: bool = False) -> str:
    """The address as it is fetched: trimmed, and ``webcal://`` (how calendars publish ICS links) read as https."""
    address = address.strip()
    scheme, _, rest = address.partition("://")
    if webcal and rest and scheme.lower() in {"webcal", "webcals"}:
        return f"https://{rest}"
    return address


def host_label(address: str) -> str:
    """What a person may see of a calendar's address: its host (and a port other than the default), never its path,
    query or credentials (an ICS address's secret sits there); empty when the address has no host."""
    try:
        parts = urlsplit(address.strip())
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if host and port and port not in {80, 443} else host


def approve(address: str, *, allow_private: bool) -> ApprovedHost:
    """The host of ``address`` with its resolved addresses when oO may read it; raises :class:`AddressRefused` saying
    why not, or :class:`ProviderUnavailable` when the host does not resolve (DNS may be down for a while)."""
    if len(address) > MAX_ADDRESS_LENGTH:
        raise AddressRefused(f"a calendar address is at most {MAX_ADDRESS_LENGTH} characters")
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise AddressRefused("the calendar address is not a valid URL: copy it again from your calendar") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise AddressRefused("a calendar address is an absolute https:// (or webcal://) URL")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("a calendar address carries no user name or password (give them in their own fields)")
    if parts.scheme == "http" and not allow_private:
        raise AddressRefused("oO reads calendars over https only: use the https:// address of your calendar")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except EndpointRefused:
        raise ProviderUnavailable("the calendar's host does not resolve; oO tries again later") from None
    private = [found for found in addresses if not is_public(found)]
    if private and not allow_private:
        raise AddressRefused(
            "the calendar's host is on a private, loopback or link-local network; oO only reads calendars on the "
            "public internet"
        )
    if parts.scheme == "http" and len(private) < len(addresses):
        raise AddressRefused("oO reads calendars over https only: use the https:// address of your calendar")
    return ApprovedHost(parts.hostname, port, tuple(addresses))


def _origin(address: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(address)
        return parts.scheme, (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return "", "", None


def _key(host: str, port: int) -> tuple[str, int]:
    return host.strip("[]").rstrip(".").lower(), port


class _PinnedBackend(httpcore.SyncBackend):
    """Opens a connection to a host only at the addresses its approval resolved (TLS still checks the host name)."""

    def __init__(self) -> None:
        self.pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.pins.get(_key(host, port))
        if not addresses:
            raise httpcore.ConnectError("no approved address for this host: not connecting")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failure = error
        raise failure or httpcore.ConnectError("could not connect")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context of every calendar connection: httpx's default (its CA bundle, certificates checked against the
    host name), built once per process, as loading the CAs costs more than reading a small calendar."""
    return httpx.create_ssl_context(trust_env=False)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _PinnedBackend) -> None:
        super().__init__(verify=tls_context(), trust_env=False)
        # httpx takes no network backend of its own: the pool it built is replaced by one that connects through ours.
        self._pool = httpcore.ConnectionPool(ssl_context=tls_context(), network_backend=backend, max_connections=4)


@dataclass(frozen=True)
class Answer:
    """What a calendar host answered: the status, the headers, (for a 2xx answer) the whole body, and the address
    that answered (the last one of the redirects)."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str


def retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date); None when absent or unreadable."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.astimezone(UTC) - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic authentication (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(frozen=True)
class Limits:
    """How a calendar is read: per-request timeout, the largest answer, whether private addresses (and http) pass."""

    timeout_s: float
    max_bytes: int
    allow_private: bool

    @classmethod
    def of(cls, timeout_s: float | None, max_bytes: int | None, allow_private: bool | None) -> Limits:
        """The given limits, each missing one from the settings (``calendar_timeout_s``, ``calendar_max_bytes``,
        ``push_private_endpoints_allowed``)."""
        if timeout_s is None or max_bytes is None or allow_private is None:
            settings = get_settings()
            timeout_s = settings.calendar_timeout_s if timeout_s is None else timeout_s
            max_bytes = settings.calendar_max_bytes if max_bytes is None else max_bytes
            allow_private = settings.push_private_endpoints_allowed if allow_private is None else allow_private
        return cls(timeout_s, max_bytes, allow_private)


class CalendarHttp:
    """Requests to calendar hosts approved under the SSRF rules; use it as a context manager (one per read)."""

    def __init__(self, limits: Limits) -> None:
        self._backend = _PinnedBackend()
        self._transport = _PinnedTransport(self._backend)
        self._timeout_s = limits.timeout_s
        self._timeout = httpx.Timeout(limits.timeout_s).as_dict()
        self._max_bytes = limits.max_bytes
        self._allow_private = limits.allow_private

    def __enter__(self) -> CalendarHttp:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._transport.close()

    def _pin(self, address: str) -> None:
        approved = approve(address, allow_private=self._allow_private)  # again for every hop: a redirect is new
        self._backend.pins[_key(approved.host, approved.port)] = approved.addresses

    def request(
        self, method: str, address: str, headers: Mapping[str, str] | None = None, content: bytes = b""
    ) -> Answer:
        """One request, redirects followed to approved hosts only; a network failure is :class:`ProviderUnavailable`
        and an answer over the size cap is :class:`InvalidCalendar`."""
        headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            self._pin(address)
            answer, location = self._send(method, address, headers, content)
            if location is None:
                return answer
            target = urlunsplit(urlsplit(urljoin(address, location))._replace(fragment=""))
            if _origin(target) != _origin(address):  # credentials are for the host they were given for
                headers = {name: value for name, value in headers.items() if name.lower() != "authorization"}
            address = target
            if answer.status == 303:
                method, content = "GET", b""
        raise ProviderUnavailable(f"the calendar redirected more than {MAX_REDIRECTS} times; oO gave up")

    def _send(self, method: str, address: str, headers: Mapping[str, str], content: bytes) -> tuple[Answer, str | None]:
        request = httpx.Request(
            method,
            address,
            headers={"User-Agent": "oO calendar reader", **headers},
            content=content or None,
            extensions={"timeout": self._timeout},
        )
        deadline = time.monotonic() + self._timeout_s  # the whole answer, not each read: no slow drip lasts
        try:
            response = self._transport.handle_request(request)
        except httpx.TimeoutException:
            raise ProviderUnavailable("the calendar did not answer in time; oO tries again later") from None
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                f"the calendar could not be reached ({type(error).__name__}); oO tries again later"
            ) from None
        try:
            location = response.headers.get("Location")
            if response.status_code in REDIRECTS and location:
                return Answer(response.status_code, response.headers, b"", address), location
            body = self._read(response, deadline) if 200 <= response.status_code < 300 else b""
            return Answer(response.status_code, response.headers, body, address), None
        finally:
            response.close()

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        too_large = InvalidCalendar(
            f"the calendar is larger than oO reads ({self._max_bytes // 1_000_000} MB at most)"
            if self._max_bytes >= 1_000_000
            else f"the calendar is larger than oO reads ({self._max_bytes} bytes at most)"
        )
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise too_large
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the answer took longer than the timeout")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise ProviderUnavailable("the calendar did not answer in time; oO tries again later") from None
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                f"the calendar's answer broke off ({type(error).__name__}); oO tries again later"
            ) from None
        return b"".join(chunks)


def rate_limited(answer: Answer, who: str) -> RateLimited:
    """The error of a 429 answer, with the wait it asked for."""
    return RateLimited(f"{who} asked oO to slow down; oO tries again later", retry_after(answer.headers))


def unavailable(answer: Answer, who: str) -> ProviderUnavailable:
    """The error of an answer outside the contract (5xx and the like)."""
    return ProviderUnavailable(f"{who} answered HTTP {answer.status}; oO tries again later")
