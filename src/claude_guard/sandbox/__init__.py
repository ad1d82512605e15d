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
from ._commands import DEFAULT_DENIED_COMMANDS, CommandRules
from ._hosts import PRIVATE_NAMES, HostRules
from ._paths import DEFAULT_DENIED_PATHS, PathRules, normalize_path
from ._policy import (
    ANY_TOOL,
    DEFAULT_TOOL_POLICIES,
    ToolPolicy,
    Violation,
    check_tool_call,
    parse_tool_policies,
)

if TYPE_CHECKING:
    from ._answers import DEFAULT_MAX_HOLD_BYTES, SSEToolCallFilter, refusal_text, rewrite_message
    from ._egress import ToolPolicyEgressHook
    from ._middleware import ToolPolicyMiddleware, check_request, policies_for

_LAZY = {
    "DEFAULT_MAX_HOLD_BYTES": "_answers",
    "SSEToolCallFilter": "_answers",
    "refusal_text": "_answers",
    "rewrite_message": "_answers",
    "ToolPolicyEgressHook": "_egress",
    "ToolPolicyMiddleware": "_middleware",
    "check_request": "_middleware",
    "policies_for": "_middleware",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ANY_TOOL",
    "DEFAULT_DENIED_COMMANDS",
    "DEFAULT_DENIED_PATHS",
    "DEFAULT_MAX_HOLD_BYTES",
    "DEFAULT_TOOL_POLICIES",
    "PRIVATE_NAMES",
    "CommandRules",
    "HostRules",
    "PathRules",
    "SSEToolCallFilter",
    "ToolPolicy",
    "ToolPolicyEgressHook",
    "ToolPolicyMiddleware",
    "Violation",
    "check_request",
    "check_tool_call",
    "normalize_path",
    "parse_tool_policies",
    "policies_for",
    "refusal_text",
    "rewrite_message",
]
