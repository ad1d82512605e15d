"""FakeClaude: an Anthropic-compatible fake upstream, as a pure ASGI app.

Token rule of the fake (used for every count it makes): one token is four characters (Unicode code
points), rounded up per count. See `count_input_tokens` for what counts as prompt text.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
ASGIMessage: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[ASGIMessage]]
Send: TypeAlias = Callable[[ASGIMessage], Awaitable[None]]

CHARS_PER_TOKEN: Final = 4
CANARY_API_KEY: Final = "sk-ant-fake-upstream-canary-0000"

_MESSAGES_PATH: Final = "/v1/messages"
_COUNT_TOKENS_PATH: Final = "/v1/messages/count_tokens"
_RATE_WINDOW_SECONDS: Final = 60.0

_ERROR_TYPE_BY_STATUS: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUS_BY_ERROR_TYPE: Final[Mapping[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_DEFAULT_ERROR_MESSAGES: Final[Mapping[str, str]] = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found.",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of requests has exceeded your per-minute rate limit.",
    "api_error": "Internal server error.",
    "timeout_error": "Request timed out.",
    "overloaded_error": "Overloaded",
}


# --- token counting --------------------------------------------------------------------------------


def count_text_tokens(text: str) -> int:
    """Return the fake's token count for `text`: ceil(len(text) / 4).

    Example:
        >>> count_text_tokens("hello world")
        3
    """
    return -(-len(text) // CHARS_PER_TOKEN)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _block_chars(block: Any) -> int:
    if isinstance(block, str):
        return len(block)
    if not isinstance(block, Mapping):
        return 0
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return len(text) if isinstance(text, str) else 0
    if kind in ("tool_use", "server_tool_use"):
        name = block.get("name")
        return (len(name) if isinstance(name, str) else 0) + len(_compact_json(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return len(content)
        if isinstance(content, list):
            return sum(_block_chars(inner) for inner in content)
        return 0
    if kind == "thinking":
        thinking = block.get("thinking")
        return len(thinking) if isinstance(thinking, str) else 0
    return 0


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(_block_chars(block) for block in content)
    return 0


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """Return the fake's prompt token count for a Messages or count_tokens request body.

    The count is ceil(chars / 4), where chars is the sum of: the `system` text (a string, or the
    `text` of its text blocks); for every message, its string content or, per block, a text block's
    `text`, a tool_use block's `name` plus its `input` as compact JSON, a tool_result's string content
    or the text of its nested text blocks, a thinking block's `thinking`; and, when `tools` is present,
    the length of `tools` as compact JSON (separators `,` and `:`, non-ASCII kept, key order as sent).
    Other block types (image, document, redacted_thinking, ...) count zero.

    Example:
        >>> count_input_tokens({"messages": [{"role": "user", "content": "Hello!"}]})
        2
    """
    chars = _content_chars(body.get("system"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping):
                chars += _content_chars(message.get("content"))
    tools = body.get("tools")
    if tools is not None:
        chars += len(_compact_json(tools))
    return -(-chars // CHARS_PER_TOKEN)


# --- scripting ---------------------------------------------------------------------------------------


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
            raise ValueError(f"ErrorResponse status must be 4xx or 5xx, got {self.status}")
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
            raise ValueError("Hold timeout and poll_interval must be positive")


Behaviour: TypeAlias = Reply | ErrorResponse | StreamError | SlowStream | DropConnection | Hold


class ConnectionDroppedError(Exception):
    """Raised by FakeClaude inside the ASGI call to drop a connection on purpose."""


def _check_non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


# --- the record ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as FakeClaude received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names; repeated headers joined with ", "."""
    body: bytes
    json: Any | None
    """The parsed body, or None when it is not valid JSON."""
    received_at: datetime
    """UTC time at which the whole body had arrived."""


# --- the app ---------------------------------------------------------------------------------------------


class FakeClaude:
    """An Anthropic-compatible upstream for tests, as a pure ASGI app.

    Serves `POST /v1/messages` (JSON or SSE) and `POST /v1/messages/count_tokens`; records every request;
    replies with a deterministic echo unless scripted with `enqueue` / `always`. One instance serves
    any number of concurrent requests, from any thread.

    Example:
        >>> import asyncio, httpx
        >>> fake = FakeClaude()
        >>> async def call() -> dict:
        ...     transport = httpx.ASGITransport(app=fake)
        ...     async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        ...         body = {"model": "claude-sonnet-4-6", "max_tokens": 64,
        ...                 "messages": [{"role": "user", "content": "Hello"}]}
        ...         response = await client.post("/v1/messages", json=body)
        ...         return response.json()
        >>> asyncio.run(call())["content"]
        [{'type': 'text', 'text': 'echo: Hello'}]
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model_default: str | None = None,
        chunk_size: int = 8,
        requests_per_minute: int = 1_000,
        input_tokens_per_minute: int = 400_000,
        output_tokens_per_minute: int = 80_000,
        max_request_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        """Create a fake upstream.

        Args:
            api_key: When set, every request must carry it in `x-api-key` or `Authorization: Bearer`.
            model_default: When set, a request without `model` is answered as this model instead of
                being rejected with 400.
            chunk_size: Characters per `text_delta` / `input_json_delta` when streaming.
            requests_per_minute: The `anthropic-ratelimit-requests-limit` reported (never enforced).
            input_tokens_per_minute: The `anthropic-ratelimit-input-tokens-limit` reported.
            output_tokens_per_minute: The `anthropic-ratelimit-output-tokens-limit` reported; the
                `tokens-limit` is the sum of both.
            max_request_bytes: Larger bodies get 413 request_too_large.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("input_tokens_per_minute", input_tokens_per_minute),
            ("output_tokens_per_minute", output_tokens_per_minute),
            ("max_request_bytes", max_request_bytes),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self._api_key = api_key
        self._model_default = model_default
        self._chunk_size = chunk_size
        self._limits = _RateLimits(requests_per_minute, input_tokens_per_minute, output_tokens_per_minute)
        self._max_request_bytes = max_request_bytes
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._always: Behaviour | None = None
        self._requests: list[RecordedRequest] = []
        self._sequence = 0
        self._window = _RateWindow()

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "None"
        with self._lock:
            received, pending = len(self._requests), len(self._queue)
        return (
            f"FakeClaude(api_key={key}, chunk_size={self._chunk_size}, "
            f"requests={received}, pending={pending})"
        )

    @property
    def api_key(self) -> str | None:
        """The key requests must carry, or None when any (or no) key is accepted."""
        return self._api_key

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    # scripting

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each later `POST /v1/messages` consumes one, first in first out.

        A request consumes a behaviour only once it passed authentication and validation.
        """
        for behaviour in behaviours:
            if not isinstance(behaviour, _BEHAVIOUR_TYPES):
                raise TypeError(f"not a FakeClaude behaviour: {behaviour!r}")
        with self._lock:
            self._queue.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Use `behaviour` for every request the queue does not cover, until `reset()`."""
        if not isinstance(behaviour, _BEHAVIOUR_TYPES):
            raise TypeError(f"not a FakeClaude behaviour: {behaviour!r}")
        with self._lock:
            self._always = behaviour

    def reset(self) -> None:
        """Forget the queue, the `always` behaviour, the record and the rate-limit window."""
        with self._lock:
            self._queue.clear()
            self._always = None
            self._requests.clear()
            self._window = _RateWindow()

    @property
    def pending(self) -> int:
        """How many queued behaviours no request has consumed yet."""
        with self._lock:
            return len(self._queue)

    # the record

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, on any path, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def messages_requests(self) -> list[RecordedRequest]:
        """A snapshot of the `POST /v1/messages` requests received so far."""
        return [r for r in self.requests if r.method == "POST" and _normalize(r.path) == _MESSAGES_PATH]

    @property
    def last(self) -> RecordedRequest:
        """The most recent request; `LookupError` when there is none."""
        with self._lock:
            if not self._requests:
                raise LookupError("FakeClaude has not received any request")
            return self._requests[-1]

    # ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _Exchange(self, scope, receive, send).run()
        elif scope["type"] == "lifespan":
            await _run_lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    # shared state, always under the lock

    def _record(self, scope: Scope, body: bytes) -> tuple[int, RecordedRequest]:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            parsed: Any | None = json.loads(body) if body else None
        except ValueError:
            parsed = None
        recorded = RecordedRequest(
            method=scope.get("method", "GET"),
            path=scope.get("path", "/"),
            headers=headers,
            body=body,
            json=parsed,
            received_at=datetime.now(UTC),
        )
        with self._lock:
            self._sequence += 1
            self._requests.append(recorded)
            return self._sequence, recorded

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            return self._always if self._always is not None else Reply()

    def _rate_limit_headers(self, input_tokens: int, output_tokens: int, *, rejected: bool) -> dict[str, str]:
        now = time.time()
        with self._lock:
            window = self._window
            if window.started_at is None or now >= window.started_at + _RATE_WINDOW_SECONDS:
                window = self._window = _RateWindow(started_at=now)
            window.requests += 1
            if not rejected:
                window.input_tokens += input_tokens
                window.output_tokens += output_tokens
            used = (window.requests, window.input_tokens, window.output_tokens)
            reset = _rfc3339((window.started_at or now) + _RATE_WINDOW_SECONDS)
        limits = self._limits
        requests_remaining = 0 if rejected else max(0, limits.requests - used[0])
        dimensions = {
            "requests": (limits.requests, requests_remaining),
            "tokens": (
                limits.input_tokens + limits.output_tokens,
                max(0, limits.input_tokens + limits.output_tokens - used[1] - used[2]),
            ),
            "input-tokens": (limits.input_tokens, max(0, limits.input_tokens - used[1])),
            "output-tokens": (limits.output_tokens, max(0, limits.output_tokens - used[2])),
        }
        headers: dict[str, str] = {}
        for dimension, (limit, remaining) in dimensions.items():
            headers[f"anthropic-ratelimit-{dimension}-limit"] = str(limit)
            headers[f"anthropic-ratelimit-{dimension}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{dimension}-reset"] = reset
        return headers


_BEHAVIOUR_TYPES: Final = (Reply, ErrorResponse, StreamError, SlowStream, DropConnection, Hold)


@dataclass(frozen=True, slots=True)
class _RateLimits:
    requests: int
    input_tokens: int
    output_tokens: int


@dataclass(slots=True)
class _RateWindow:
    started_at: float | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _normalize(path: str) -> str:
    return path.rstrip("/") or "/"


async def _run_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class _RequestError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(slots=True)
class _Plan:
    """The complete reply of one request, computed before the first byte is sent."""

    message: dict[str, Any]
    usage: dict[str, Any]
    headers: dict[str, str]


class _Exchange:
    """State of one HTTP request; FakeClaude itself holds none."""

    def __init__(self, fake: FakeClaude, scope: Scope, receive: Receive, send: Send) -> None:
        self.fake = fake
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = "req_fake_unset"
        self.sequence = 0
        self.disconnected = asyncio.Event()

    async def run(self) -> None:
        body, complete = await self._read_body()
        self.sequence, recorded = self.fake._record(self.scope, body)
        self.request_id = f"req_fake_{self.sequence:08d}"
        if not complete:
            return
        try:
            await self._dispatch(recorded)
        except _RequestError as error:
            await self._send_error(
                error.status, _ERROR_TYPE_BY_STATUS[error.status], error.message, error.headers
            )

    async def _read_body(self) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), False
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks), True

    async def _dispatch(self, recorded: RecordedRequest) -> None:
        path = _normalize(recorded.path)
        if path not in (_MESSAGES_PATH, _COUNT_TOKENS_PATH):
            raise _RequestError(404, f"Not found: {recorded.path}")
        if recorded.method != "POST":
            raise _RequestError(405, f"Method {recorded.method} not allowed on {path}", {"allow": "POST"})
        self._authenticate(recorded.headers)
        if len(recorded.body) > self.fake._max_request_bytes:
            raise _RequestError(413, _DEFAULT_ERROR_MESSAGES["request_too_large"])
        body = self._parse(recorded)
        if path == _COUNT_TOKENS_PATH:
            self._require(body, "model", "messages")
            await self._send_json(200, {"input_tokens": count_input_tokens(body)}, {})
            return
        self._require(body, "model", "max_tokens", "messages")
        behaviour = self.fake._next_behaviour()
        await self._respond(body, behaviour)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        expected = self.fake._api_key
        if expected is None:
            return
        presented = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if presented == expected or (scheme.lower() == "bearer" and token.strip() == expected):
            return
        message = "invalid x-api-key" if presented or authorization else "x-api-key header is required"
        raise _RequestError(401, message)

    def _parse(self, recorded: RecordedRequest) -> dict[str, Any]:
        if recorded.json is None:
            try:
                json.loads(recorded.body)
            except ValueError as error:
                raise _RequestError(400, f"Request body is not valid JSON: {error}") from None
        if not isinstance(recorded.json, dict):
            raise _RequestError(400, "Request body must be a JSON object")
        return recorded.json

    def _require(self, body: dict[str, Any], *names: str) -> None:
        for name in names:
            if name == "model" and "model" not in body and self.fake._model_default is not None:
                continue
            if name not in body:
                raise _RequestError(400, f"{name}: Field required")
        if "model" in body and (not isinstance(body["model"], str) or not body["model"]):
            raise _RequestError(400, "model: Input should be a non-empty string")
        if "max_tokens" in names:
            max_tokens = body["max_tokens"]
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
                raise _RequestError(400, "max_tokens: Input should be an integer greater than or equal to 1")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _RequestError(400, "messages: Input should be a non-empty list")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _RequestError(400, f"messages.{index}.role: Input should be 'user' or 'assistant'")
            if not isinstance(message.get("content"), str | list):
                raise _RequestError(400, f"messages.{index}.content: Input should be a string or a list")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise _RequestError(400, "stream: Input should be a valid boolean")

    # responses

    async def _respond(self, body: dict[str, Any], behaviour: Behaviour) -> None:
        streaming = body.get("stream") is True
        if isinstance(behaviour, ErrorResponse):
            error_type = behaviour.type or _error_type_for(behaviour.status)
            headers = self.fake._rate_limit_headers(0, 0, rejected=behaviour.status == 429)
            headers.update(behaviour.headers)
            message = behaviour.message or _DEFAULT_ERROR_MESSAGES.get(error_type, "Error.")
            await self._send_error(behaviour.status, error_type, message, headers)
            return
        if isinstance(behaviour, StreamError) and not streaming:
            status = _STATUS_BY_ERROR_TYPE.get(behaviour.type, 500)
            headers = self.fake._rate_limit_headers(0, 0, rejected=status == 429)
            await self._send_error(status, behaviour.type, behaviour.message, headers)
            return
        reply = behaviour if isinstance(behaviour, Reply) else behaviour.reply
        plan = self._plan(body, reply)
        # a client that goes away ends a slow or held reply early instead of leaving it to run out
        watcher = asyncio.create_task(self._watch_disconnect())
        try:
            if streaming:
                await self._stream(plan, behaviour)
            else:
                await self._reply_json(plan, behaviour)
        finally:
            watcher.cancel()

    def _plan(self, body: dict[str, Any], reply: Reply) -> _Plan:
        model = reply.model or body.get("model") or self.fake._model_default
        if reply.content is None:
            text, truncated = _echo_text(body)
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
            stop_reason = reply.stop_reason or ("max_tokens" if truncated else "end_turn")
        else:
            assert not isinstance(reply.content, str)
            blocks = [self._block_json(index, block) for index, block in enumerate(reply.content)]
            has_tool_use = any(block["type"] == "tool_use" for block in blocks)
            stop_reason = reply.stop_reason or ("tool_use" if has_tool_use else "end_turn")
        usage = _usage(body, blocks, reply.usage or UsageOverride())
        message: dict[str, Any] = {
            "id": f"msg_fake_{self.sequence:08d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": reply.stop_sequence,
            "usage": usage,
        }
        headers = self.fake._rate_limit_headers(usage["input_tokens"], usage["output_tokens"], rejected=False)
        headers.update(reply.headers)
        return _Plan(message=message, usage=usage, headers=headers)

    def _block_json(self, index: int, block: ContentBlock) -> dict[str, Any]:
        if isinstance(block, TextBlock):
            return {"type": "text", "text": block.text}
        return {
            "type": "tool_use",
            "id": block.id or f"toolu_fake_{self.sequence:08d}_{index}",
            "name": block.name,
            "input": dict(block.input),
        }

    async def _reply_json(self, plan: _Plan, behaviour: Behaviour) -> None:
        payload = _compact_json(plan.message).encode()
        if isinstance(behaviour, SlowStream):
            await asyncio.sleep(behaviour.delay)
        elif isinstance(behaviour, Hold):
            await self._wait_for_release(behaviour)
            if self.disconnected.is_set():
                return
        elif isinstance(behaviour, DropConnection):
            headers = {**plan.headers, "content-type": "application/json"}
            await self._start(200, headers, content_length=len(payload))
            await self.send(
                {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
            )
            raise ConnectionDroppedError("FakeClaude dropped the connection mid-body (DropConnection)")
        await self._send_json(200, plan.message, plan.headers)

    async def _stream(self, plan: _Plan, behaviour: Behaviour) -> None:
        headers = {
            **plan.headers,
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
        }
        await self._start(200, headers)
        await self._send_events(plan, behaviour)

    async def _send_events(self, plan: _Plan, behaviour: Behaviour) -> None:
        deltas_sent = 0
        triggered = False
        # every pass either sends its event or leaves, so the index counts the events already sent
        for events_sent, (name, data) in enumerate(_stream_events(plan.message, self.fake._chunk_size)):
            if isinstance(behaviour, DropConnection) and events_sent == behaviour.after_events:
                raise ConnectionDroppedError("FakeClaude dropped the connection mid-stream (DropConnection)")
            if (
                isinstance(behaviour, StreamError | Hold)
                and not triggered
                and (
                    name == "message_delta"
                    or (name == "content_block_delta" and deltas_sent == behaviour.after_deltas)
                )
            ):
                triggered = True
                if isinstance(behaviour, StreamError):
                    await self._send_event("error", self._error_payload(behaviour.type, behaviour.message))
                    await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await self._wait_for_release(behaviour)
            if isinstance(behaviour, SlowStream) and events_sent:
                await asyncio.sleep(behaviour.delay)
            if self.disconnected.is_set():
                return
            await self._send_event(name, data)
            if name == "content_block_delta":
                deltas_sent += 1
        if isinstance(behaviour, DropConnection):
            raise ConnectionDroppedError("FakeClaude dropped the connection before the end of the stream")
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _wait_for_release(self, hold: Hold) -> None:
        deadline = time.monotonic() + hold.timeout
        while not hold.release.is_set():
            if self.disconnected.is_set():
                return
            if time.monotonic() >= deadline:
                raise ConnectionDroppedError(f"Hold was not released within {hold.timeout} s")
            await asyncio.sleep(hold.poll_interval)

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected.set()
                return

    # wire helpers

    def _error_payload(self, error_type: str, message: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": self.request_id,
        }

    async def _send_error(
        self, status: int, error_type: str, message: str, headers: Mapping[str, str]
    ) -> None:
        await self._send_json(status, self._error_payload(error_type, message), headers)

    async def _send_json(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        encoded = _compact_json(payload).encode()
        await self._start(
            status, {**headers, "content-type": "application/json"}, content_length=len(encoded)
        )
        await self.send({"type": "http.response.body", "body": encoded, "more_body": False})

    async def _start(
        self, status: int, headers: Mapping[str, str], *, content_length: int | None = None
    ) -> None:
        merged = {"request-id": self.request_id, **headers}
        if content_length is not None:
            merged["content-length"] = str(content_length)
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in merged.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def _send_event(self, name: str, data: Mapping[str, Any]) -> None:
        chunk = f"event: {name}\ndata: {_compact_json(data)}\n\n".encode()
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})


def _error_type_for(status: int) -> str:
    if status in _ERROR_TYPE_BY_STATUS:
        return _ERROR_TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _echo_text(body: Mapping[str, Any]) -> tuple[str, bool]:
    """The default reply text and whether it was cut to `max_tokens`."""
    said = ""
    for message in reversed(body.get("messages", [])):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                said = content
            elif isinstance(content, list):
                said = "\n".join(
                    block["text"]
                    for block in content
                    if isinstance(block, Mapping)
                    and block.get("type") == "text"
                    and isinstance(block.get("text"), str)
                )
            break
    text = f"echo: {said}" if said else "ok"
    limit = body["max_tokens"] * CHARS_PER_TOKEN
    if len(text) > limit:
        return text[:limit], True
    return text, False


def _output_chars(blocks: Sequence[Mapping[str, Any]]) -> int:
    chars = 0
    for block in blocks:
        if block["type"] == "text":
            chars += len(block["text"])
        else:
            chars += len(block["name"]) + len(_compact_json(block["input"]))
    return chars


def _usage(
    body: Mapping[str, Any], blocks: Sequence[Mapping[str, Any]], override: UsageOverride
) -> dict[str, Any]:
    five_minutes = override.ephemeral_5m_input_tokens
    one_hour = override.ephemeral_1h_input_tokens
    creation = override.cache_creation_input_tokens
    if creation is None:
        creation = (five_minutes or 0) + (one_hour or 0)
    if five_minutes is None:
        five_minutes = max(0, creation - (one_hour or 0))
    if one_hour is None:
        one_hour = max(0, creation - five_minutes)
    cache_read = override.cache_read_input_tokens or 0
    input_tokens = override.input_tokens
    if input_tokens is None:
        input_tokens = max(0, count_input_tokens(body) - cache_read - creation)
    output_tokens = override.output_tokens
    if output_tokens is None:
        output_tokens = -(-_output_chars(blocks) // CHARS_PER_TOKEN)
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": output_tokens,
        "service_tier": override.service_tier or "standard",
    }
    if override.web_search_requests is not None or override.web_fetch_requests is not None:
        usage["server_tool_use"] = {
            "web_search_requests": override.web_search_requests or 0,
            "web_fetch_requests": override.web_fetch_requests or 0,
        }
    speed = override.speed if override.speed is not None else body.get("speed")
    if isinstance(speed, str):
        usage["speed"] = speed
    return usage


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _stream_events(message: Mapping[str, Any], chunk_size: int) -> Iterator[tuple[str, dict[str, Any]]]:
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    ping = ("ping", {"type": "ping"})
    if not message["content"]:
        yield ping
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            if index == 0:
                yield ping
            for piece in _chunks(block["text"], chunk_size):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            if index == 0:
                yield ping
            for piece in _chunks(_compact_json(block["input"]), chunk_size):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    delta_usage: dict[str, Any] = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    if "server_tool_use" in usage:
        delta_usage["server_tool_use"] = usage["server_tool_use"]
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
            "usage": delta_usage,
        },
    )
    yield "message_stop", {"type": "message_stop"}
