"""``rate_limit(...)``: the same engine as a per-route dependency (FastAPI ``Depends``, or awaited)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from .._asgi import context_for
from ._config import KeyFunction, KeyKind, RateLimitRule, Strategy
from ._engine import RateLimiter
from ._policy import LIMITER, MIDDLEWARE, admit, plan, rate_limit_headers
from ._proxies import TrustedProxies, client_address

__all__ = ["rate_limit"]

_default_limiter: RateLimiter | None = None


def _fallback_limiter() -> RateLimiter:
    global _default_limiter
    if _default_limiter is None:
        _default_limiter = RateLimiter()
    return _default_limiter


def rate_limit(
    limits: str,
    *,
    key: KeyKind | KeyFunction = "principal",
    strategy: Strategy = "moving_window",
    name: str | None = None,
    limiter: RateLimiter | None = None,
    on_store_error: Literal["closed", "open"] = "closed",
    trusted_proxies: TrustedProxies | None = None,
    legacy_headers: bool = False,
) -> Callable[..., Awaitable[None]]:
    """A dependency that admits the request against ``limits`` or raises ``RateLimitedError`` (429).

    The engine is ``limiter``, else the one of the ``RateLimitMiddleware`` the request passed through, else a
    process-wide memory engine. Counters are per route (its path template) unless ``name`` is given: routes
    sharing a ``name`` share a budget. The 429 is rendered by the guard middleware around the app
    (``ClaudeGuard.install`` puts one there). With a ``RateLimitMiddleware`` around the app, the headers are
    added by it; without one, FastAPI adds them from the injected ``Response``.

    Example:
        >>> from fastapi import Depends, FastAPI
        >>> app = FastAPI()
        >>> @app.post("/analyze", dependencies=[Depends(rate_limit("10/minute;100/day"))])
        ... async def analyze() -> dict[str, str]:
        ...     return {"result": "ok"}
    """
    from starlette.requests import Request
    from starlette.responses import Response

    template = RateLimitRule(limits=limits, key=key, strategy=strategy, name=name or "dep")
    by_route: dict[str, RateLimitRule] = {}

    async def dependency(request: Request, response: Response | None = None) -> None:
        scope = request.scope
        ctx = context_for(scope)
        if trusted_proxies:
            ctx.client_addr = client_address(scope, trusted_proxies)
        engine = limiter or ctx.state.get(LIMITER) or _fallback_limiter()
        rule_name = name or _route_name(scope)
        rule = by_route.get(rule_name)
        if rule is None:
            rule = by_route[rule_name] = RateLimitRule(
                limits=limits, key=template.key, strategy=template.strategy, name=rule_name
            )
        checks, caps = await plan(engine, [(rule_name, rule)], ctx, scope)
        admission = await admit(
            engine, ctx, checks, caps, on_store_error=on_store_error, legacy_headers=legacy_headers
        )
        if admission is not None and response is not None and not ctx.state.get(MIDDLEWARE):
            for header, value in rate_limit_headers(admission.limits, legacy=legacy_headers):
                response.headers[header] = value

    # FastAPI reads the signature to inject Request and Response; give it the real classes, not strings.
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
            inspect.Parameter(
                "response", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Response, default=None
            ),
        ],
        return_annotation=None,
    )
    return dependency


def _route_name(scope: Any) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "/")
    cleaned = "".join(c for c in str(path) if 33 <= ord(c) <= 126 and c not in '"\\')
    return f"route:{cleaned or '/'}"
