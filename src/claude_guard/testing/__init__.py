"""Test helpers: FakeClaude, an Anthropic-compatible fake upstream, and `serve()` for a real server.

The pytest fixtures `fake_claude` and `fake_claude_server` live in `claude_guard.testing.pytest_plugin`.
"""

from __future__ import annotations

from claude_guard.testing._behaviours import (
    ConnectionDroppedError,
    DropConnection,
    ErrorResponse,
    Hold,
    Reply,
    SlowStream,
    StreamError,
    TextBlock,
    ToolUseBlock,
    UsageOverride,
)
from claude_guard.testing._fake import FakeClaude, RecordedRequest
from claude_guard.testing._server import RunningServer, serve
from claude_guard.testing._tokens import count_input_tokens, count_text_tokens

__all__ = [
    "ConnectionDroppedError",
    "DropConnection",
    "ErrorResponse",
    "FakeClaude",
    "Hold",
    "RecordedRequest",
    "Reply",
    "RunningServer",
    "SlowStream",
    "StreamError",
    "TextBlock",
    "ToolUseBlock",
    "UsageOverride",
    "count_input_tokens",
    "count_text_tokens",
    "serve",
]
