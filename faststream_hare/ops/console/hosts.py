"""Which ``Host`` headers the console answers: the defence against DNS rebinding.

A rebinding page makes the browser send the attacker's own name (``Host: evil.example``) to the
console's address, so the console answers only the address it was bound to (and names the
operator lists). An IP literal cannot be rebound, so a wildcard bind accepts any of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

#: Names of this machine that no DNS answer can rebind (resolved locally, per RFC 6761).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: The wildcard binds (every address of the machine).
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def host_name(header: str) -> str:
    """The name or address of a ``Host`` header, without its port and brackets, lower case."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``."""
    name = host_name(host)
    if name in LOOPBACK_NAMES:
        return True
    address = _address(name)
    return address is not None and address.is_loopback


class HostCheck:
    """The bound address (``None``: mounted, any IP literal), loopback names, and ``extra``."""

    def __init__(self, bound: str | None, extra: Iterable[str] = ()) -> None:
        self.bound = None if bound is None else host_name(bound)
        self.extra = frozenset(host_name(name) for name in extra)

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if not name:
            return False
        if name in self.extra or name == self.bound:
            return True
        anywhere = self.bound is None or self.bound in WILDCARDS
        if name in LOOPBACK_NAMES and (anywhere or is_loopback(self.bound or "")):
            return True
        return anywhere and _address(name) is not None


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None
