"""Rate-limit rules and the policy that holds them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from .._asgi import Scope
from .._proxies import TrustedProxies
from .._routes import PathPatterns
from ..context import GuardContext
from ..errors import ConfigurationError

__all__ = [
    "KeyFunction",
    "LimitSpec",
    "RateLimitConfig",
    "RateLimitRule",
    "Strategy",
    "parse_limits",
]

Strategy = Literal["fixed_window", "moving_window", "sliding_window_counter"]
STRATEGIES: tuple[Strategy, ...] = ("fixed_window", "moving_window", "sliding_window_counter")
_EVERY_PATH = PathPatterns(["*"])

KeyFunction = Callable[[Scope, GuardContext], Awaitable[str | None]]
"""``async def key(scope, ctx) -> str | None``: the identity a rule counts by; ``None`` exempts it."""

KeyKind = Literal["principal", "address", "global"]


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit: ``amount`` requests per ``window`` seconds."""

    amount: int
    window: int

    def __str__(self) -> str:
        return f"{self.amount}/{self.window}s"


def parse_limits(notation: str) -> tuple[LimitSpec, ...]:
    """Parse ``limits`` notation (``"10/minute;1000/day"``, ``"5 per 2 seconds"``).

    Example:
        >>> parse_limits("10/minute;1000/day")
        (LimitSpec(amount=10, window=60), LimitSpec(amount=1000, window=86400))
    """
    import limits

    try:
        items = limits.parse_many(notation)
    except ValueError as exc:
        raise ConfigurationError(f"invalid rate limit {notation!r}: {exc}") from None
    specs = tuple(
        LimitSpec(amount=int(item.amount), window=int(item.GRANULARITY.seconds * item.multiples))
        for item in items
    )
    for spec in specs:
        if spec.amount <= 0 or spec.window <= 0:
            raise ConfigurationError(f"invalid rate limit {notation!r}: amounts and windows must be positive")
    return specs


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitRule:
    """Limits for the requests matching a path pattern and methods.

    Every rule that matches a request applies, each with its own counters: a per-key rule and a global rule
    can guard the same route. A request is admitted only if all of its limits and caps have room, and then
    counts against all of them at once.

    Example:
        >>> rule = RateLimitRule(path="/v1/messages*", methods=("POST",), limits="10/minute;1000/day")
        >>> rule.matches("POST", "/v1/messages"), rule.matches("GET", "/v1/messages")
        (True, False)
    """

    path: str = "*"
    """Path pattern: an exact path or an ``fnmatch`` glob (``/v1/messages*``), trailing slash ignored
    (``claude_guard._routes``); ``*`` matches every path."""
    methods: Iterable[str] | None = None
    """HTTP methods the rule applies to (``("POST",)``); ``None`` for every method."""
    limits: str | None = None
    """Request-rate limits in ``limits`` notation, several separated by ``;`` (``"10/minute;1000/day"``)."""
    strategy: Strategy = "moving_window"
    """``moving_window`` (the default: a sliding log, exact: never more than the amount in any window of the
    period), or the approximate O(1) counters ``fixed_window`` (up to twice the amount across a window edge)
    and ``sliding_window_counter`` (two fixed windows weighted; also up to nearly twice the amount in the
    worst case). See ``docs/rate-limits.md``."""
    key: KeyKind | KeyFunction = "principal"
    """What is counted: ``principal`` (the client key, else the client address), ``address``, ``global``
    (one counter for everyone) or an async function ``(scope, ctx) -> str | None``."""
    concurrency: int | None = None
    """Requests of one key (as chosen by ``key``) in flight at once, across replicas; ``None``: no cap."""
    name: str | None = None
    """Name of the rule in headers, keys and audit records; defaults to ``r<index>`` in the config."""
    specs: tuple[LimitSpec, ...] = field(init=False, repr=False, compare=False, default=())
    """The parsed ``limits`` (set from ``limits``)."""
    route: PathPatterns = field(init=False, repr=False, compare=False, default=_EVERY_PATH)
    """``path`` compiled."""

    def __post_init__(self) -> None:
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))
        if self.strategy not in STRATEGIES:
            raise ConfigurationError(
                f"unknown strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}"
            )
        if isinstance(self.key, str) and self.key not in ("principal", "address", "global"):
            raise ConfigurationError(
                f"unknown key {self.key!r}: use principal, address, global or an async function"
            )
        if self.concurrency is not None and self.concurrency <= 0:
            raise ConfigurationError("concurrency must be positive or None")
        if self.limits is None and self.concurrency is None:
            raise ConfigurationError("a rule needs limits, a concurrency cap, or both")
        if self.name is not None and not _valid_name(self.name):
            raise ConfigurationError(
                f"rule name {self.name!r}: use printable ASCII without spaces, quotes or backslashes"
            )
        if self.limits is not None:
            object.__setattr__(self, "specs", parse_limits(self.limits))
        object.__setattr__(self, "route", PathPatterns([self.path]))

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path == "*" or self.route.matches(path)


def _valid_name(name: str) -> bool:
    # It is sent as a structured-field string in RateLimit-Policy.
    return bool(name) and all(33 <= ord(c) <= 126 and c not in '"\\' for c in name)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitConfig:
    """The rate-limit policy of one ``RateLimitMiddleware``.

    Example:
        >>> config = RateLimitConfig(rules=[RateLimitRule(path="/v1/*", limits="60/minute", concurrency=4)],
        ...                          trusted_proxies=["10.0.0.0/8"])
        >>> config.rules[0].name
        'r0'
    """

    rules: Iterable[RateLimitRule] = ()
    """The rules; every rule matching a request applies."""
    trusted_proxies: Iterable[str] | TrustedProxies = ()
    """CIDRs of the reverse proxies whose ``Forwarded`` / ``X-Forwarded-For`` are believed; empty: none."""
    on_store_error: Literal["closed", "open"] = "closed"
    """When the store is unreachable: ``closed`` answers 503, ``open`` admits (counted and audited)."""
    profile_limits: bool = True
    """Apply the ``rate_limits`` and ``max_concurrency`` of the caller's profile, per key, on every route."""
    profile_strategy: Strategy = "moving_window"
    """Strategy of the profile limits (the exact sliding log by default)."""
    headers: bool = True
    """Send ``RateLimit-Policy`` and ``RateLimit`` (IETF draft) on every guarded response."""
    legacy_headers: bool = False
    """Also send ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``."""
    refund_upstream_overload: bool = True
    """Give the quota back when the upstream answered 429 or 529: the caller's retry is charged once."""
    store_timeout: float = 2.0
    """Upper bound in seconds of one store operation, on top of the store's socket timeouts."""

    def __post_init__(self) -> None:
        named: list[RateLimitRule] = []
        for index, rule in enumerate(self.rules):
            if rule.name is None:
                rule = _with_name(rule, f"r{index}")
            named.append(rule)
        names = [r.name for r in named]
        if len(set(names)) != len(names):
            raise ConfigurationError("rule names must be unique")
        object.__setattr__(self, "rules", tuple(named))
        object.__setattr__(self, "trusted_proxies", TrustedProxies.of(self.trusted_proxies))
        if self.on_store_error not in ("closed", "open"):
            raise ConfigurationError("on_store_error must be 'closed' or 'open'")
        if self.profile_strategy not in STRATEGIES:
            raise ConfigurationError(f"unknown strategy {self.profile_strategy!r}")
        if self.store_timeout <= 0:
            raise ConfigurationError("store_timeout must be positive")


def _with_name(rule: RateLimitRule, name: str) -> RateLimitRule:
    return RateLimitRule(
        path=rule.path,
        methods=rule.methods,
        limits=rule.limits,
        strategy=rule.strategy,
        key=rule.key,
        concurrency=rule.concurrency,
        name=name,
    )
