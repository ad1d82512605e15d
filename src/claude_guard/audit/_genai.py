"""CLIENT spans ``chat {model}`` for calls to Claude, with the OpenTelemetry GenAI conventions.

Two faces share one recorder: `TracedMessagesProxy` (wrap the gateway's ``MessagesProxy``), here, and
`TracingHook` (an egress hook for the ``anthropic`` SDK), in ``_genai_hook``. Both follow streams
incrementally with ``SSEParser`` and ``StreamUsage``; nothing is buffered. Content capture is off by
default; when on, content is recorded only for requests the PII protection redacted, and passes through
``scrub`` first.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    context_for,
    response_head,
)
from ..context import GuardContext, current_context
from ..messages import Usage, iter_text_segments
from ..messages._sse import SSEEvent, SSEParser, StreamUsage
from ..messages._usage import usage_from_response
from ..secrets import scrub
from ._otel import Instruments
from ._record import PII, safe_identifier

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["GenAICall", "TracedMessagesProxy", "traced_proxy"]

_MAX_JSON_BYTES: Final = 4 * 1024 * 1024
_MAX_CAPTURED_CHARS: Final = 64 * 1024
_REQUEST_NUMBERS: Final = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
)


class GenAICall:
    """One call to Claude being traced: its CLIENT span, usage and metrics.

    Feed it the response (`observe_json` or `observe_chunk`), then `end` it once.
    """

    def __init__(
        self,
        instruments: Instruments,
        request: Mapping[str, Any] | None,
        *,
        ctx: GuardContext | None,
        capture_content: bool = False,
        server_address: str | None = None,
    ) -> None:
        self.instruments = instruments
        self.ctx = ctx
        self.capture_content = capture_content
        self.started = time.perf_counter()
        self.span: Span | None = None
        self.request_model: str | None = None
        self.streaming = False
        self.stream = StreamUsage()
        self._parser: SSEParser | None = None
        self._json = bytearray()
        self._json_overflow = False
        self._output: list[str] = []
        self._output_chars = 0
        self._ended = False
        # Without a tracer provider a span would not record: none is built (``span`` stays ``None``).
        if instruments.tracer is not None and instruments.records_spans():
            from opentelemetry.trace import SpanKind

            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
            }
            if server_address:
                attributes["server.address"] = server_address
            self.span = instruments.tracer.start_span("chat", kind=SpanKind.CLIENT, attributes=attributes)
        if request is not None:
            self.set_request(request)

    def set_request(self, request: Mapping[str, Any]) -> None:
        """Record the request's model and parameters (and content, if capture is on and it was redacted)."""
        if not isinstance(request, Mapping):
            return
        self.request_model = safe_identifier(request.get("model"))
        self.streaming = request.get("stream") is True
        if self.ctx is not None and self.request_model and self.ctx.model is None:
            self.ctx.model = self.request_model
        span = self.span
        if span is None or not span.is_recording():
            return
        if self.request_model:
            span.update_name(f"chat {self.request_model}")
            span.set_attribute("gen_ai.request.model", self.request_model)
        for key, attribute in _REQUEST_NUMBERS:
            value = request.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                span.set_attribute(attribute, value)
        span.set_attribute("gen_ai.request.stream", self.streaming)
        if self.capture_content:
            if self._redacted():
                span.set_attribute("gen_ai.input.messages", _input_messages(request))
                system = [s.text for s in iter_text_segments(request) if s.kind == "system"]
                if system:
                    span.set_attribute(
                        "gen_ai.system_instructions",
                        json.dumps([{"type": "text", "content": scrub(t)} for t in system]),
                    )
            else:
                span.set_attribute("claude_guard.content.omitted", "not_redacted")

    def _redacted(self) -> bool:
        ctx = self.ctx if self.ctx is not None else current_context()
        return ctx is not None and any(d.protection in PII for d in ctx.decisions)

    def observe_chunk(self, chunk: bytes, *, event_stream: bool) -> None:
        """One chunk of the response body, as it passes."""
        if event_stream:
            if self._parser is None:
                self._parser = SSEParser()
            try:
                events = self._parser.feed(chunk)
            except (ValueError, RuntimeError):
                return
            for event in events:
                self._observe_event(event)
        elif not self._json_overflow:
            if len(self._json) + len(chunk) > _MAX_JSON_BYTES:
                self._json_overflow = True
                self._json.clear()
            else:
                self._json += chunk

    def _observe_event(self, event: SSEEvent) -> None:
        self.stream.observe(event)
        if (
            self.capture_content
            and self._output_chars < _MAX_CAPTURED_CHARS
            and event.event == "content_block_delta"
        ):
            with contextlib.suppress(ValueError):
                payload = event.json()
                delta = payload.get("delta") if isinstance(payload, dict) else None
                if isinstance(delta, dict) and isinstance(delta.get("text"), str):
                    self._output.append(delta["text"])
                    self._output_chars += len(delta["text"])

    def observe_json(self, body: Any) -> None:
        """A whole JSON response body, already parsed."""
        self._json_body: Any = body

    def end(self, *, status: int | None, error_type: str | None = None) -> None:
        """Finish the span and record the metrics. Idempotent; never raises."""
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(Exception):
            self._end(status, error_type)

    def _record_metrics(
        self, duration: float, usage: Usage | None, response_model: str | None, error_type: str | None
    ) -> None:
        # Only with a meter provider: the attribute dicts are not built for nobody.
        model = self.request_model or safe_identifier(response_model) or "unknown"
        metric_attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": model,
        }
        if response_model and safe_identifier(response_model):
            metric_attributes["gen_ai.response.model"] = response_model
        if error_type:
            metric_attributes["error.type"] = error_type
        if self.instruments.operation_duration is not None:
            self.instruments.operation_duration.record(duration, metric_attributes)
        if usage is not None and self.instruments.token_usage is not None:
            token_attributes = {k: v for k, v in metric_attributes.items() if k != "error.type"}
            self.instruments.token_usage.record(
                usage.total_input_tokens, {**token_attributes, "gen_ai.token.type": "input"}
            )
            self.instruments.token_usage.record(
                usage.output_tokens, {**token_attributes, "gen_ai.token.type": "output"}
            )

    def _end(self, status: int | None, error_type: str | None) -> None:
        duration = time.perf_counter() - self.started
        instruments = self.instruments
        metered = instruments.records_metrics()
        recording = self.span is not None and self.span.is_recording()
        ctx = self.ctx
        if not (metered or recording) and ctx is not None and ctx.usage is not None and self._parser is None:
            # Nobody reads this answer here: no span, no metrics, and the meter has already read its usage
            # (``ctx.usage`` wins over ``observed_usage`` in the audit record). Parsing it again would be
            # the request's second ``json.loads`` of the response for nothing.
            ctx.upstream_seconds = (ctx.upstream_seconds or 0.0) + duration
            if self.span is not None:
                self.span.end()
            return
        body: Any = getattr(self, "_json_body", None)
        if body is None and self._json and not self._json_overflow:
            with contextlib.suppress(ValueError):
                body = json.loads(bytes(self._json))
        if self._parser is not None:
            for event in self._parser.close():
                self._observe_event(event)
        usage: Usage | None = None
        response_id = response_model = stop_reason = None
        if self.stream.started:
            usage = self.stream.usage
            response_id, response_model, stop_reason = (
                self.stream.message_id,
                self.stream.model,
                self.stream.stop_reason,
            )
            if self.stream.error is not None and error_type is None:
                error_type = safe_identifier(self.stream.error.get("type")) or "stream_error"
        elif isinstance(body, Mapping):
            if body.get("type") == "error" or (status is not None and status >= 400):
                error = body.get("error")
                if isinstance(error, Mapping) and error_type is None:
                    error_type = safe_identifier(error.get("type"))
            else:
                usage = usage_from_response(body)
                response_id = _str(body.get("id"))
                response_model = _str(body.get("model"))
                stop_reason = _str(body.get("stop_reason"))
                if self.capture_content:
                    for block in body.get("content") or ():
                        if isinstance(block, Mapping) and isinstance(block.get("text"), str):
                            self._output.append(block["text"])
        if error_type is None and status is not None and status >= 400:
            error_type = str(status)
        if error_type is None and status is None:
            error_type = "no_response"
        if self.ctx is not None:
            self.ctx.upstream_seconds = (self.ctx.upstream_seconds or 0.0) + duration
            if usage is not None:
                self.ctx.observed_usage = usage
        if metered:
            self._record_metrics(duration, usage, response_model, error_type)
        span = self.span
        if span is None:
            return
        if span.is_recording():
            attributes: dict[str, Any] = {}
            if response_id and safe_identifier(response_id):
                attributes["gen_ai.response.id"] = response_id
            if response_model and safe_identifier(response_model):
                attributes["gen_ai.response.model"] = response_model
            if stop_reason and safe_identifier(stop_reason):
                attributes["gen_ai.response.finish_reasons"] = [stop_reason]
            if usage is not None:
                attributes["gen_ai.usage.input_tokens"] = usage.total_input_tokens
                attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
                attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_creation_input_tokens
                attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read_input_tokens
            if status is not None:
                attributes["http.response.status_code"] = status
            if self.capture_content and self._output and self._redacted():
                text = scrub("".join(self._output)[:_MAX_CAPTURED_CHARS])
                attributes["gen_ai.output.messages"] = json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": text}],
                            "finish_reason": stop_reason or "",
                        }
                    ]
                )
            if error_type:
                from opentelemetry.trace import Status, StatusCode

                attributes["error.type"] = error_type
                span.set_status(Status(StatusCode.ERROR, error_type))
            span.set_attributes(attributes)
        span.end()


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _input_messages(request: Mapping[str, Any]) -> str:
    messages: list[dict[str, Any]] = []
    raw = request.get("messages")
    for index, message in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(message, Mapping):
            continue
        parts = [
            {"type": "text", "content": scrub(segment.text)}
            for segment in iter_text_segments({"messages": [message]})
        ]
        role = message.get("role")
        messages.append({"role": role if role in ("user", "assistant") else "user", "parts": parts})
        del index
    return json.dumps(messages, ensure_ascii=False)


class TracedMessagesProxy:
    """Wraps the gateway's ``MessagesProxy`` (or any Messages endpoint) in a CLIENT span per call.

    Only ``/v1/messages`` calls get a span (``count_tokens`` passes through). The span is current while the
    proxy runs, so an HTTP client instrumentation nests under it.

    Example:
        >>> async def proxy(scope, receive, send): ...
        >>> app = traced_proxy(proxy)
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
        server_address: str | None = None,
    ) -> None:
        self.app = app
        self.instruments = Instruments(tracer_provider=tracer_provider, meter_provider=meter_provider)
        self.capture_content = capture_content
        self.server_address = server_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).rstrip("/").endswith("/v1/messages"):
            await self.app(scope, receive, send)
            return
        ctx = context_for(scope)
        call = GenAICall(
            self.instruments,
            _parsed(ctx),
            ctx=ctx,
            capture_content=self.capture_content,
            server_address=self.server_address,
        )
        status: int | None = None
        event_stream = False
        error_type: str | None = None

        async def observed(message: Message) -> None:
            nonlocal status, event_stream
            await send(message)
            if message["type"] == "http.response.start":
                head = response_head(message)
                status, event_stream = head.status, head.event_stream
                if call.request_model is None:
                    request = _parsed(ctx)
                    if request is not None:
                        call.set_request(request)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    call.observe_chunk(bytes(chunk), event_stream=event_stream)

        try:
            if call.span is not None:
                from opentelemetry import trace

                with trace.use_span(
                    call.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
                ):
                    await self.app(scope, receive, observed)
            else:
                await self.app(scope, receive, observed)
        except BaseException as exc:
            error_type = type(exc).__name__
            raise
        finally:
            if (
                status is not None
                and status < 400
                and any(
                    d.protection == "upstream" and d.outcome in ("timeout", "stream_error")
                    for d in ctx.decisions
                )
            ):
                error_type = error_type or next(
                    d.outcome for d in ctx.decisions if d.protection == "upstream" and d.outcome != "called"
                )
            call.end(status=status, error_type=error_type)


def traced_proxy(app: ASGIApp, **kwargs: Any) -> TracedMessagesProxy:
    """``TracedMessagesProxy(app, **kwargs)``: the gateway's Messages endpoint with GenAI CLIENT spans."""
    return TracedMessagesProxy(app, **kwargs)


def _parsed(ctx: GuardContext) -> Mapping[str, Any] | None:
    if ctx.body is None:
        return None
    try:
        body = ctx.json()
    except Exception:
        return None
    return body if isinstance(body, Mapping) else None
