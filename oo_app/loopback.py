"""Whether a server's listen address stays on this machine: shared by the servers that refuse to listen beyond
loopback unless told (``oo hub``, ``oo models serve``). Imports nothing of the app."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
