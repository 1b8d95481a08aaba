"""Which push endpoints oO may POST to: the server sends to a URL a person supplied, so it must not reach inside.

Contract of :func:`approve_endpoint`: an endpoint is an absolute ``https`` URL with a host and no credentials, whose
every resolved address is public (not loopback, private, link-local, shared, multicast, reserved or unspecified; an
IPv4 address inside an IPv6 one, mapped, compatible, translated, NAT64 or 6to4 or Teredo, is judged as that IPv4
address). With ``allow_private`` (``OO_PUSH_ALLOW_PRIVATE_ENDPOINTS``; on by default in development and test only)
private addresses pass, and plain ``http`` too, but only to them: a local push service. The check runs when a browser
subscribes and again right before every send (a host may have been re-pointed since); the send then connects to an
address this check approved, never to a second resolution (:mod:`oo_app.push.pinned_http`), and follows no redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from oo_app.push.errors import EndpointRefused

MAX_ENDPOINT_LENGTH = 2048


def origin_of(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint: what a person may see of it, and the VAPID audience."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


# IPv6 ranges whose last 32 bits are an IPv4 address the packets reach: IPv4-compatible (deprecated), IPv4-translated
# (SIIT) and the NAT64 well-known prefix. IPv4-mapped (::ffff:0:0/96) and 6to4 (2002::/16) have ipaddress helpers.
_IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(network) for network in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Local-use NAT64 (RFC 8215): the IPv4 address sits across bits 48-104; never a public push service.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (and so may reach): empty for a plain IPv6 address."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if any(ip in network for network in _IPV4_IN_LAST_32_BITS):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the Teredo server and the (obfuscated back to plain) client
    return []


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable, an IPv6 one only when every IPv4 address inside it is too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_global(ip)
    if ip in _LOCAL_NAT64:
        return False
    inside = embedded_ipv4(ip)
    if ip.ipv4_mapped is not None:  # ipaddress calls every mapped address non-global: its IPv4 address decides
        return all(_is_global(v4) for v4 in inside)
    return _is_global(ip) and all(_is_global(v4) for v4 in inside)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address is itself); EndpointRefused when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise EndpointRefused(f"the push endpoint's host {host!r} does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise EndpointRefused(f"the push endpoint's host {host!r} does not resolve")
    return addresses


@dataclass(frozen=True)
class ApprovedEndpoint:
    """An endpoint that passed the check: its origin, and the addresses of its host a send may connect to."""

    origin: str
    host: str
    port: int
    addresses: tuple[str, ...]


def approve_endpoint(endpoint: str, *, allow_private: bool) -> ApprovedEndpoint:
    """The endpoint with its host's addresses, resolved once, when oO may POST to it; raises
    :class:`EndpointRefused` (422) saying why not."""
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise EndpointRefused(f"a push endpoint is at most {MAX_ENDPOINT_LENGTH} characters")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise EndpointRefused("the push endpoint is not a valid URL") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise EndpointRefused("a push endpoint is an absolute https:// URL of a push service")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("a push endpoint carries no user name or password")
    if parts.scheme == "http" and not allow_private:
        raise EndpointRefused("a push endpoint must use https")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port)
    private = [address for address in addresses if not is_public(address)]
    if private and not allow_private:
        raise EndpointRefused(
            "the push endpoint's host resolves to a private, loopback or link-local address; oO only sends to "
            "public push services"
        )
    if parts.scheme == "http" and len(private) < len(addresses):
        raise EndpointRefused("a push endpoint must use https (plain http only reaches a local push service)")
    return ApprovedEndpoint(origin_of(endpoint), parts.hostname, port, tuple(addresses))


def check_endpoint(endpoint: str, *, allow_private: bool) -> str:
    """The endpoint's origin when oO may POST to it; raises :class:`EndpointRefused` (422) saying why not."""
    return approve_endpoint(endpoint, allow_private=allow_private).origin
