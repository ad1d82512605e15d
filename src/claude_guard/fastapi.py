"""Per-route dependencies for FastAPI (``Depends(...)``).

They find the guard that ``ClaudeGuard.install(app)`` put in ``app.state.claude_guard``, and the request's
``GuardContext``, so a route dependency and the middlewares never authenticate or charge twice. Each one is a
thin face over a framework-free function of its protection (``RouteRateLimit``, ``apply_max_cost``,
``validate_route_body``, ``redact_route_body``, ``require_profiles``), the same ones the Litestar twins in
``claude_guard.litestar`` use.

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

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

# FastAPI reads a dependency's annotations at run time, from this module's globals: Request must be here.
from starlette.requests import Request

from ._asgi import context_for
from .context import Principal
from .errors import ConfigurationError
from .keys import require_profiles
from .ledger import max_cost
from .pii import pii_redaction
from .ratelimit import rate_limit
from .validation import validated_messages

if TYPE_CHECKING:
    from .guard import ClaudeGuard

__all__ = ["get_guard", "max_cost", "pii_redaction", "rate_limit", "require_profile", "validated_messages"]


def get_guard(request: Request) -> ClaudeGuard:
    """The ``ClaudeGuard`` installed on the request's app."""
    guard = getattr(request.app.state, "claude_guard", None)
    if guard is None:
        raise ConfigurationError("No ClaudeGuard on this app: call guard.install(app) first.")
    return guard  # type: ignore[no-any-return]


def require_profile(*profiles: str, allow_admin: bool = True) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller (unless a middleware already did) and requires one of
    ``profiles``; the built-in ``admin`` profile passes too unless ``allow_admin`` is false.

    Returns the ``Principal``.
    """
    if not profiles:
        raise ValueError("require_profile needs at least one profile name")
    names = tuple(profiles)

    async def dependency(request: Request) -> Principal:
        guard = get_guard(request)
        ctx = context_for(request.scope)
        return await require_profiles(ctx, request.scope, guard.authenticator, names, allow_admin=allow_admin)

    return dependency
