"""``RouteRateLimit``: the framework-free part of a per-route rate limit, which the ``rate_limit(...)``
dependencies of ``claude_guard.fastapi`` and ``claude_guard.litestar`` both call with the ASGI scope."""

from __future__ import annotations

from typing import Any, Literal

from .._asgi import context_for
from .._proxies import TrustedProxies, client_address
from ..context import GuardContext
from ._config import KeyFunction, KeyKind, RateLimitRule, Strategy
from ._engine import Admission, RateLimiter
from ._policy import admit, plan, rate_limit_headers, state_of

__all__ = ["RouteRateLimit"]

_default_limiter: RateLimiter | None = None


def _fallback_limiter() -> RateLimiter:
    global _default_limiter
    if _default_limiter is None:
        _default_limiter = RateLimiter()
    return _default_limiter


class RouteRateLimit:
    """The framework-free part of a per-route rate limit: what ``claude_guard.fastapi.rate_limit(...)`` and
    ``claude_guard.litestar.rate_limit(...)`` both call, with nothing but the ASGI scope.

    The engine is ``limiter``, else the one of the ``RateLimitMiddleware`` the request passed through, else a
    process-wide memory engine. Counters are per route (its path template) unless ``name`` is given: routes
    sharing a ``name`` share a budget.

    Example:
        >>> import asyncio
        >>> from claude_guard.errors import RateLimitedError
        >>> route = RouteRateLimit("2/minute", key="address", name="demo", limiter=RateLimiter())
        >>> async def three() -> list[bool]:
        ...     outcomes = []
        ...     for _ in range(3):
        ...         try:
        ...             await route.admit({"type": "http", "path": "/x", "client": ("10.0.0.1", 1)})
        ...             outcomes.append(True)
        ...         except RateLimitedError:
        ...             outcomes.append(False)
        ...     return outcomes
        >>> asyncio.run(three())
        [True, True, False]
    """

    __slots__ = (
        "_by_route",
        "_template",
        "legacy_headers",
        "limiter",
        "name",
        "on_store_error",
        "trusted_proxies",
    )

    def __init__(
        self,
        limits: str,
        *,
        key: KeyKind | KeyFunction = "principal",
        strategy: Strategy = "moving_window",
        name: str | None = None,
        limiter: RateLimiter | None = None,
        on_store_error: Literal["closed", "open"] = "closed",
        trusted_proxies: TrustedProxies | None = None,
        legacy_headers: bool = False,
    ) -> None:
        self._template = RateLimitRule(limits=limits, key=key, strategy=strategy, name=name or "dep")
        self._by_route: dict[str, RateLimitRule] = {}
        self.name = name
        self.limiter = limiter
        self.on_store_error: Literal["closed", "open"] = on_store_error
        self.trusted_proxies = trusted_proxies
        self.legacy_headers = legacy_headers

    async def admit(self, scope: Any) -> Admission | None:
        """Admit the request of ``scope`` or raise ``RateLimitedError`` (429); ``None`` when failing open."""
        ctx = context_for(scope)
        if self.trusted_proxies:
            ctx.client_addr = client_address(scope, self.trusted_proxies)
        engine = self.limiter or state_of(ctx).limiter or _fallback_limiter()
        rule_name = self.name or _route_name(scope)
        rule = self._by_route.get(rule_name)
        if rule is None:
            template = self._template
            rule = self._by_route[rule_name] = RateLimitRule(
                limits=template.limits, key=template.key, strategy=template.strategy, name=rule_name
            )
        checks, caps = await plan(engine, [(rule_name, rule)], ctx, scope)
        return await admit(
            engine, ctx, checks, caps, on_store_error=self.on_store_error, legacy_headers=self.legacy_headers
        )

    def headers(self, ctx: GuardContext, admission: Admission | None) -> list[tuple[str, str]]:
        """The ``RateLimit`` headers the route's response should carry itself: none when a
        ``RateLimitMiddleware`` is around the app (it adds them) or when the request was admitted open."""
        if admission is None or state_of(ctx).middleware:
            return []
        return rate_limit_headers(admission.limits, legacy=self.legacy_headers)


def _route_name(scope: Any) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "/")
    cleaned = "".join(c for c in str(path) if 33 <= ord(c) <= 126 and c not in '"\\')
    return f"route:{cleaned or '/'}"
