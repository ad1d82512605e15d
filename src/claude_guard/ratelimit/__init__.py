"""Rate limits and concurrency caps that hold exactly across replicas.

One engine (``RateLimiter``) admits a request against all of its limits and caps in one atomic operation:
a Lua script on Redis, by Redis server time, or its memory twin. ``RateLimitMiddleware`` (rules by route
pattern and method) is its ASGI face; ``RouteRateLimit`` is what the ``rate_limit("10/minute;1000/day")``
route dependencies of ``claude_guard.fastapi`` and ``claude_guard.litestar`` call.

Example:
    >>> config = RateLimitConfig(
    ...     rules=[RateLimitRule(path="/v1/messages*", methods=["POST"], limits="60/minute", concurrency=4)],
    ...     trusted_proxies=["10.0.0.0/8"],
    ... )
    >>> [rule.name for rule in config.rules]
    ['r0']
"""

from __future__ import annotations

from .._proxies import TrustedProxies
from ._config import RateLimitConfig, RateLimitRule
from ._engine import Admission, RateLimiter
from ._middleware import RateLimitMiddleware

__all__ = [
    "Admission",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "TrustedProxies",
]
