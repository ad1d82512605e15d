"""Host rules for anything carrying a URL: allowed schemes and hosts, and never a private address.

A URL's host is read the way a fetcher would resolve it: ``\\`` as ``/`` (WHATWG), user-info dropped, the
trailing dot and case folded, and IPv4 in every form ``inet_aton`` accepts (``127.1``, ``0x7f.0.0.1``,
``2130706433``, octal) as well as IPv4-mapped IPv6. Names are not resolved (no DNS here, and a name that
resolves to a private address at fetch time is the fetcher's to refuse): names that are private by
convention (``localhost``, ``*.internal``, ``*.local``, cloud metadata names) are refused as names.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["PRIVATE_NAMES", "HostRules", "url_host"]

PRIVATE_NAMES: tuple[str, ...] = (
    "localhost",
    "*.localhost",
    "*.local",
    "*.internal",
    "*.intranet",
    "*.corp",
    "*.home.arpa",
    "*.lan",
    "metadata",
    "metadata.google.internal",
    "instance-data",
)
"""Host names that name the local machine, a private network or a cloud metadata service."""


def url_host(url: str) -> tuple[str, str] | None:
    """``(scheme, host)`` of a URL as a fetcher reads it, or ``None`` when it has no host.

    Example:
        >>> url_host("HTTPS://user@Example.COM.:8443/x"), url_host("http://127.0.0.1\\\\@evil.example/")
        (('https', 'example.com'), ('http', '127.0.0.1'))
    """
    text = unicodedata.normalize("NFKC", url.strip()).replace("\\", "/")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    host = unquote(host).strip().rstrip(".").lower()
    return parts.scheme.lower(), host


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return mapped
    return address


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRules:
    """Where a URL may point. Rule ids: ``host.scheme`` (a scheme outside ``schemes``), ``host.missing``
    (no host), ``host.private_address`` (loopback, private, link-local, CGNAT, multicast, reserved or
    unspecified, in any notation), ``host.private_name``, ``host.denied`` and ``host.not_allowed``."""

    schemes: tuple[str, ...] = ("https", "http")
    """URL schemes a tool may fetch."""
    allow: tuple[str, ...] | None = None
    """Host globs (``docs.example.com``, ``*.example.com``) a URL must match; ``None`` allows any public
    host."""
    deny: tuple[str, ...] = ()
    """Host globs no URL may match."""
    allow_private: bool = False
    """Allow private addresses and names (a tool meant for the local network)."""
    fields: tuple[str, ...] = ("url", "uri", "href", "endpoint")
    """Input fields that hold a URL; with ``scan_strings`` every URL-looking string is checked too."""
    scan_strings: bool = True
    """Also check every string of the input that starts like a URL (``scheme://``)."""

    def check(self, url: str) -> str | None:
        """The rule id a URL breaks, or ``None``.

        Example:
            >>> rules = HostRules()
            >>> rules.check("https://docs.example.com/a"), rules.check("http://169.254.169.254/latest/")
            (None, 'host.private_address')
            >>> rules.check("http://2130706433/"), rules.check("file:///etc/passwd")
            ('host.private_address', 'host.scheme')
        """
        scheme_end = url.find(":")
        scheme = url[:scheme_end].strip().lower() if scheme_end > 0 else ""
        if scheme not in self.schemes:
            return "host.scheme"
        parsed = url_host(url)
        if parsed is None:
            return "host.missing"
        host = parsed[1]
        if not self.allow_private:
            address = _address(host)
            if address is not None:
                if not address.is_global or address.is_multicast:
                    return "host.private_address"
            elif any(fnmatch.fnmatchcase(host, pattern) for pattern in PRIVATE_NAMES):
                return "host.private_name"
        if any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in self.deny):
            return "host.denied"
        if self.allow is not None and not any(fnmatch.fnmatchcase(host, p.lower()) for p in self.allow):
            return "host.not_allowed"
        return None
