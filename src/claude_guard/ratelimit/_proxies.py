"""The client's address: the socket peer, or what trusted proxies say about the peer before them.

``X-Forwarded-For`` and ``Forwarded`` (RFC 7239) are read only when the socket peer is a configured trusted
proxy, and then from the right: the right-most address that is not itself a trusted proxy is the client.
Everything to its left was written by the client and may be spoofed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .._asgi import Scope

__all__ = ["TrustedProxies", "client_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies whose forwarding headers are believed: a set of CIDRs (``"10.0.0.0/8"``, ``"::1"``).

    Example:
        >>> trusted = TrustedProxies(["10.0.0.0/8"])
        >>> trusted.trusts("10.1.2.3"), trusted.trusts("203.0.113.9")
        (True, False)
        >>> scope = {"client": ("10.0.0.5", 4321),
        ...          "headers": [(b"x-forwarded-for", b"1.2.3.4, 203.0.113.9, 10.0.0.7")]}
        >>> client_address(scope, trusted)
        '203.0.113.9'
        >>> client_address(scope, TrustedProxies())
        '10.0.0.5'
    """

    __slots__ = ("headers", "networks")

    def __init__(
        self,
        cidrs: Iterable[str] = (),
        *,
        headers: Iterable[str] = ("forwarded", "x-forwarded-for"),
    ) -> None:
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(c.strip(), strict=False) for c in cidrs
        )
        names = tuple(h.lower() for h in headers)
        for name in names:
            if name not in ("forwarded", "x-forwarded-for"):
                raise ValueError(f"unsupported forwarding header {name!r}: use forwarded or x-forwarded-for")
        self.headers = names

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r}, headers={list(self.headers)!r})"

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        parsed = _parse_ip(address)
        if parsed is None:
            return False
        return any(parsed in network for network in self.networks)


def _parse_ip(value: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _strip_port(node: str) -> str:
    """``1.2.3.4:80`` → ``1.2.3.4``, ``[::1]:80`` → ``::1``; a bare IPv6 address is kept whole."""
    node = node.strip().strip('"').strip()
    if node.startswith("["):
        end = node.find("]")
        return node[1:end] if end > 0 else node
    if node.count(":") == 1:
        return node.split(":", 1)[0]
    return node


def _header_values(scope: Scope, name: bytes) -> list[bytes]:
    return [bytes(v) for k, v in scope.get("headers", ()) if k.lower() == name]


def _x_forwarded_for(scope: Scope) -> list[str] | None:
    values = _header_values(scope, b"x-forwarded-for")
    if not values:
        return None
    joined = b",".join(values).decode("latin-1")
    return [_strip_port(part) for part in joined.split(",") if part.strip()]


def _forwarded(scope: Scope) -> list[str] | None:
    values = _header_values(scope, b"forwarded")
    if not values:
        return None
    nodes: list[str] = []
    for element in b",".join(values).decode("latin-1").split(","):
        node = ""
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                node = _strip_port(value)
        # An element without for= still is a hop: keep its place so trust is judged hop by hop.
        nodes.append(node or "unknown")
    return nodes


def client_address(scope: Scope, trusted: TrustedProxies | None = None) -> str | None:
    """The address to identify the client by (see the module docstring); ``None`` if the server gave none."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if peer is None or not trusted or not trusted.trusts(peer):
        return peer
    for name in trusted.headers:
        chain = _forwarded(scope) if name == "forwarded" else _x_forwarded_for(scope)
        if chain is None:
            continue
        for node in reversed(chain):
            if not trusted.trusts(node):
                # Written by a trusted proxy: the first hop it saw. An unparseable token ("unknown", an
                # obfuscated name) is still the identity that proxy vouches for.
                parsed = _parse_ip(node)
                return str(parsed) if parsed is not None else node
        # Every hop is a trusted proxy: the left-most one is the nearest to the client we know.
        return chain[0] if chain else peer
    return peer
