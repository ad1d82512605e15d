"""claude_guard: the protections of a Claude API security checklist for any ASGI app that calls Claude."""

from __future__ import annotations

from .context import GuardContext, Principal, current_context
from .errors import GuardError
from .guard import ClaudeGuard
from .middleware import RequestLimitsMiddleware, RouteLimits, SafeErrorMiddleware
from .secrets import Secret
from .settings import GuardSettings
from .upstream import MessagesProxy, UpstreamClient

__all__ = [
    "ClaudeGuard",
    "GuardContext",
    "GuardError",
    "GuardSettings",
    "MessagesProxy",
    "Principal",
    "RequestLimitsMiddleware",
    "RouteLimits",
    "SafeErrorMiddleware",
    "Secret",
    "UpstreamClient",
    "current_context",
]

__version__ = "0.1.0.dev0"
