"""The Litestar face: a plugin that installs every protection, and per-route dependencies.

The dependencies are the twins of ``claude_guard.fastapi``'s, built on the same framework-free functions of
each protection: ``require_profile``, ``rate_limit``, ``max_cost``, ``validated_messages`` and
``pii_redaction``. A route uses one by naming it in ``dependencies`` and taking a parameter of that name::

    @post("/analyze", dependencies={
        "principal": Provide(require_profile("analysis")),
        "admitted": Provide(rate_limit("10/minute", name="analyze", after=("principal",))),
        "cost_cap": Provide(max_cost(5.0, after=("admitted",))),
    })
    async def analyze(
        data: Task,
        principal: NamedDependency[Principal],
        admitted: NamedDependency[Admission | None],
        cost_cap: NamedDependency[Decimal],
    ): ...

Litestar resolves independent dependencies concurrently. Each one stands alone (it finds the request's
``GuardContext`` in the scope), but a refused profile should not spend rate-limit quota:
``after=("principal",)`` makes a dependency wait for the named ones (Litestar's own sub-dependency
mechanism), so the checks run in the order FastAPI's ``dependencies=[...]`` list gives.

A dependency that reads the body reads the one ``ClaudeGuardPlugin`` captured (every ``POST``, ``PUT`` and
``PATCH`` body is read once, with the guard's cap, before the route runs); without the plugin's middlewares
it captures the body itself through the same capture (``claude_guard._asgi``: the declared length first,
then chunks counted, 413 past the cap), with the guard's cap when the app has a guard and 10 MiB otherwise,
and hands Litestar a replay of it through the connection's public ``receive``.

Example:
    >>> from litestar import Litestar
    >>> from claude_guard import ClaudeGuard
    >>> app = Litestar([], plugins=[ClaudeGuardPlugin(ClaudeGuard())])
    >>> isinstance(app.state["claude_guard"], ClaudeGuard)
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

# Litestar reads dependency signatures at run time, from this module's globals.
from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.di import NamedDependency
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol

from ._asgi import DEFAULT_MAX_BODY_BYTES, Receive, Scope, context_for, ensure_body, replay_receive
from .context import GuardContext, Principal
from .errors import ConfigurationError, GuardError
from .guard import ClaudeGuard
from .keys import require_profiles
from .ledger._meter import apply_max_cost, route_max_cost
from .logscrub import install_log_scrubbing
from .pii import Redaction, Redactor
from .pii._middleware import redact_route_body
from .ratelimit import Admission, RateLimiter, TrustedProxies
from .ratelimit._config import KeyFunction, KeyKind, Strategy
from .ratelimit._route import RouteRateLimit
from .responses import ErrorFormat, render_error
from .validation import PromptValidator, ValidationConfig
from .validation._middleware import validate_route_body

__all__ = [
    "ClaudeGuardPlugin",
    "error_handler",
    "get_guard",
    "max_cost",
    "pii_redaction",
    "rate_limit",
    "require_profile",
    "validated_messages",
]


class ClaudeGuardPlugin(InitPluginProtocol):
    """``Litestar(plugins=[ClaudeGuardPlugin(guard)])``: every protection, a ``GuardError`` handler, the guard
    in ``app.state.claude_guard`` for dependencies, and the guard's connections closed on shutdown.

    Litestar runs middleware after routing, so the guard sees requests to existing routes only.
    """

    def __init__(self, guard: ClaudeGuard) -> None:
        self.guard = guard

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        guard = self.guard
        # guard.middleware() is innermost first; Litestar's list is outermost first.
        defined = [DefineMiddleware(cls, **options) for cls, options in reversed(guard.middleware())]
        app_config.middleware = [*defined, *app_config.middleware]
        handler = error_handler(guard.settings.error_format)
        app_config.exception_handlers = {**app_config.exception_handlers, GuardError: handler}
        app_config.state["claude_guard"] = guard
        app_config.on_startup = [*app_config.on_startup, _start_log_scrubbing, guard.astart]
        app_config.on_shutdown = [*app_config.on_shutdown, guard.aclose]
        return app_config


def error_handler(
    error_format: ErrorFormat = "anthropic",
) -> Callable[[Request[Any, Any, Any], Exception], Response[bytes]]:
    """The handler that renders a ``GuardError`` in Anthropic's envelope (or RFC 9457 problem details) with
    the request's id: ``Litestar(exception_handlers={GuardError: error_handler()})`` for routes that use the
    dependencies without ``ClaudeGuardPlugin``."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        assert isinstance(exc, GuardError)
        ctx = context_for(request.scope)  # type: ignore[arg-type]
        rendered = render_error(exc, request_id=ctx.request_id, format=error_format)
        return Response(rendered.body, status_code=rendered.status, headers=rendered.headers)

    return handle


def _start_log_scrubbing() -> None:
    # A hook of its own: Litestar passes the app to hooks that take an argument.
    install_log_scrubbing()


def get_guard(request: Request[Any, Any, Any]) -> ClaudeGuard:
    """The ``ClaudeGuard`` of ``ClaudeGuardPlugin`` on the request's app."""
    guard = _installed_guard(request)
    if guard is None:
        raise ConfigurationError("No ClaudeGuard on this app: add ClaudeGuardPlugin(guard) to its plugins.")
    return guard


def _installed_guard(request: Request[Any, Any, Any]) -> ClaudeGuard | None:
    guard = request.app.state.get("claude_guard")
    return guard if isinstance(guard, ClaudeGuard) else None


def require_profile(
    *profiles: str, allow_admin: bool = True
) -> Callable[[Request[Any, Any, Any]], Awaitable[Principal]]:
    """A dependency (``Provide(require_profile("analysis"))``) that authenticates the caller unless the
    middleware did, requires one of ``profiles`` (or ``admin``) and returns the ``Principal``."""
    if not profiles:
        raise ConfigurationError("require_profile needs at least one profile name")
    names = tuple(profiles)

    async def dependency(request: Request[Any, Any, Any]) -> Principal:
        guard = get_guard(request)
        scope: Scope = request.scope  # type: ignore[assignment]
        ctx = context_for(scope)
        return await require_profiles(ctx, scope, guard.authenticator, names, allow_admin=allow_admin)

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
    after: Sequence[str] = (),
) -> Callable[..., Awaitable[Admission | None]]:
    """A dependency (``Provide(rate_limit("10/minute"))``) that admits the request against ``limits`` or
    raises ``RateLimitedError`` (429, with ``retry-after`` and ``RateLimit`` headers).

    The engine is ``limiter``, else the guard's (the one ``RateLimitMiddleware`` shares), else a process-wide
    memory engine; counters are per route unless ``name`` is given. ``ClaudeGuardPlugin``'s
    ``RateLimitMiddleware`` adds the ``RateLimit`` headers of an admitted request to the response. Returns
    the ``Admission`` (``None`` when the store is down and the policy fails open). ``after`` names the
    dependencies of the route that must be resolved first (``("principal",)``).

    Example:
        >>> from litestar import post
        >>> from litestar.di import Provide
        >>> @post("/analyze", dependencies={"admitted": Provide(rate_limit("10/minute;100/day"))})
        ... async def analyze(admitted: NamedDependency[Admission | None]) -> dict[str, str]:
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

    async def dependency(request: Request[Any, Any, Any]) -> Admission | None:
        return await route.admit(request.scope)

    return _after(dependency, after)


def max_cost(usd: Decimal | float | str, *, after: Sequence[str] = ()) -> Callable[..., Awaitable[Decimal]]:
    """A dependency (``Provide(max_cost(5.0))``) setting the maximum worst-case USD of each Claude call the
    route makes: the egress hook refuses (400) a call whose worst case exceeds it. Returns the maximum.

    Example:
        >>> from litestar import post
        >>> from litestar.di import Provide
        >>> @post("/analyze", dependencies={"cost_cap": Provide(max_cost("0.50"))})
        ... async def analyze(cost_cap: NamedDependency[Decimal]) -> dict[str, str]:
        ...     return {"max_cost_usd": str(cost_cap)}
    """
    limit = route_max_cost(usd)

    async def dependency(request: Request[Any, Any, Any]) -> Decimal:
        apply_max_cost(context_for(request.scope), limit)  # type: ignore[arg-type]
        return limit

    return _after(dependency, after)


def validated_messages(
    config: ValidationConfig | None = None, *, count_tokens: bool = False, after: Sequence[str] = ()
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A dependency that validates the route's Messages request body and returns it (sanitized if need be).

    Raises the validator's ``GuardError`` (400 naming the rule id or field, 403 naming the model or tool),
    which ``ClaudeGuardPlugin`` renders in Anthropic's envelope.
    """
    validator = PromptValidator(config)

    async def dependency(request: Request[Any, Any, Any]) -> dict[str, Any]:
        ctx = await _captured(request)
        return await validate_route_body(validator, ctx, ctx.json(), count_tokens=count_tokens)

    return _after(dependency, after)


def pii_redaction(redactor: Redactor, *, after: Sequence[str] = ()) -> Callable[..., Awaitable[Redaction]]:
    """A dependency that redacts the route's Messages request body and returns the ``Redaction``.

    The route reads the redacted body from ``redaction.body`` (never from Litestar's ``data``, which was
    parsed before the redaction) and restores what it sends back with the same ``Redaction``. A request that
    ``PIIRedactionMiddleware`` already redacted is not redacted again.
    """

    async def dependency(request: Request[Any, Any, Any]) -> Redaction:
        return await redact_route_body(redactor, await _captured(request))

    return _after(dependency, after)


async def _captured(request: Request[Any, Any, Any]) -> GuardContext:
    """The request's context with its body captured: the plugin's capture, else our own with the same cap."""
    scope: Scope = request.scope  # type: ignore[assignment]
    ctx = context_for(scope)
    if ctx.body is None:
        if ctx.max_body_bytes is None:
            guard = _installed_guard(request)
            ctx.max_body_bytes = DEFAULT_MAX_BODY_BYTES if guard is None else guard.settings.max_body_bytes
        connection: Receive = request.receive  # type: ignore[assignment]
        receive = connection
        if not request.is_connected:
            # Litestar already read the body (for the route's ``data``): capture what it read, with the cap.
            receive = replay_receive(await request.body(), connection)
        await ensure_body(ctx, scope, receive)
        # ``receive`` is the connection's public ASGI callable: Litestar reads the guard's body from it later.
        request.receive = replay_receive(lambda: ctx.body or b"", connection)  # type: ignore[assignment]
    return ctx


def _after(
    dependency: Callable[[Request[Any, Any, Any]], Awaitable[Any]], names: Sequence[str]
) -> Callable[..., Awaitable[Any]]:
    """``dependency`` declaring the route dependencies ``names`` as parameters, so Litestar resolves them
    first (it orders dependencies by the parameters they take)."""
    if isinstance(names, str):
        raise TypeError("after takes a sequence of dependency names, e.g. after=('principal',)")
    if not names:
        return dependency

    async def ordered(request: Request[Any, Any, Any], **_resolved: Any) -> Any:
        return await dependency(request)

    request_type = Request[Any, Any, Any]
    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=request_type)
    ]
    named = NamedDependency[Any]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=named) for name in names
    ]
    ordered.__signature__ = inspect.Signature(parameters, return_annotation=Any)  # type: ignore[attr-defined]
    ordered.__annotations__ = {"request": request_type, **dict.fromkeys(names, named), "return": Any}
    return ordered
