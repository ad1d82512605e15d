"""The guard's own span when the app set no tracer provider of its own: none is started (it would record
nothing), and one set later, after the guard was built, is used from then on; a recording span already
current (the app's own instrumentation) is enriched either way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from _sinks import ListSink
from claude_guard._asgi import Receive, Scope, Send
from claude_guard.audit import AuditLogger, AuditMiddleware

SPANS: list[object] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    SPANS.append(trace.get_current_span())
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def call(audit: AuditLogger) -> None:
    audited = AuditMiddleware(app, logger=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited), base_url="http://t") as client:
        assert (await client.get("/x")).status_code == 204


@pytest.fixture(autouse=True)
def _no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)  # the API's proxy until a test sets one
    SPANS.clear()


async def test_no_provider_starts_no_span_and_still_audits(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = ListSink()
    audit = AuditLogger([sink])
    assert not audit.instruments.records_spans()
    started: list[str] = []
    tracer_type: Any = type(audit.instruments.tracer)
    real = tracer_type.start_as_current_span

    def spy(self: object, name: str, *args: Any, **kwargs: Any) -> Any:
        started.append(name)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(tracer_type, "start_as_current_span", spy)
    await call(audit)
    assert started == []  # a span of the API's proxy records nothing: none is built
    await audit.aclose()
    assert SPANS == [trace.INVALID_SPAN]  # nothing was made current
    assert [r.status for r in sink.records] == [204]


async def test_a_provider_set_after_the_guard_was_built_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = ListSink()
    audit = AuditLogger([sink])  # built while no provider is set
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    assert audit.instruments.records_spans()
    await call(audit)
    await audit.aclose()
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "claude_guard"
    assert SPANS[0].get_span_context() == finished.context  # type: ignore[attr-defined]  # current in the app


async def test_an_app_span_already_current_is_enriched_without_a_global_provider() -> None:
    exporter = InMemorySpanExporter()
    own = TracerProvider()  # the app's own instrumentation, given its provider explicitly
    own.add_span_processor(SimpleSpanProcessor(exporter))
    audit = AuditLogger([ListSink()])
    with own.get_tracer("app").start_as_current_span("GET /x") as server_span:
        await call(audit)
    await audit.aclose()
    assert [server_span] == SPANS
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "GET /x" and finished.attributes  # the guard wrote its attributes on it
