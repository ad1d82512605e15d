"""Spans exported over real OTLP/HTTP to a receiver that decodes the protobuf; canaries never leak."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from claude_guard._asgi import ASGIApp, Receive, Scope, Send, context_for
from claude_guard.audit import (
    Alert,
    Alerts,
    AuditLogger,
    AuditMiddleware,
    JSONLinesAuditSink,
    OTelLogSink,
    SQLiteAuditSink,
    traced_proxy,
)
from claude_guard.context import Principal
from claude_guard.errors import RateLimitedError
from claude_guard.gateway import MessagesProxy
from claude_guard.middleware import GuardMiddleware, SafeErrorMiddleware
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import ErrorResponse, FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient

CANARY_PROMPT = "zebra-canary-prompt-7Q3X"
CANARY_EMAIL = "canary.person.9931@example.org"
CANARY_CLIENT_KEY = "cg_live_CANARYclientKEY0123456789abcdef"
MODEL = "claude-sonnet-4-6"


class Receiver:
    """A tiny OTLP/HTTP trace receiver: decodes ExportTraceServiceRequest bodies into span dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with self._lock:
                self.raw.append(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            self.spans.append(_span_dict(span))
        payload = ExportTraceServiceResponse().SerializeToString()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def by_name(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"] == name]


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _span_dict(span: Any) -> dict[str, Any]:
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent": span.parent_span_id.hex(),
        "attributes": {a.key: _value(a.value) for a in span.attributes},
        "events": [
            {"name": e.name, "attributes": {a.key: _value(a.value) for a in e.attributes}}
            for e in span.events
        ],
        "status": span.status.code,
    }


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve(r) as server:
        yield r, server.url


class FakeProtections(GuardMiddleware):
    """Stands in for the other protections: a principal, decisions with details, cost and usage."""

    def __init__(self, app: ASGIApp, *, refuse: bool = False) -> None:
        super().__init__(app)
        self.refuse = refuse

    async def handle(self, ctx: Any, scope: Scope, receive: Receive, send: Send) -> None:
        ctx.principal = Principal(key_id="key_7f3a", profile="analysis", environment="development")
        ctx.decide("auth", "allowed")
        ctx.decide("validation", "passed", rule_ids=["inj-001"], matched=CANARY_PROMPT)
        if self.refuse:
            ctx.decide("rate_limit", "refused", remaining=0, limit=10, policy="rpm")
            raise RateLimitedError("Too many requests.", retry_after=3)
        ctx.decide("rate_limit", "allowed", remaining=9, limit=10, policy="rpm")
        ctx.decide("budget", "reserved", remaining=4.5, limit=5.0, period="day")
        ctx.decide("pii", "redacted", entities={"EMAIL_ADDRESS": 1, CANARY_EMAIL: 3}, value=CANARY_EMAIL)
        await self.app(scope, receive, send)


def _gateway(
    fake: FakeClaude,
    logger: AuditLogger,
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    *,
    refuse: bool = False,
) -> ASGIApp:
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": CANARY_API_KEY}),
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    proxy = traced_proxy(
        MessagesProxy(upstream), tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    inner = FakeProtections(proxy, refuse=refuse)
    return AuditMiddleware(SafeErrorMiddleware(inner), logger=logger)


async def _post(app: ASGIApp, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        return await client.post(
            "/v1/messages",
            json=body,
            headers={"x-api-key": CANARY_CLIENT_KEY, "anthropic-version": "2023-06-01"},
        )


def _body(stream: bool = False) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "temperature": 0.5,
        "stream": stream,
        "messages": [{"role": "user", "content": f"{CANARY_PROMPT} mail me at {CANARY_EMAIL}"}],
    }


class Setup:
    def __init__(self, url: str, tmp: Path) -> None:
        self.tracer_provider = TracerProvider()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"))
        )
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.alerts_seen: list[Alert] = []
        self.jsonl = tmp / "audit.jsonl"
        self.audit = AuditLogger(
            [
                SQLiteAuditSink(tmp / "audit.db"),
                JSONLinesAuditSink(self.jsonl),
                OTelLogSink(logger_provider=self.logger_provider),
            ],
            alerts=Alerts([self.alerts_seen.append]),
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    async def finish(self) -> None:
        await self.audit.flush()
        assert self.tracer_provider.force_flush()

    def metric_points(self) -> dict[str, list[Any]]:
        data = self.metrics.get_metrics_data()
        points: dict[str, list[Any]] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


async def test_json_call_spans_metrics_and_record(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    r, url = receiver
    s = Setup(url, tmp_path)
    app = _gateway(FakeClaude(api_key=CANARY_API_KEY), s.audit, s.tracer_provider, s.meter_provider)
    response = await _post(app, _body())
    assert response.status_code == 200
    await s.finish()

    (client,) = r.by_name(f"chat {MODEL}")
    (server,) = r.by_name("claude_guard")
    assert client["kind"] == 3  # SPAN_KIND_CLIENT
    assert server["kind"] == 1  # SPAN_KIND_INTERNAL: no server span here
    assert client["parent"] == server["span_id"]
    a = client["attributes"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.stream"] is False
    assert a["gen_ai.response.model"] == MODEL
    assert a["gen_ai.response.id"].startswith("msg_")
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert "error.type" not in a

    g = server["attributes"]
    assert g["claude_guard.principal.key_id"] == "key_7f3a"
    assert g["claude_guard.principal.profile"] == "analysis"
    assert g["claude_guard.validation.result"] == "passed"
    assert g["claude_guard.rule_ids"] == ["inj-001"]
    assert g["claude_guard.rate_limit.outcome"] == "allowed"
    assert g["claude_guard.rate_limit.remaining"] == 9
    assert g["claude_guard.budget.remaining"] == 4.5
    assert g["claude_guard.pii.entity_types"] == ["EMAIL_ADDRESS"]
    assert g["claude_guard.pii.entity_counts"] == [1]
    assert g["claude_guard.outcome"] == "allowed"
    assert {e["attributes"]["claude_guard.protection"] for e in server["events"]} >= {
        "auth",
        "validation",
        "rate_limit",
        "budget",
        "pii",
    }

    points = s.metric_points()
    token_types = {p.attributes["gen_ai.token.type"] for p in points["gen_ai.client.token.usage"]}
    assert token_types == {"input", "output"}
    assert list(points["gen_ai.client.token.usage"][0].explicit_bounds)[:3] == [1, 4, 16]
    assert points["gen_ai.client.operation.duration"][0].count == 1
    decisions = {
        (p.attributes["claude_guard.protection"], p.attributes["claude_guard.outcome"])
        for p in points["claude_guard.decisions"]
    }
    assert ("rate_limit", "allowed") in decisions
    assert points["claude_guard.guard.duration"][0].count == 1

    (record,) = await s.audit.get_logs(days=30)
    assert (record.key_id, record.profile, record.environment) == ("key_7f3a", "analysis", "development")
    assert (record.route, record.model, record.outcome, record.status) == (
        "/v1/messages",
        MODEL,
        "allowed",
        200,
    )
    assert record.input_tokens > 0 and record.output_tokens > 0
    assert record.rule_ids == ("inj-001",)
    assert dict(record.pii_counts) == {"EMAIL_ADDRESS": 1}
    assert record.guard_ms is not None
    await s.audit.aclose()


async def test_streamed_call_has_usage_and_finish_reason(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    r, url = receiver
    s = Setup(url, tmp_path)
    app = _gateway(FakeClaude(api_key=CANARY_API_KEY), s.audit, s.tracer_provider, s.meter_provider)
    response = await _post(app, _body(stream=True))
    assert response.status_code == 200
    assert "message_stop" in response.text
    await s.finish()
    (client,) = r.by_name(f"chat {MODEL}")
    a = client["attributes"]
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.usage.input_tokens"] > 0
    (record,) = await s.audit.get_logs(days=1)
    assert record.output_tokens == a["gen_ai.usage.output_tokens"]
    await s.audit.aclose()


async def test_refused_call(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    r, url = receiver
    s = Setup(url, tmp_path)
    fake = FakeClaude(api_key=CANARY_API_KEY)
    app = _gateway(fake, s.audit, s.tracer_provider, s.meter_provider, refuse=True)
    response = await _post(app, _body())
    assert response.status_code == 429
    await s.finish()
    assert r.by_name(f"chat {MODEL}") == []  # Claude was never called
    assert fake.requests == []
    (server,) = r.by_name("claude_guard")
    g = server["attributes"]
    assert g["claude_guard.rate_limit.outcome"] == "refused"
    assert g["claude_guard.rate_limit.remaining"] == 0
    assert g["claude_guard.outcome"] == "refused"
    (record,) = await s.audit.get_logs(days=1)
    assert (record.outcome, record.status) == ("refused", 429)
    await s.audit.alerts.drain()  # type: ignore[union-attr]
    assert [a.kind for a in s.alerts_seen] == ["rate_limited"]
    await s.audit.aclose()


async def test_upstream_error(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    r, url = receiver
    s = Setup(url, tmp_path)
    fake = FakeClaude(api_key=CANARY_API_KEY)
    fake.enqueue(ErrorResponse(529))
    app = _gateway(fake, s.audit, s.tracer_provider, s.meter_provider)
    response = await _post(app, _body())
    assert response.status_code == 529
    await s.finish()
    (client,) = r.by_name(f"chat {MODEL}")
    assert client["attributes"]["error.type"] == "overloaded_error"
    assert client["status"] == 2  # STATUS_CODE_ERROR
    points = s.metric_points()
    assert points["gen_ai.client.operation.duration"][0].attributes["error.type"] == "overloaded_error"
    (record,) = await s.audit.get_logs(days=1)
    assert (record.outcome, record.status) == ("upstream_error", 529)
    await s.audit.alerts.drain()  # type: ignore[union-attr]
    assert "upstream_error" in [a.kind for a in s.alerts_seen]
    await s.audit.aclose()


async def test_server_span_is_enriched_when_present(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    r, url = receiver
    s = Setup(url, tmp_path)
    gateway = _gateway(FakeClaude(api_key=CANARY_API_KEY), s.audit, s.tracer_provider, s.meter_provider)
    tracer = s.tracer_provider.get_tracer("server")

    async def instrumented(scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry.trace import SpanKind

        with tracer.start_as_current_span("POST /v1/messages", kind=SpanKind.SERVER):
            await gateway(scope, receive, send)

    assert (await _post(instrumented, _body())).status_code == 200
    await s.finish()
    assert r.by_name("claude_guard") == []
    (server,) = r.by_name("POST /v1/messages")
    assert server["attributes"]["claude_guard.principal.key_id"] == "key_7f3a"
    (client,) = r.by_name(f"chat {MODEL}")
    assert client["parent"] == server["span_id"]
    await s.audit.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_canaries_appear_nowhere(
    receiver: tuple[Receiver, str], tmp_path: Path, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    r, url = receiver
    s = Setup(url, tmp_path)
    fake = FakeClaude(api_key=CANARY_API_KEY)
    app = _gateway(fake, s.audit, s.tracer_provider, s.meter_provider)
    assert (await _post(app, _body(stream=stream))).status_code == 200
    fake.enqueue(ErrorResponse(529))
    await _post(app, _body(stream=stream))
    await s.finish()
    records = await s.audit.get_logs(days=1)
    assert len(records) == 2

    everything = b"".join(r.raw)
    everything += repr(s.metrics.get_metrics_data()).encode()
    everything += "".join(log.to_json() for log in s.logs.get_finished_logs()).encode()
    everything += s.jsonl.read_bytes()
    everything += json.dumps([x.to_dict() for x in records]).encode()
    everything += caplog.text.encode()
    assert r.spans and s.logs.get_finished_logs()
    for canary in (CANARY_PROMPT, CANARY_EMAIL, CANARY_CLIENT_KEY, CANARY_API_KEY, "canary"):
        assert canary.encode() not in everything, canary
    await s.audit.aclose()


async def test_content_capture_records_only_redacted_content(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def redact(scope: Scope, receive: Receive, send: Send) -> None:
        # Stands in for the PII protection: it rewrote the body before forwarding.
        ctx = context_for(scope)
        await proxy(scope, receive, send)
        del ctx

    fake = FakeClaude(api_key=CANARY_API_KEY)
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    proxy = traced_proxy(MessagesProxy(upstream), tracer_provider=provider, capture_content=True)

    # Not redacted: content stays off the span even with capture on.
    assert (await _post(redact, _body())).status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["claude_guard.content.omitted"] == "not_redacted"
    assert "gen_ai.input.messages" not in span.attributes

    class Redacting(GuardMiddleware):
        async def handle(self, ctx: Any, scope: Scope, receive: Receive, send: Send) -> None:
            from claude_guard._asgi import ensure_body

            receive = await ensure_body(ctx, scope, receive)
            body = ctx.json()
            body["messages"][0]["content"] = "mail me at <EMAIL_ADDRESS_1>"
            ctx.set_json(body)
            ctx.decide("pii", "redacted", entities={"EMAIL_ADDRESS": 1})
            await self.app(scope, receive, send)

    exporter.clear()
    assert (await _post(Redacting(proxy), _body())).status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    captured = str(span.attributes["gen_ai.input.messages"]) + str(span.attributes["gen_ai.output.messages"])
    assert "<EMAIL_ADDRESS_1>" in captured
    assert CANARY_EMAIL not in captured and CANARY_PROMPT not in captured
