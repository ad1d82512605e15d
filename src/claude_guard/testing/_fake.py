"""FakeClaude: an Anthropic-compatible fake upstream, as a pure ASGI app, and the record of its requests.

One request's exchange (parsing, validation, the reply) is ``_exchange._Exchange``; what the fake can be
scripted to do is in ``_behaviours``, its token rule in ``_tokens``, its wire format in ``_wire``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..errors import ConfigurationError
from ._behaviours import BEHAVIOUR_TYPES, Behaviour, Reply
from ._exchange import _Exchange
from ._wire import _MESSAGES_PATH, Receive, Scope, Send, _normalize, _rfc3339, _run_lifespan

__all__ = ["CANARY_API_KEY", "FakeClaude", "RecordedRequest"]

CANARY_API_KEY: Final = "sk-ant-fake-upstream-canary-0000"

_RATE_WINDOW_SECONDS: Final = 60.0

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
            raise ConfigurationError(f"chunk_size must be at least 1, got {chunk_size}")
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("input_tokens_per_minute", input_tokens_per_minute),
            ("output_tokens_per_minute", output_tokens_per_minute),
            ("max_request_bytes", max_request_bytes),
        ):
            if value < 1:
                raise ConfigurationError(f"{name} must be at least 1, got {value}")
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
            if not isinstance(behaviour, BEHAVIOUR_TYPES):
                raise TypeError(f"not a FakeClaude behaviour: {behaviour!r}")
        with self._lock:
            self._queue.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Use `behaviour` for every request the queue does not cover, until `reset()`."""
        if not isinstance(behaviour, BEHAVIOUR_TYPES):
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
