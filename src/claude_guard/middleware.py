"""Pure ASGI faces shared by every protection, the safe-error boundary and ``RequestLimitsMiddleware``.

Every guard middleware passes non-HTTP scopes (lifespan, websocket) straight through, finds or creates the
request's ``GuardContext``, makes it current for the app, and renders a ``GuardError`` in the configured
format when the response has not started yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._asgi import (
    ASGIApp,
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    context_for,
    ensure_body,
)
from ._routes import RouteMap
from .context import GuardContext
from .context import _current as _current_context
from .errors import (
    ConfigurationError,
    GuardError,
    RateLimitedError,
    RequestTimeoutError,
    UpstreamTimeoutError,
)
from .responses import ErrorFormat, render_error

__all__ = ["RequestLimitsMiddleware", "RouteLimits", "SafeErrorMiddleware"]

logger = logging.getLogger("claude_guard")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


ResponseStartHook = Callable[[GuardContext, Message], Message]


def _tracking_send(ctx: GuardContext, hooks: list[ResponseStartHook], send: Send) -> Send:
    # The one send wrapper of a response, put in by the outermost guard: the guards further in see the
    # start through their hooks (innermost first, as if each had wrapped send itself).
    async def tracking_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            for hook in reversed(hooks):
                message = hook(ctx, message)
            ctx.response_started = True
        await send(message)

    return tracking_send


class GuardMiddleware:
    """Base of the guard middlewares: subclasses implement ``handle``, and ``on_response_start`` to see (and
    rewrite) the response's ``http.response.start`` as it passes.

    ``send`` is wrapped once per response, by the outermost guard, which tracks
    ``GuardContext.response_started`` and calls each guard's ``on_response_start`` (innermost first); the
    guards further in pass ``send`` on untouched. A guard that renders an error itself does not pass it to
    its own hook nor to those of guards inside it, which never saw the response.

    ``catch_all`` turns any unexpected exception into a 500 ``api_error`` carrying only the request id, with
    the traceback sent to the ``claude_guard`` logger.
    """

    catch_all = False

    def __init__(self, app: ASGIApp, *, error_format: ErrorFormat = "anthropic") -> None:
        self.app = app
        self.error_format: ErrorFormat = error_format
        self._hooks_start = type(self).on_response_start is not GuardMiddleware.on_response_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context_for(scope)
        hooks = ctx._response_hooks
        inner_send = send
        if hooks is None:
            hooks = ctx._response_hooks = []
            inner_send = _tracking_send(ctx, hooks, send)
        mark = len(hooks)
        if self._hooks_start:
            hooks.append(self.on_response_start)
        # Nested guards share one context: the first makes it current and resets it with its token.
        token = None if _current_context.get() is ctx else _current_context.set(ctx)
        try:
            await self.handle(ctx, scope, receive, inner_send)
        except GuardError as exc:
            if ctx.response_started:
                # Too late to render; the outermost boundary still lets nothing reach the server.
                if not self.catch_all:
                    raise
                logger.exception("claude_guard: error after the response started in %s", ctx.request_id)
                return
            del hooks[mark:]
            ctx.decide("error", "refused", status=exc.status, code=exc.code)
            await render_error(exc, request_id=ctx.request_id, format=self.error_format).send(send)
        except ClientDisconnected:
            ctx.decide("request", "client_disconnected")
        except Exception:
            if not self.catch_all:
                raise
            logger.exception("claude_guard: unhandled error in request %s", ctx.request_id)
            if not ctx.response_started:
                del hooks[mark:]
                await render_error(GuardError(), request_id=ctx.request_id, format=self.error_format).send(
                    send
                )
        finally:
            if token is not None:
                _current_context.reset(token)

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def on_response_start(self, ctx: GuardContext, message: Message) -> Message:
        """Called with the response's ``http.response.start`` as it passes this guard (not for an error this
        guard renders itself); returns it, or a copy with changes (added headers). Never awaits: the start
        is not held."""
        return message


class SafeErrorMiddleware(GuardMiddleware):
    """The outermost boundary: no exception reaches the server, no internals reach the caller.

    Example:
        >>> async def broken(scope, receive, send):
        ...     raise RuntimeError("secret internals")
        >>> app = SafeErrorMiddleware(broken)
    """

    catch_all = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteLimits:
    """Limits for the routes matching a path pattern (an exact path or an ``fnmatch`` glob, e.g.
    ``/v1/messages*``; see ``claude_guard._routes``)."""

    max_body_bytes: int | None = None
    """Largest body for these routes; ``None`` keeps the middleware's default."""
    body_timeout: float | None = None
    """Seconds to receive the body; ``None`` keeps the default."""
    timeout: float | None = None
    """Seconds until the response must start; ``None`` keeps the default."""


class RequestLimitsMiddleware(GuardMiddleware):
    """Request size, time and in-flight limits, and the safe-error boundary.

    - the body is read once with a cap (``Content-Length`` first, then counted chunks): 413 past it;
    - the body must arrive within ``body_timeout`` seconds: 408;
    - the response must start within ``timeout`` seconds (the upstream call): 504 ``timeout_error``;
    - at most ``max_in_flight`` requests at once in this process, and ``max_in_flight_per_principal`` for one
      principal (or one client address before authentication): 429. Caps that hold across replicas are
      ``RateLimitMiddleware``'s concurrency leases.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> upload = {"/upload": RouteLimits(max_body_bytes=10_000_000)}
        >>> guarded = RequestLimitsMiddleware(app, max_body_bytes=1024, routes=upload)
    """

    catch_all = True

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = 10 * 1024 * 1024,
        body_timeout: float = 30.0,
        timeout: float | None = 300.0,
        max_in_flight: int | None = None,
        max_in_flight_per_principal: int | None = None,
        routes: Mapping[str, RouteLimits] | None = None,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        if max_body_bytes <= 0 or body_timeout <= 0 or (timeout is not None and timeout <= 0):
            raise ConfigurationError("limits must be positive")
        for cap in (max_in_flight, max_in_flight_per_principal):
            if cap is not None and cap <= 0:
                raise ConfigurationError("in-flight caps must be positive or None")
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.max_in_flight_per_principal = max_in_flight_per_principal
        self.routes = dict(routes or {})
        self._routes = RouteMap(self.routes)
        # In-flight counts are shared by every request of this process, so they live on the instance;
        # they are only touched between awaits on one event loop.
        self._in_flight = 0
        self._in_flight_by: dict[str, int] = {}

    def _limits_for(self, path: str) -> tuple[int, float, float | None]:
        body, body_timeout, timeout = self.max_body_bytes, self.body_timeout, self.timeout
        limits = self._routes.get(path)
        if limits is not None:
            if limits.max_body_bytes is not None:
                body = limits.max_body_bytes
            if limits.body_timeout is not None:
                body_timeout = limits.body_timeout
            if limits.timeout is not None:
                timeout = limits.timeout
        return body, body_timeout, timeout

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        max_body, body_timeout, timeout = self._limits_for(ctx.path)
        ctx.max_body_bytes = max_body
        who = ctx.principal.key_id if ctx.principal else f"addr:{ctx.client_addr}"
        self._acquire(who)
        try:
            if ctx.method in _BODY_METHODS:
                try:
                    async with asyncio.timeout(body_timeout):
                        receive = await ensure_body(ctx, scope, receive)
                except TimeoutError:
                    raise RequestTimeoutError() from None
            if timeout is None:
                await self.app(scope, receive, send)
            else:
                await self._call_with_deadline(scope, receive, send, timeout)
        finally:
            self._release(who)

    async def _call_with_deadline(self, scope: Scope, receive: Receive, send: Send, timeout: float) -> None:
        # The deadline covers the wait for the response to start (the upstream call); a stream that has
        # started is bounded by the upstream client's own timeout instead.
        deadline = asyncio.timeout(timeout)

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, watching_send)
        except TimeoutError:
            if deadline.expired():
                raise UpstreamTimeoutError() from None
            raise

    def _acquire(self, who: str) -> None:
        if self.max_in_flight is not None and self._in_flight >= self.max_in_flight:
            raise RateLimitedError("Too many requests in flight.", retry_after=1, code="in_flight")
        per = self._in_flight_by.get(who, 0)
        if self.max_in_flight_per_principal is not None and per >= self.max_in_flight_per_principal:
            raise RateLimitedError(
                "Too many requests in flight for this key.", retry_after=1, code="in_flight_per_principal"
            )
        self._in_flight += 1
        self._in_flight_by[who] = per + 1

    def _release(self, who: str) -> None:
        self._in_flight -= 1
        left = self._in_flight_by.get(who, 1) - 1
        if left:
            self._in_flight_by[who] = left
        else:
            self._in_flight_by.pop(who, None)
