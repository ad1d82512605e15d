"""The Litestar face: a plugin that installs every protection, and per-route dependencies.

A route requires a profile with ``dependencies={"principal": Provide(require_profile("analysis"))}`` and a
``principal: NamedDependency[Principal]`` parameter.

Example:
    >>> from litestar import Litestar
    >>> from claude_guard import ClaudeGuard
    >>> app = Litestar([], plugins=[ClaudeGuardPlugin(ClaudeGuard())])
    >>> isinstance(app.state["claude_guard"], ClaudeGuard)
    True
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# Litestar reads dependency signatures at run time, from this module's globals.
from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol

from ._asgi import Scope, context_for
from .context import Principal
from .errors import ConfigurationError, GuardError
from .guard import ClaudeGuard
from .keys import require_profiles
from .logscrub import install_log_scrubbing
from .responses import render_error

__all__ = ["ClaudeGuardPlugin", "get_guard", "require_profile"]


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
        app_config.exception_handlers = {**app_config.exception_handlers, GuardError: self._handle}
        app_config.state["claude_guard"] = guard
        app_config.on_startup = [*app_config.on_startup, _start_log_scrubbing]
        app_config.on_shutdown = [*app_config.on_shutdown, guard.aclose]
        return app_config

    def _handle(self, request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        assert isinstance(exc, GuardError)
        ctx = context_for(request.scope)  # type: ignore[arg-type]
        rendered = render_error(exc, request_id=ctx.request_id, format=self.guard.settings.error_format)
        return Response(rendered.body, status_code=rendered.status, headers=rendered.headers)


def _start_log_scrubbing() -> None:
    # A hook of its own: Litestar passes the app to hooks that take an argument.
    install_log_scrubbing()


def get_guard(request: Request[Any, Any, Any]) -> ClaudeGuard:
    guard = request.app.state.get("claude_guard")
    if not isinstance(guard, ClaudeGuard):
        raise ConfigurationError("No ClaudeGuard on this app: add ClaudeGuardPlugin(guard) to its plugins.")
    return guard


def require_profile(
    *profiles: str, allow_admin: bool = True
) -> Callable[[Request[Any, Any, Any]], Awaitable[Principal]]:
    """A dependency (``Provide(require_profile("analysis"))``) that authenticates the caller unless the
    middleware did, requires one of ``profiles`` (or ``admin``) and returns the ``Principal``."""
    if not profiles:
        raise ValueError("require_profile needs at least one profile name")
    names = tuple(profiles)

    async def dependency(request: Request[Any, Any, Any]) -> Principal:
        guard = get_guard(request)
        scope: Scope = request.scope  # type: ignore[assignment]
        ctx = context_for(scope)
        return await require_profiles(ctx, scope, guard.authenticator, names, allow_admin=allow_admin)

    return dependency
