"""Trusted proxies, read once for every protection: the client's address and the scheme it used.

Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto`` and RFC 7239 ``Forwarded``) are believed only
when the socket peer is a configured trusted proxy. The client address is then read from the right: the
right-most address that is not itself a trusted proxy is the client; everything to its left was written by the
client and may be spoofed. The scheme is secure only when every protocol the proxies report is https.

Rate limits (``client_address``), HTTPS-only (``forwarded_protos``) and ``GuardSettings`` (the CIDRs are
checked when the settings are made) all use ``TrustedProxies``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ._asgi import Scope
from .errors import ConfigurationError

__all__ = ["TrustedProxies", "client_address", "forwarded_protos"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_HEADERS = ("forwarded", "x-forwarded-for")


class TrustedProxies:
    """The proxies whose forwarding headers are believed: a set of CIDRs (``"10.0.0.0/8"``, ``"::1"``).

    ``headers`` says which client-address headers are read, in order of preference.

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

    Raises:
        ConfigurationError: a CIDR is not an IP network, ``cidrs`` is one string, or a header is unknown.
    """

    __slots__ = ("headers", "networks")

    def __init__(
        self,
        cidrs: Iterable[str | _Network] = (),
        *,
        headers: Iterable[str] = _HEADERS,
    ) -> None:
        if isinstance(cidrs, str):
            raise ConfigurationError("trusted_proxies is a list of CIDRs, not one string.")
        networks: list[_Network] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
            except ValueError:
                raise ConfigurationError(f"trusted_proxies: {cidr!r} is not an IP network (CIDR).") from None
        self.networks: tuple[_Network, ...] = tuple(networks)
        names = tuple(h.lower() for h in headers)
        for name in names:
            if name not in _HEADERS:
                raise ConfigurationError(
                    f"unsupported forwarding header {name!r}: use forwarded or x-forwarded-for"
                )
        self.headers = names

    @classmethod
    def of(cls, value: TrustedProxies | Iterable[str | _Network]) -> TrustedProxies:
        """``value`` itself if it already is ``TrustedProxies``, else the proxies of those CIDRs."""
        return value if isinstance(value, TrustedProxies) else cls(value)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r}, headers={list(self.headers)!r})"

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        parsed = _parse_ip(address)
        if parsed is None:
            return False
        return any(parsed in network for network in self.networks)

    def trusts_peer(self, scope: Scope) -> bool:
        """Whether the socket peer of ``scope`` is one of these proxies."""
        client = scope.get("client")
        if not client or not self.networks:
            return False
        return self.trusts(str(client[0]))


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


def _joined(scope: Scope, name: bytes) -> str | None:
    # Repeated header lines are one comma-separated list (RFC 9110, section 5.3).
    values = [bytes(v) for k, v in scope.get("headers", ()) if k.lower() == name]
    return b",".join(values).decode("latin-1") if values else None


def _forwarded(scope: Scope, parameter: str) -> list[str | None] | None:
    """The ``parameter`` (``for``, ``proto``…) of each ``Forwarded`` element; ``None`` where one has none."""
    joined = _joined(scope, b"forwarded")
    if joined is None:
        return None
    found: list[str | None] = []
    for element in joined.split(","):
        value = None
        for pair in element.split(";"):
            name, _, raw = pair.partition("=")
            if name.strip().lower() == parameter:
                value = raw.strip().strip('"').strip()
        found.append(value)
    return found


def _x_forwarded(scope: Scope, name: bytes) -> list[str] | None:
    joined = _joined(scope, name)
    return None if joined is None else [part.strip() for part in joined.split(",")]


def client_address(scope: Scope, trusted: TrustedProxies | None = None) -> str | None:
    """The address to identify the client by (see the module docstring); ``None`` if the server gave none."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if peer is None or not trusted or not trusted.trusts(peer):
        return peer
    for name in trusted.headers:
        if name == "forwarded":
            nodes = _forwarded(scope, "for")
            # An element without for= still is a hop: keep its place so trust is judged hop by hop.
            chain = None if nodes is None else [_strip_port(node or "") or "unknown" for node in nodes]
        else:
            parts = _x_forwarded(scope, b"x-forwarded-for")
            chain = None if parts is None else [_strip_port(part) for part in parts if part]
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


def forwarded_protos(scope: Scope, trusted: TrustedProxies) -> list[str]:
    """Every protocol the proxies report (``X-Forwarded-Proto`` and ``Forwarded: proto=``), lower-case; none
    unless the socket peer is a trusted proxy.

    Example:
        >>> scope = {"client": ("10.0.0.5", 4321), "headers": [(b"x-forwarded-proto", b"HTTPS")]}
        >>> forwarded_protos(scope, TrustedProxies(["10.0.0.0/8"])), forwarded_protos(scope, TrustedProxies())
        (['https'], [])
    """
    if not trusted.trusts_peer(scope):
        return []
    # An empty entry is kept: it is not https, so it makes the request insecure.
    protos = [p.lower() for p in _x_forwarded(scope, b"x-forwarded-proto") or ()]
    protos.extend(p.lower() for p in _forwarded(scope, "proto") or () if p is not None)
    return protos
