"""The FastAPI and Starlette face: ``install`` (what ``ClaudeGuard.install(app)`` delegates to), the
``GuardError`` handler, and the per-route dependencies for ``Depends(...)``.

The dependencies are ``require_profile``, ``rate_limit``, ``max_cost``, ``validated_messages`` and
``pii_redaction``. They find the guard that ``install`` put in ``app.state.claude_guard`` and the request's
``GuardContext``, so a route dependency and the middlewares never authenticate, count, redact or charge
twice. Each one is a thin face over a framework-free function of its protection (``require_profiles``,
``RouteRateLimit``, ``apply_max_cost``, ``validate_route_body``, ``redact_route_body``), the same ones the
Litestar twins in ``claude_guard.litestar`` call.

A dependency that needs the body reads the one the guard captured (``RequestLimitsMiddleware`` reads every
``POST``, ``PUT`` and ``PATCH`` body once, with ``CLAUDE_GUARD_MAX_BODY_BYTES``). Used without the guard's
middlewares, it captures the body itself through the same capture (``claude_guard._asgi``: the declared
length first, then chunks counted, 413 past the cap), with the guard's cap when the app has a guard and
10 MiB otherwise. Either way the route then reads the guard's body (``await request.json()`` is the
redacted or sanitized one).

Example:
    >>> from fastapi import Depends, FastAPI
    >>> from claude_guard import ClaudeGuard
    >>> app = FastAPI()
    >>> @app.post("/analyze", dependencies=[Depends(require_profile("analysis"))])
    ... async def analyze() -> dict[str, str]:
    ...     return {}
    >>> app = ClaudeGuard().install(app)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, cast

# FastAPI reads a dependency's annotations at run time, from this module's globals: every class a dependency
# names (Request, Response) is imported here, at the top, and nowhere else.
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ._asgi import DEFAULT_MAX_BODY_BYTES, Message, Receive, context_for, ensure_body
from .context import GuardContext, Principal
from .errors import ConfigurationError, GuardError
from .keys import require_profiles
from .ledger._meter import apply_max_cost, route_max_cost
from .pii import Redaction, Redactor
from .pii._middleware import redact_route_body
from .ratelimit import RateLimiter, TrustedProxies
from .ratelimit._config import KeyFunction, KeyKind, Strategy
from .ratelimit._route import RouteRateLimit
from .responses import ErrorFormat, render_error
from .validation import PromptValidator, ValidationConfig
from .validation._middleware import validate_route_body

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .guard import ClaudeGuard

__all__ = [
    "error_handler",
    "get_guard",
    "install",
    "max_cost",
    "pii_redaction",
    "rate_limit",
    "require_profile",
    "validated_messages",
]

_NO_RESPONSE = cast(Response, None)
"""``rate_limit``'s ``response`` when the dependency is awaited by hand. FastAPI always injects one, and needs
the bare class as the annotation to do so (with ``Response | None`` it would take a query parameter)."""


def install(guard: ClaudeGuard, app: Starlette) -> Starlette:
    """Install every protection of ``guard`` on a Starlette or FastAPI ``app`` (``guard.install(app)``).

    The middlewares go in through ``add_middleware``, so they sit inside the framework's own error boundary
    and outside its routing; a ``GuardError`` raised by a route dependency is rendered in the guard's format;
    route dependencies find the guard in ``app.state.claude_guard``.
    """
    for cls, options in guard.middleware():
        app.add_middleware(cast(Any, cls), **options)
    app.state.claude_guard = guard
    app.add_exception_handler(GuardError, error_handler(guard.settings.error_format))
    return app


def error_handler(
    error_format: ErrorFormat = "anthropic",
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler that renders a ``GuardError`` in Anthropic's envelope (or RFC 9457 problem details) with
    the request's id: ``app.add_exception_handler(GuardError, error_handler())`` for routes that use the
    dependencies without ``guard.install``."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GuardError)
        ctx = context_for(request.scope)
        rendered = render_error(exc, request_id=ctx.request_id, format=error_format)
        return Response(rendered.body, status_code=rendered.status, headers=rendered.headers)

    return handle


def get_guard(request: Request) -> ClaudeGuard:
    """The ``ClaudeGuard`` installed on the request's app."""
    guard = _installed_guard(request)
    if guard is None:
        raise ConfigurationError("No ClaudeGuard on this app: call guard.install(app) first.")
    return guard


def require_profile(*profiles: str, allow_admin: bool = True) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller (unless a middleware already did) and requires one of
    ``profiles``; the built-in ``admin`` profile passes too unless ``allow_admin`` is false.

    Returns the ``Principal``.
    """
    if not profiles:
        raise ConfigurationError("require_profile needs at least one profile name")
    names = tuple(profiles)

    async def dependency(request: Request) -> Principal:
        guard = get_guard(request)
        ctx = context_for(request.scope)
        return await require_profiles(ctx, request.scope, guard.authenticator, names, allow_admin=allow_admin)

    return dependency


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
    """A dependency that admits the request against ``limits`` or raises ``RateLimitedError`` (429, with
    ``retry-after`` and ``RateLimit`` headers).

    The engine is ``limiter``, else the one of the ``RateLimitMiddleware`` the request passed through, else a
    process-wide memory engine. Counters are per route (its path template) unless ``name`` is given: routes
    sharing a ``name`` share a budget. The 429 is rendered by the guard's handler (``guard.install``) or
    middleware. With a ``RateLimitMiddleware`` around the app, the headers of an admitted request are added
    by it; without one, by this dependency, on the response FastAPI injects.

    Example:
        >>> from fastapi import Depends, FastAPI
        >>> app = FastAPI()
        >>> @app.post("/analyze", dependencies=[Depends(rate_limit("10/minute;100/day"))])
        ... async def analyze() -> dict[str, str]:
        ...     return {"result": "ok"}
    """
    route = RouteRateLimit(
        limits,
        key=key,
        strategy=strategy,
        name=name,
        limiter=limiter,
        on_store_error=on_store_error,
        trusted_proxies=trusted_proxies,
        legacy_headers=legacy_headers,
    )

    async def dependency(request: Request, response: Response = _NO_RESPONSE) -> None:
        admission = await route.admit(request.scope)
        if response is not None:
            for header, value in route.headers(context_for(request.scope), admission):
                response.headers[header] = value

    return dependency


def max_cost(usd: Decimal | float | str) -> Callable[[Request], Awaitable[Decimal]]:
    """A dependency setting the maximum worst-case USD of each Claude call the route makes: the egress
    ``MeteringHook`` (and ``CostMeterMiddleware`` on a gateway route) refuses, with 400, any call whose worst
    case exceeds it. Returns the maximum.

    Example:
        >>> from fastapi import Depends, FastAPI
        >>> app = FastAPI()
        >>> @app.post("/analyze", dependencies=[Depends(max_cost(5.0))])
        ... async def analyze() -> dict[str, str]:
        ...     return {"result": "ok"}
    """
    limit = route_max_cost(usd)

    async def dependency(request: Request) -> Decimal:
        apply_max_cost(context_for(request.scope), limit)
        return limit

    return dependency


def validated_messages(
    config: ValidationConfig | None = None, *, count_tokens: bool = False
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency that validates the route's Messages request body and returns it (sanitized if need be).

    Raises the validator's ``GuardError`` (400 naming the rule id or field, 403 naming the model or tool, 413
    past the body cap), rendered by the guard's handler or middleware in Anthropic's envelope.

    Example:
        >>> from fastapi import Depends, FastAPI
        >>> app = FastAPI()
        >>> @app.post("/chat")
        ... async def chat(body: dict = Depends(validated_messages(ValidationConfig(max_tokens_cap=1024)))):
        ...     return {"messages": len(body["messages"])}
    """
    validator = PromptValidator(config)

    async def dependency(request: Request) -> dict[str, Any]:
        ctx = await _captured(request)
        return await validate_route_body(validator, ctx, ctx.json(), count_tokens=count_tokens)

    return dependency


def pii_redaction(redactor: Redactor) -> Callable[[Request], Awaitable[Redaction]]:
    """A dependency that redacts the route's Messages request body and returns the ``Redaction``.

    The route then reads the redacted body (``await request.json()``, or ``redaction.body``) and restores
    what it sends back with the returned ``Redaction`` (``redaction.restore(message)``,
    ``redaction.sse_restorer()``). A request that ``PIIRedactionMiddleware`` already redacted is not redacted
    again.

    Example:
        >>> from claude_guard.pii import PIIConfig
        >>> redactor = Redactor(config=PIIConfig(phone_regions=("US",)))
        >>> redacted = pii_redaction(redactor)   # def route(r: Redaction = Depends(redacted)): ...
        >>> redactor.close()
    """

    async def dependency(request: Request) -> Redaction:
        return await redact_route_body(redactor, await _captured(request))

    return dependency


def _installed_guard(request: Request) -> ClaudeGuard | None:
    return cast("ClaudeGuard | None", getattr(request.app.state, "claude_guard", None))


async def _captured(request: Request) -> GuardContext:
    """The request's context with its body captured (the guard's capture, else our own with the same cap),
    and ``request`` reading that body from now on."""
    ctx = context_for(request.scope)
    if ctx.body is None:
        if ctx.max_body_bytes is None:
            guard = _installed_guard(request)
            ctx.max_body_bytes = DEFAULT_MAX_BODY_BYTES if guard is None else guard.settings.max_body_bytes
        # Starlette's public stream: the server's chunks, or the body FastAPI already read for the route's
        # own body parameters. The guard's capture counts them against the cap.
        async with aclosing(request.stream()) as chunks:
            await ensure_body(ctx, request.scope, _receive_from(chunks))
    guarded = _reading_the_context(type(request))
    if type(request) is not guarded:
        # Starlette has no public way to hand a request another body; a subclass that overrides its public
        # reading methods does (the same object is the route's ``request``).
        request.__class__ = guarded
    return ctx


def _receive_from(chunks: AsyncIterator[bytes]) -> Receive:
    """An ASGI ``receive`` over Starlette's body stream, for the guard's capture."""

    async def receive() -> Message:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        except ClientDisconnect:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive


@cache
def _reading_the_context(cls: type[Request]) -> type[Request]:
    """``cls`` reading its body from the request's ``GuardContext``: the captured (possibly redacted or
    sanitized) body, whatever Starlette read or cached before."""
    if getattr(cls, "_reads_the_guard_context", False):
        return cls

    class GuardedRequest(cls):  # type: ignore[valid-type,misc]
        _reads_the_guard_context = True

        async def stream(self) -> AsyncIterator[bytes]:
            yield await self.body()
            yield b""

        async def body(self) -> bytes:
            return context_for(self.scope).body or b""

        async def json(self) -> Any:
            return json.loads(await self.body())

    GuardedRequest.__name__ = GuardedRequest.__qualname__ = f"Guarded{cls.__name__}"
    return GuardedRequest
