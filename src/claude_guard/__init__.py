"""claude_guard: the protections of a Claude API security checklist for any ASGI app that calls Claude.

Public names are imported on first use, so ``import claude_guard`` (and the pytest plugin, which pytest loads
in every run) stays cheap: the ``anthropic`` SDK is only imported by what needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import __all__ as _ERRORS

if TYPE_CHECKING:  # for type checkers only; tests/test_public_api.py checks these agree with _WHERE
    from .audit import AuditLogger as AuditLogger
    from .audit import AuditMiddleware as AuditMiddleware
    from .context import GuardContext as GuardContext
    from .context import Principal as Principal
    from .context import current_context as current_context
    from .errors import *  # noqa: F403 - every error, as listed in errors.__all__
    from .gateway import MessagesProxy as MessagesProxy
    from .guard import ClaudeGuard as ClaudeGuard
    from .keys import APIKeyMiddleware as APIKeyMiddleware
    from .ledger import CostMeterMiddleware as CostMeterMiddleware
    from .ledger import Ledger as Ledger
    from .middleware import RequestLimitsMiddleware as RequestLimitsMiddleware
    from .middleware import RouteLimits as RouteLimits
    from .middleware import SafeErrorMiddleware as SafeErrorMiddleware
    from .pii import PIIRedactionMiddleware as PIIRedactionMiddleware
    from .pricing import PriceTable as PriceTable
    from .profiles import Profile as Profile
    from .ratelimit import RateLimitMiddleware as RateLimitMiddleware
    from .secrets import Secret as Secret
    from .settings import GuardSettings as GuardSettings
    from .transport import HTTPSOnlyMiddleware as HTTPSOnlyMiddleware
    from .upstream import UpstreamClient as UpstreamClient
    from .validation import PromptValidationMiddleware as PromptValidationMiddleware

# The one table of the top level: each public name and the module it is imported from on first use. Every
# error of ``claude_guard.errors`` is here too (``from claude_guard import RateLimitedError``, as in httpx).
_WHERE: dict[str, str] = {
    "APIKeyMiddleware": "keys",
    "AuditLogger": "audit",
    "AuditMiddleware": "audit",
    "ClaudeGuard": "guard",
    "CostMeterMiddleware": "ledger",
    "GuardContext": "context",
    "GuardSettings": "settings",
    "HTTPSOnlyMiddleware": "transport",
    "Ledger": "ledger",
    "MessagesProxy": "gateway",
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
    **dict.fromkeys(_ERRORS, "errors"),
}

__all__ = sorted(_WHERE)  # derived from the table, so each name is written once


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
