"""claude_guard: the protections of a Claude API security checklist for any ASGI app that calls Claude.

Public names are imported on first use, so ``import claude_guard`` (and the pytest plugin, which pytest loads
in every run) stays cheap: the ``anthropic`` SDK is only imported by what needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audit import AuditLogger, AuditMiddleware
    from .context import GuardContext, Principal, current_context
    from .errors import GuardError
    from .guard import ClaudeGuard
    from .keys import APIKeyMiddleware
    from .ledger import CostMeterMiddleware, Ledger
    from .middleware import RequestLimitsMiddleware, RouteLimits, SafeErrorMiddleware
    from .pii import PIIRedactionMiddleware
    from .pricing import PriceTable
    from .profiles import Profile
    from .ratelimit import RateLimitMiddleware
    from .secrets import Secret
    from .settings import GuardSettings
    from .transport import HTTPSOnlyMiddleware
    from .upstream import MessagesProxy, UpstreamClient
    from .validation import PromptValidationMiddleware

__all__ = [
    "APIKeyMiddleware",
    "AuditLogger",
    "AuditMiddleware",
    "ClaudeGuard",
    "CostMeterMiddleware",
    "GuardContext",
    "GuardError",
    "GuardSettings",
    "HTTPSOnlyMiddleware",
    "Ledger",
    "MessagesProxy",
    "PIIRedactionMiddleware",
    "PriceTable",
    "Principal",
    "Profile",
    "PromptValidationMiddleware",
    "RateLimitMiddleware",
    "RequestLimitsMiddleware",
    "RouteLimits",
    "SafeErrorMiddleware",
    "Secret",
    "UpstreamClient",
    "current_context",
]


_WHERE = {
    "APIKeyMiddleware": "keys",
    "AuditLogger": "audit",
    "AuditMiddleware": "audit",
    "ClaudeGuard": "guard",
    "CostMeterMiddleware": "ledger",
    "GuardContext": "context",
    "GuardError": "errors",
    "GuardSettings": "settings",
    "HTTPSOnlyMiddleware": "transport",
    "Ledger": "ledger",
    "MessagesProxy": "upstream",
    "PIIRedactionMiddleware": "pii",
    "PriceTable": "pricing",
    "Principal": "context",
    "Profile": "profiles",
    "PromptValidationMiddleware": "validation",
    "RateLimitMiddleware": "ratelimit",
    "RequestLimitsMiddleware": "middleware",
    "RouteLimits": "middleware",
    "SafeErrorMiddleware": "middleware",
    "Secret": "secrets",
    "UpstreamClient": "upstream",
    "current_context": "context",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # One source of truth: the installed distribution's metadata (pyproject's version).
        from importlib.metadata import version

        value: Any = version("claude-guard")
        globals()[name] = value
        return value
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'claude_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
