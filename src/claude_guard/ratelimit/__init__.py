"""Rate limits and concurrency caps that hold exactly across replicas.

One engine (``RateLimiter``) admits a request against all of its limits and caps in one atomic operation:
a Lua script on Redis, by Redis server time, or its memory twin. Two faces share it: ``RateLimitMiddleware``
(rules by route pattern and method) and the ``rate_limit("10/minute;1000/day")`` dependency.

Example:
    >>> config = RateLimitConfig(
    ...     rules=[RateLimitRule(path="/v1/messages*", methods=["POST"], limits="60/minute", concurrency=4)],
    ...     trusted_proxies=["10.0.0.0/8"],
    ... )
    >>> [rule.name for rule in config.rules]
    ['r0']
"""

from __future__ import annotations

from ._config import KeyFunction, LimitSpec, RateLimitConfig, RateLimitRule, Strategy, parse_limits
from ._dependency import RouteRateLimit, rate_limit
from ._engine import Admission, ConcurrencyCheck, LimitCheck, LimitState, RateLimiter
from ._middleware import RateLimitMiddleware
from ._policy import rate_limit_headers
from ._proxies import TrustedProxies, client_address

__all__ = [
    "Admission",
    "ConcurrencyCheck",
    "KeyFunction",
    "LimitCheck",
    "LimitSpec",
    "LimitState",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "RouteRateLimit",
    "Strategy",
    "TrustedProxies",
    "client_address",
    "parse_limits",
    "rate_limit",
    "rate_limit_headers",
]
