"""`TracingHook`: the egress hook that gives an app's own SDK calls to Claude a CLIENT span ``chat {model}``.

It records through the same `GenAICall` as the gateway's `TracedMessagesProxy` (``_genai``); streams are
followed chunk by chunk as the app reads them, nothing is buffered.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from .._asgi import EVENT_STREAM, media_type
from .._hooks import EgressHook
from ..context import current_context
from ._genai import GenAICall
from ._otel import Instruments

if TYPE_CHECKING:
    import anthropic
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["TracingHook"]

_calls: contextvars.ContextVar[tuple[GenAICall, ...]] = contextvars.ContextVar(
    "claude_guard_genai_calls", default=()
)


class TracingHook(EgressHook):
    """The egress hook that gives an app's own SDK calls to Claude a CLIENT span ``chat {model}``.

    ``before`` starts the span; ``after`` ends it: at once for JSON and errors, or when the stream has been
    read to its end (or closed) for ``stream=True``. An attempt that raises (a connection error) never reaches
    ``after``; call `failed` for it, or the next attempt in the same task ends it with ``error.type``
    ``connection_error``.

    Example:
        >>> hook = TracingHook()
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        self.instruments = Instruments(tracer_provider=tracer_provider, meter_provider=meter_provider)
        self.capture_content = capture_content

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        for stale in _calls.get():
            stale.end(status=None, error_type="connection_error")
        _calls.set(())
        if request.method.upper() != "POST" or not request.url.split("?")[0].rstrip("/").endswith(
            "/v1/messages"
        ):
            return request
        body = request.json
        call = GenAICall(
            self.instruments,
            body if isinstance(body, Mapping) else None,
            ctx=current_context(),
            capture_content=self.capture_content,
        )
        _calls.set((call,))
        return request

    def failed(self, request: anthropic.APIRequest, exc: BaseException) -> None:
        """End the span of an attempt that raised instead of returning a response."""
        for call in _calls.get():
            call.end(status=None, error_type=type(exc).__name__)
        _calls.set(())

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        calls = _calls.get()
        _calls.set(())
        if not calls:
            return response
        call = calls[-1]
        try:
            status = int(getattr(response, "status_code", 0)) or None
            http = getattr(response, "http_response", None)
            if http is None:
                call.end(status=status)
                return response
            event_stream = media_type(http.headers.get("content-type")) == EVENT_STREAM
            if status is not None and status < 400 and event_stream:
                _observe_sdk_stream(http, call, status)
                return response
            raw = await http.aread()
            call.observe_chunk(raw, event_stream=False)
            call.end(status=status)
        except Exception as exc:
            call.end(status=None, error_type=type(exc).__name__)
        return response


def _observe_sdk_stream(http: Any, call: GenAICall, status: int) -> None:
    import httpx2

    inner = http.stream

    class _ObservedStream(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in inner:
                    call.observe_chunk(chunk, event_stream=True)
                    yield chunk
            except BaseException as exc:
                call.end(status=status, error_type=type(exc).__name__)
                raise
            call.end(status=status)

        async def aclose(self) -> None:
            try:
                await inner.aclose()
            finally:
                call.end(status=status, error_type=None if call.stream.finished else "incomplete_stream")

    http.stream = _ObservedStream()
