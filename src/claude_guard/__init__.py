"""claude_guard: the protections of a Claude API security checklist for any ASGI app that calls Claude.

Public names are imported on first use, so ``import claude_guard`` (and the pytest plugin, which pytest loads
in every run) stays cheap: the ``anthropic`` SDK is only imported by what needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import GuardContext, Principal, current_context
    from .errors import GuardError
    from .guard import ClaudeGuard
    from .keys import APIKeyMiddleware
    from .middleware import RequestLimitsMiddleware, RouteLimits, SafeErrorMiddleware
    from .profiles import Profile
    from .secrets import Secret
    from .settings import GuardSettings
    from .upstream import MessagesProxy, UpstreamClient

__all__ = [
    "APIKeyMiddleware",
    "ClaudeGuard",
    "GuardContext",
    "GuardError",
    "GuardSettings",
    "MessagesProxy",
    "Principal",
    "Profile",
    "RequestLimitsMiddleware",
    "RouteLimits",
    "SafeErrorMiddleware",
    "Secret",
    "UpstreamClient",
    "current_context",
]

__version__ = "0.1.0.dev0"

_WHERE = {
    "APIKeyMiddleware": "keys",
    "ClaudeGuard": "guard",
    "GuardContext": "context",
    "GuardError": "errors",
    "GuardSettings": "settings",
    "MessagesProxy": "upstream",
    "Principal": "context",
    "Profile": "profiles",
    "RequestLimitsMiddleware": "middleware",
    "RouteLimits": "middleware",
    "SafeErrorMiddleware": "middleware",
    "Secret": "secrets",
    "UpstreamClient": "upstream",
    "current_context": "context",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'claude_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
