"""The checklist's sandbox, enforced where Claude's tool calls pass: in requests and in answers.

A profile's tool policies bound what the model may ask each tool to do: path rules for file tools, command
rules for shell tools, host rules for anything carrying a URL, and argument schemas. ``ToolPolicyMiddleware``
(gateway routes) and ``ToolPolicyEgressHook`` (an app's own SDK calls) replace a refused call in the answer
with a text block the app can show, hold a streamed tool block until it is complete, and refuse a request
that replays a forged call. See docs/sandbox.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The rules are plain data that ``profiles`` imports; the faces (which import the context, and through it
# the profiles) load on first use, so importing a rule never imports a face.
from ._commands import CommandRules
from ._hosts import HostRules
from ._paths import DEFAULT_DENIED_PATHS, PathRules
from ._policy import DEFAULT_TOOL_POLICIES, ToolPolicy, Violation, check_tool_call

if TYPE_CHECKING:
    from ._egress import ToolPolicyEgressHook
    from ._middleware import ToolPolicyMiddleware

_LAZY = {
    "ToolPolicyEgressHook": "_egress",
    "ToolPolicyMiddleware": "_middleware",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_DENIED_PATHS",
    "DEFAULT_TOOL_POLICIES",
    "CommandRules",
    "HostRules",
    "PathRules",
    "ToolPolicy",
    "ToolPolicyEgressHook",
    "ToolPolicyMiddleware",
    "Violation",
    "check_tool_call",
]
