"""AuditLogger and AuditMiddleware: decorator, overflow, failing sinks, lifespan flush, alerts, CLI, and
the SDK egress hook's CLIENT spans."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from claude_guard import _cli_audit
from claude_guard._asgi import Receive, Scope, Send
from claude_guard.audit import (
    Alert,
    Alerts,
    AuditLogger,
    AuditMiddleware,
    AuditRecord,
    SQLiteAuditSink,
    TracingHook,
    WebhookAlertSender,
)
from claude_guard.context import current_context
from claude_guard.egress import GuardAnthropicMiddleware
from claude_guard.errors import AuthenticationError
from claude_guard.middleware import SafeErrorMiddleware
from claude_guard.testing import FakeClaude


class ListSink:
    name = "list"

    def __init__(self, fail_times: int = 0, gate: asyncio.Event | None = None) -> None:
        self.records: list[AuditRecord] = []
        self.fail_times = fail_times
        self.gate = gate

    async def write(self, records: Sequence[AuditRecord]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_times:
            self.fail_times -= 1
            raise OSError("disk full")
        self.records.extend(records)

    async def aclose(self) -> None:
        return None


def _metric(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    return [
        p
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
    ]


async def test_log_request_decorator(tmp_path: Path) -> None:
    audit = AuditLogger([SQLiteAuditSink(tmp_path / "a.db")])

    @audit.log_request
    async def summarize(text: str) -> str:
        assert current_context() is not None
        return text.upper()

    @audit.log_request(route="jobs.fail")
    async def fail() -> None:
        raise ValueError("boom")

    assert await summarize("secret prompt text") == "SECRET PROMPT TEXT"
    with pytest.raises(ValueError, match="boom"):
        await fail()
    logs = await audit.get_logs(days=30)
    await audit.aclose()
    assert [(r.route, r.outcome, r.status) for r in logs] == [
        ("test_log_request_decorator.<locals>.summarize", "allowed", 200),
        ("jobs.fail", "error", None),
    ]
    assert "secret" not in json.dumps([r.to_dict() for r in logs])


async def test_full_queue_is_counted_and_logged_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    reader = InMemoryMetricReader()
    gate = asyncio.Event()
    sink = ListSink(gate=gate)
    audit = AuditLogger(
        [sink], queue_size=2, batch_size=1, meter_provider=MeterProvider(metric_readers=[reader])
    )
    record = AuditRecord(time=1.0, request_id="req_1", route="/", outcome="allowed")
    results = [audit.submit(record) for _ in range(6)]
    await asyncio.sleep(0)
    assert results.count(False) >= 3
    assert audit.dropped == results.count(False)
    assert sum(p.value for p in _metric(reader, "claude_guard.audit.dropped")) == audit.dropped
    assert "audit record(s) dropped (queue_full)" in caplog.text
    gate.set()
    await audit.aclose()
    assert len(sink.records) == results.count(True)


async def test_failing_sink_is_retried_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    reader = InMemoryMetricReader()
    flaky, broken = ListSink(fail_times=1), ListSink(fail_times=99)
    audit = AuditLogger(
        [flaky, broken], retries=2, retry_delay=0.001, meter_provider=MeterProvider(metric_readers=[reader])
    )
    audit.submit(AuditRecord(time=1.0, request_id="req_1", route="/", outcome="allowed"))
    await audit.aclose()
    assert len(flaky.records) == 1  # the retry got it through
    assert broken.records == []
    assert audit.dropped == 1
    assert sum(p.value for p in _metric(reader, "claude_guard.audit.sink_errors")) == 3
    assert "audit sink list failed (OSError)" in caplog.text
    assert "dropped (sink_failed:list)" in caplog.text


async def test_lifespan_shutdown_flushes_the_queue() -> None:
    gate = asyncio.Event()
    sink = ListSink(gate=gate)
    audit = AuditLogger([sink])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    audited = AuditMiddleware(app, logger=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited), base_url="http://t") as client:
        assert (await client.get("/x")).status_code == 204
    assert sink.records == []  # the writer is held back by the gate

    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])
        assert message["type"] != "lifespan.shutdown.complete" or len(sink.records) == 1

    asyncio.get_running_loop().call_later(0.01, gate.set)
    await audited({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    await audit.aclose()


async def test_concurrent_requests_keep_their_own_records() -> None:
    sink = ListSink()
    audit = AuditLogger([sink])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.001)
        status = int(scope["path"].strip("/"))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    audited = AuditMiddleware(app, logger=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited), base_url="http://t") as client:
        await asyncio.gather(*(client.get(f"/{200 + i}") for i in range(20)))
    await audit.aclose()
    assert sorted((r.route, r.status) for r in sink.records) == [(f"/{200 + i}", 200 + i) for i in range(20)]
    assert len({r.request_id for r in sink.records}) == 20


async def test_repeated_auth_failures_from_one_address_alert() -> None:
    seen: list[Alert] = []
    audit = AuditLogger([ListSink()], alerts=Alerts([seen.append], auth_failure_threshold=3))

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        raise AuthenticationError()

    app = AuditMiddleware(SafeErrorMiddleware(refuse), logger=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for _ in range(4):
            assert (await client.get("/v1/messages")).status_code == 401
    await audit.aclose()
    assert [a.kind for a in seen] == ["auth_failures"]
    assert seen[0].detail["failures"] == 3


async def test_webhook_sender_posts_json_with_a_bounded_timeout() -> None:
    received: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sender = WebhookAlertSender("https://hooks.example/x?token=t", timeout=2.0, client=client)
    await sender(Alert(kind="budget_exhausted", time=1.0, key_id="key_1", detail={"limit": 5.0}))
    await sender.aclose()
    assert received == [
        {
            "kind": "budget_exhausted",
            "time": 1.0,
            "request_id": None,
            "key_id": "key_1",
            "profile": None,
            "detail": {"limit": 5.0},
        }
    ]
    assert "token" not in repr(sender)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tracing_hook_gives_sdk_calls_a_client_span(stream: bool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    hook = TracingHook(tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader]))
    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-test",
        base_url="http://fake",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=FakeClaude())),
        middleware=[GuardAnthropicMiddleware([hook])],
    )
    kwargs: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    if stream:
        async with client.messages.stream(**kwargs) as events:
            async for _ in events:
                pass
    else:
        await client.messages.create(**kwargs)
    await client.close()
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat claude-haiku-4-5"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.request.stream"] is stream
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert "error.type" not in attributes
    assert len(_metric(reader, "gen_ai.client.token.usage")) == 2


def test_cli_shows_purges_and_erases(tmp_path: Path) -> None:
    import time

    db = tmp_path / "audit.db"

    async def fill() -> None:
        sink = SQLiteAuditSink(db)
        now = time.time()
        await sink.write(
            [
                AuditRecord(
                    time=now - 40 * 86400,
                    request_id="req_old",
                    route="/v1/messages",
                    outcome="allowed",
                    key_id="key_a",
                ),
                AuditRecord(
                    time=now - 60,
                    request_id="req_a",
                    route="/v1/messages",
                    outcome="allowed",
                    key_id="key_a",
                    status=200,
                ),
                AuditRecord(
                    time=now - 30,
                    request_id="req_b",
                    route="/v1/messages",
                    outcome="refused",
                    key_id="key_b",
                    status=429,
                    rule_ids=("inj-001",),
                ),
            ]
        )
        await sink.aclose()

    asyncio.run(fill())

    def run(*argv: str) -> str:
        parser = __import__("argparse").ArgumentParser(prog="claude-guard")
        _cli_audit.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(list(argv))
        out = io.StringIO()
        assert _cli_audit.run(args, out) == 0
        return out.getvalue()

    text = run("audit", "--days", "30", "--db", str(db))
    assert "req_a" in text and "req_b" in text and "req_old" not in text and "rules=inj-001" in text
    lines = run("audit", "--days", "30", "--key", "key_b", "--json", "--db", str(db)).splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == ["req_b"]
    assert "purged 1 record(s)" in run("audit", "purge", "--older-than", "30", "--db", str(db))
    assert "erased 1 record(s) of key key_a" in run("audit", "erase", "--key", "key_a", "--db", str(db))
    assert "req_a" not in run("audit", "--days", "365", "--db", str(db))


class BatchSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    async def write(self, records: Sequence[AuditRecord]) -> None:
        self.calls.append(len(records))
        await super().write(records)


@pytest.mark.parametrize("delay", [0.0, 0.05])
async def test_records_arriving_one_by_one_are_written_in_batches(delay: float) -> None:
    sink = BatchSink()
    audit = AuditLogger([sink], batch_delay=delay)
    for n in range(40):  # one record per loop turn, as requests finish under load
        audit.submit(AuditRecord(time=float(n), request_id=f"req_{n}", route="/", outcome="allowed"))
        await asyncio.sleep(0.001)
    await audit.aclose()
    assert [r.request_id for r in sink.records] == [f"req_{n}" for n in range(40)]
    if delay:
        assert len(sink.calls) <= 4, sink.calls  # ~40 ms of records in one or two batches
    else:
        assert len(sink.calls) >= 20, sink.calls  # written as they come


async def test_flush_does_not_wait_out_the_batch_delay() -> None:
    sink = BatchSink()
    audit = AuditLogger([sink], batch_delay=30.0)
    audit.submit(AuditRecord(time=1.0, request_id="req_1", route="/", outcome="allowed"))
    await asyncio.sleep(0.01)  # the writer is now waiting for more
    await audit.flush(timeout=2.0)
    assert [r.request_id for r in sink.records] == ["req_1"]
    audit.submit(AuditRecord(time=2.0, request_id="req_2", route="/", outcome="allowed"))
    await audit.aclose(timeout=2.0)
    assert [r.request_id for r in sink.records] == ["req_1", "req_2"]


async def test_a_full_batch_is_written_without_waiting() -> None:
    sink = BatchSink()
    audit = AuditLogger([sink], batch_size=5, batch_delay=30.0)
    for n in range(5):
        audit.submit(AuditRecord(time=float(n), request_id=f"req_{n}", route="/", outcome="allowed"))
        await asyncio.sleep(0)
    for _ in range(100):
        if sink.records:
            break
        await asyncio.sleep(0.01)
    assert len(sink.records) == 5
    await audit.aclose()
