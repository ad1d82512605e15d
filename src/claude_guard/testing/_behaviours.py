"""What FakeClaude can be scripted to do: replies, errors, slow and broken streams, holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final, Protocol, TypeAlias

from ..errors import ConfigurationError


class SupportsIsSet(Protocol):
    """Anything with `is_set()`: `threading.Event` (any thread) or `asyncio.Event` (same loop)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A text content block of a scripted reply."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    """A tool_use content block of a scripted reply.

    `id` defaults to `toolu_fake_<request number>_<block index>`.
    """

    name: str
    input: Mapping[str, Any]
    _: KW_ONLY
    id: str | None = None


ContentBlock: TypeAlias = TextBlock | ToolUseBlock


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageOverride:
    """Usage fields that replace the fake's computed ones; `None` keeps the computed value.

    When `input_tokens` is not given it is the computed prompt count minus the cache read and cache
    creation tokens (floored at zero): like the real API, `input_tokens` excludes cached tokens.
    `cache_creation_input_tokens` defaults to the sum of the two ephemeral fields; the breakdown
    defaults to everything in `ephemeral_5m_input_tokens`.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None
    web_search_requests: int | None = None
    """Adds `usage.server_tool_use.web_search_requests` when set."""
    service_tier: str | None = None
    """Defaults to "standard"."""
    web_fetch_requests: int | None = None
    """Adds `usage.server_tool_use.web_fetch_requests` when set."""
    speed: str | None = None
    """Defaults to the request's `speed` (reported only when the request named one)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful reply: given content and/or usage, or the default echo when `content` is None.

    A string `content` is one text block. `stop_reason` defaults to "tool_use" when the content holds a
    tool_use block, else "end_turn" (the echo uses "max_tokens" when it was truncated). `model`
    defaults to the request's model. `headers` are added to the response, replacing the fake's own.
    Scripted content is sent as given: it is not truncated to `max_tokens`.
    """

    content: str | Sequence[ContentBlock] | None = None
    _: KW_ONLY
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: UsageOverride | None = None
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.content, str):
            object.__setattr__(self, "content", (TextBlock(self.content),))
        elif self.content is not None:
            blocks = tuple(self.content)
            for block in blocks:
                if not isinstance(block, TextBlock | ToolUseBlock):
                    raise TypeError(f"Reply content must hold TextBlock or ToolUseBlock, got {block!r}")
            object.__setattr__(self, "content", blocks)
        object.__setattr__(self, "headers", _lower_keys(self.headers))


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An HTTP error in Anthropic's envelope, e.g. `ErrorResponse(429, headers={"retry-after": "3"})`.

    `type` defaults from the status (429 → rate_limit_error, 529 → overloaded_error, other 4xx →
    invalid_request_error, other 5xx → api_error); `message` defaults from the type.
    """

    status: int
    type: str | None = None
    message: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ConfigurationError(f"ErrorResponse status must be 4xx or 5xx, got {self.status}")
        object.__setattr__(self, "headers", _lower_keys(self.headers))


@dataclass(frozen=True, slots=True)
class StreamError:
    """HTTP 200, then an SSE `error` event right after the `after_deltas`-th content_block_delta.

    With fewer deltas in the reply, the error replaces `message_delta`. The stream ends after the
    error event. A non-streaming request gets the same error as an HTTP error (overloaded_error → 529).
    """

    after_deltas: int = 1
    _: KW_ONLY
    type: str = "overloaded_error"
    message: str = "Overloaded"
    reply: Reply = field(default_factory=Reply)

    def __post_init__(self) -> None:
        _check_non_negative("after_deltas", self.after_deltas)


@dataclass(frozen=True, slots=True)
class SlowStream:
    """Waits `delay` seconds between stream events (once, before the body, when not streaming)."""

    delay: float
    _: KW_ONLY
    reply: Reply = field(default_factory=Reply)

    def __post_init__(self) -> None:
        _check_non_negative("delay", self.delay)


@dataclass(frozen=True, slots=True)
class DropConnection:
    """Sends the 200 headers and `after_events` SSE events, then drops the connection.

    The app raises `ConnectionDroppedError` without finishing the body: uvicorn closes the socket
    mid-body (the client sees an incomplete chunked body), `ASGITransport` re-raises it into the
    client. A non-streaming request gets the headers and half the JSON body, then the drop.
    """

    after_events: int = 1
    _: KW_ONLY
    reply: Reply = field(default_factory=Reply)

    def __post_init__(self) -> None:
        _check_non_negative("after_events", self.after_events)


@dataclass(frozen=True, slots=True)
class Hold:
    """Streams up to and including the `after_deltas`-th delta, then waits until `release.is_set()`.

    The wait polls every `poll_interval` seconds with `asyncio.sleep`, so it never blocks the loop
    that serves the fake. If `release` is not set within `timeout` seconds, the connection is dropped
    as by `DropConnection`. A non-streaming request waits before any byte of the response.
    """

    release: SupportsIsSet
    _: KW_ONLY
    after_deltas: int = 1
    timeout: float = 30.0
    poll_interval: float = 0.005
    reply: Reply = field(default_factory=Reply)

    def __post_init__(self) -> None:
        _check_non_negative("after_deltas", self.after_deltas)
        if self.timeout <= 0 or self.poll_interval <= 0:
            raise ConfigurationError("Hold timeout and poll_interval must be positive")


Behaviour: TypeAlias = Reply | ErrorResponse | StreamError | SlowStream | DropConnection | Hold


class ConnectionDroppedError(Exception):
    """Raised by FakeClaude inside the ASGI call to drop a connection on purpose."""


def _check_non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, got {value}")


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


BEHAVIOUR_TYPES: Final = (Reply, ErrorResponse, StreamError, SlowStream, DropConnection, Hold)
