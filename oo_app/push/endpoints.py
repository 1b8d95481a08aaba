"""Which push endpoints oO may POST to: the server sends to a URL a person supplied, so it must not reach inside.

Contract of :func:`check_endpoint`: an endpoint is an absolute ``https`` URL with a host and no credentials, whose
every resolved address is public (not loopback, private, link-local, shared, multicast, reserved or unspecified).
With ``allow_private`` (``OO_PUSH_ALLOW_PRIVATE_ENDPOINTS``; on by default in development and test only) private
addresses pass, and plain ``http`` too, but only to them: a local push service. The check runs when a browser
subscribes and again right before every send (a host may have been re-pointed since), and the sender follows no
redirect. What remains is the short window between this resolution and the HTTP client's own.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from oo_app.push.errors import EndpointRefused

MAX_ENDPOINT_LENGTH = 2048


def origin_of(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint: what a person may see of it, and the VAPID audience."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (an IPv4-mapped IPv6 address is judged as its IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address is itself); EndpointRefused when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise EndpointRefused(f"the push endpoint's host {host!r} does not resolve") from None
    return sorted({str(info[4][0]) for info in infos})


def check_endpoint(endpoint: str, *, allow_private: bool) -> str:
    """The endpoint's origin when oO may POST to it; raises :class:`EndpointRefused` (422) saying why not."""
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
    addresses = resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    private = [address for address in addresses if not is_public(address)]
    if private and not allow_private:
        raise EndpointRefused(
            "the push endpoint's host resolves to a private, loopback or link-local address; oO only sends to "
            "public push services"
        )
    if parts.scheme == "http" and len(private) < len(addresses):
        raise EndpointRefused("a push endpoint must use https (plain http only reaches a local push service)")
    return origin_of(endpoint)
