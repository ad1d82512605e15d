"""``EgressHook``: one protection's part in an app's outgoing calls to Claude.

It is core, not face: each protection that acts on outgoing calls keeps its hook in its own package
(``ledger.MeteringHook``, ``pii.PIIEgressHook``, ``sandbox.ToolPolicyEgressHook``, ``audit.TracingHook``) and
the egress face, ``claude_guard.egress.GuardAnthropicMiddleware``, chains them. Nothing here imports a web
framework or a face.
"""

from __future__ import annotations

from typing import Any

import anthropic

__all__ = ["EgressHook"]


class EgressHook:
    """One protection's part in outgoing calls; the guard chains these inside ``GuardAnthropicMiddleware``."""

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        return request

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        return response

    def failed(self, request: anthropic.APIRequest, exc: BaseException) -> None:
        """The attempt raised instead of answering; must not raise."""
        return None
