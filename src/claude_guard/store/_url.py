"""Storage URLs: one parser for every Redis topology, and the redaction that keeps passwords out of messages.

redis-py parses ``redis://`` URLs itself, but not a list of cluster seed nodes nor a Sentinel set, and its
errors may repeat the URL; this parser covers the forms claude_guard documents (``docs/storage.md``) and
never echoes a password.

Example:
    >>> target = parse_redis_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/mymaster/2")
    >>> target.topology, target.nodes, target.service, target.db
    ('sentinel', (('10.0.0.1', 26379), ('10.0.0.2', 26379)), 'mymaster', 2)
    >>> redact_url("rediss://app:s3cret@cache:6380/0")
    'rediss://app:***@cache:6380/0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote

from ..errors import ConfigurationError

__all__ = ["REDIS_SCHEMES", "RedisTarget", "parse_redis_url", "redact_url"]

Topology = Literal["single", "cluster", "sentinel"]

# scheme -> (topology, tls). valkey is the same protocol under another name.
REDIS_SCHEMES: dict[str, tuple[Topology, bool]] = {}
for _name in ("redis", "valkey"):
    REDIS_SCHEMES[_name] = ("single", False)
    REDIS_SCHEMES[_name + "s"] = ("single", True)
    _kind: Topology
    for _kind in ("cluster", "sentinel"):
        REDIS_SCHEMES[f"{_name}+{_kind}"] = (_kind, False)
        REDIS_SCHEMES[f"{_name}s+{_kind}"] = (_kind, True)

_DEFAULT_PORT = {"single": 6379, "cluster": 6379, "sentinel": 26379}
_BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
_OPTIONS = (*_TLS_OPTIONS, "wait_replicas", "wait_timeout", "sentinel_username", "sentinel_password")


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisTarget:
    """A parsed Redis storage URL."""

    topology: Topology
    """``single`` (one server, or a proxy), ``cluster`` (Redis Cluster) or ``sentinel`` (a Sentinel set)."""
    tls: bool
    nodes: tuple[tuple[str, int], ...]
    """The server; the cluster's seed nodes; or the sentinels."""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    service: str | None = None
    """The Sentinel service (master) name."""
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: Literal["required", "optional", "none"] = "required"
    ssl_check_hostname: bool = True
    wait_replicas: int | None = None
    """Replicas that must hold a write before it counts (``None``: the topology's default)."""
    wait_timeout: float = 0.5
    """Seconds a write waits for its replicas before the operation fails closed."""
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)


def parse_redis_url(url: str) -> RedisTarget:
    """Parse a Redis URL of any supported form; ``ValueError`` (with the password redacted) if malformed.

    Forms: ``redis://[user:password@]host[:port][/db]``, ``redis+cluster://[user:password@]host[:port][,host
    [:port]...]``, ``redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db]``; an ``s``
    after ``redis`` (``rediss://``, ``rediss+cluster://``) for TLS, and ``valkey`` in place of ``redis``.
    Query options: ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``,
    ``ssl_check_hostname``, ``wait_replicas``, ``wait_timeout``, ``sentinel_username``, ``sentinel_password``.
    """
    shown = redact_url(url)
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme not in REDIS_SCHEMES or not _:
        raise ConfigurationError(f"not a Redis URL: {shown}")
    topology, tls = REDIS_SCHEMES[scheme]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes: list[tuple[str, int]] = []
    for item in hosts.split(","):
        if not item:
            raise ConfigurationError(f"a host is missing in {shown}")
        nodes.append(_host_port(item, _DEFAULT_PORT[topology], shown))
    if topology == "single" and len(nodes) > 1:
        raise ConfigurationError(f"several hosts need redis+cluster:// or redis+sentinel://: {shown}")
    segments = [s for s in path.split("/") if s]
    service: str | None = None
    if topology == "sentinel":
        if not segments:
            raise ConfigurationError(
                f"a Sentinel URL names its service: redis+sentinel://host:port/SERVICE: {shown}"
            )
        service = unquote(segments.pop(0))
    if len(segments) > 1:
        raise ConfigurationError(f"unexpected path in {shown}")
    db = 0
    if segments:
        if not segments[0].isdigit():
            raise ConfigurationError(f"the database must be a number in {shown}")
        db = int(segments[0])
    if topology == "cluster" and db:
        raise ConfigurationError(f"Redis Cluster has only database 0: {shown}")
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if name not in _OPTIONS:
            raise ConfigurationError(f"unknown option {name!r} in {shown}; known: {', '.join(_OPTIONS)}")
        options[name] = value
    if not tls and any(name in options for name in _TLS_OPTIONS):
        raise ConfigurationError(
            f"TLS options need rediss:// (or rediss+cluster://, rediss+sentinel://): {shown}"
        )
    if topology != "sentinel" and any(name.startswith("sentinel_") for name in options):
        raise ConfigurationError(f"sentinel_* options apply to redis+sentinel:// only: {shown}")
    cert_reqs = options.get("ssl_cert_reqs", "required")
    if cert_reqs not in ("required", "optional", "none"):
        raise ConfigurationError(f"ssl_cert_reqs must be required, optional or none in {shown}")
    check_hostname = _BOOLEANS.get(options.get("ssl_check_hostname", "true").lower())
    if check_hostname is None:
        raise ConfigurationError(f"ssl_check_hostname must be true or false in {shown}")
    wait_replicas: int | None = None
    if "wait_replicas" in options:
        if not options["wait_replicas"].isdigit():
            raise ConfigurationError(f"wait_replicas must be a whole number in {shown}")
        wait_replicas = int(options["wait_replicas"])
    try:
        wait_timeout = float(options.get("wait_timeout", "0.5"))
    except ValueError:
        wait_timeout = -1.0
    if not 0 < wait_timeout < 60:
        raise ConfigurationError(f"wait_timeout must be a number of seconds between 0 and 60 in {shown}")
    del fragment
    return RedisTarget(
        topology=topology,
        tls=tls,
        nodes=tuple(nodes),
        db=db,
        username=username,
        password=password,
        service=service,
        ssl_ca_certs=options.get("ssl_ca_certs") or None,
        ssl_certfile=options.get("ssl_certfile") or None,
        ssl_keyfile=options.get("ssl_keyfile") or None,
        ssl_cert_reqs=cert_reqs,  # type: ignore[arg-type]
        ssl_check_hostname=check_hostname,
        wait_replicas=wait_replicas,
        wait_timeout=wait_timeout,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
    )


def _host_port(item: str, default: int, shown: str) -> tuple[str, int]:
    if item.startswith("["):  # [::1]:6379
        host, _, port = item[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
    if not host:
        raise ConfigurationError(f"a host is missing in {shown}")
    if not port:
        return host, default
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"bad port in {shown}")
    return host, int(port)


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/?#]*)(?::[^@/?#]*)?@")
_SECRET_QUERY = re.compile(r"(?P<name>(?:^|[?&])[A-Za-z_]*password=)[^&#]*")


def redact_url(url: str) -> str:
    """The URL with any password (in the user info or a ``*password=`` option) replaced by ``***``.

    Example:
        >>> redact_url("redis+sentinel://h:26379/m?sentinel_password=pw")
        'redis+sentinel://h:26379/m?sentinel_password=***'
        >>> redact_url("redis://:pw@h/0")
        'redis://:***@h/0'
    """

    def userinfo(match: re.Match[str]) -> str:
        whole = match.group(0)
        if ":" not in whole[len(match.group("scheme")) :]:
            # redis://NAME@host: a user name alone, redacted too since some write a password there
            return f"{match.group('scheme')}***@"
        return f"{match.group('scheme')}{match.group('user')}:***@"

    return _SECRET_QUERY.sub(lambda m: m.group("name") + "***", _USERINFO.sub(userinfo, url, count=1))
