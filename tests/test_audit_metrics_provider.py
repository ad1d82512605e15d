"""Metrics when the app set no meter provider: nothing is built for nobody (no per-decision attribute dicts,
no second parse of the answer), and the audit record still carries the tokens and the guard's own latency;
one given, or set globally later, is recorded."""

from __future__ import annotations

import json
import types
from typing import Any

import anthropic
import httpx
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from _sinks import ListSink
from claude_guard import ClaudeGuard, GuardSettings
from claude_guard._asgi import Receive, Scope, Send, context_for
from claude_guard.audit import AuditLogger, AuditMiddleware, _genai, _otel, traced_proxy
from claude_guard.gateway import MessagesProxy
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY


@pytest.fixture(autouse=True)
def _no_global_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The APIs' proxies until a test sets a provider.
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)


def _counting_safe_detail(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = _otel.safe_detail

    def counting(detail: Any) -> Any:
        calls.append(detail)
        return real(detail)

    monkeypatch.setattr(_otel, "safe_detail", counting)
    return calls


async def _decided(scope: Scope, receive: Receive, send: Send) -> None:
    context_for(scope).decide("validation", "passed", reason="none")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _call(audit: AuditLogger) -> None:
    audited = AuditMiddleware(_decided, logger=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited), base_url="http://t") as client:
        assert (await client.get("/x")).status_code == 204


async def test_no_meter_provider_builds_no_metric_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_safe_detail(monkeypatch)
    sink = ListSink()
    audit = AuditLogger([sink])
    assert not audit.instruments.records_metrics()
    await _call(audit)
    await audit.aclose()
    assert calls == []  # no decision's attributes were built
    assert [r.status for r in sink.records] == [204]  # the record itself is whole


async def test_a_given_meter_provider_records_the_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_safe_detail(monkeypatch)
    reader = InMemoryMetricReader()
    audit = AuditLogger([ListSink()], meter_provider=MeterProvider(metric_readers=[reader]))
    assert audit.instruments.records_metrics()
    await _call(audit)
    await audit.aclose()
    assert calls  # the decision's reason was read for its attributes
    names = {
        metric.name
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert {"claude_guard.decisions", "claude_guard.requests"} <= names


def test_a_global_meter_provider_set_later_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    audit = AuditLogger([ListSink()])  # built while no provider is set
    assert not audit.instruments.records_metrics()
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", MeterProvider())
    assert audit.instruments.records_metrics()


def _counting_json(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    parsed: list[bytes] = []

    def loads(raw: Any, **kwargs: Any) -> Any:
        parsed.append(raw)
        return json.loads(raw, **kwargs)

    monkeypatch.setattr(_genai, "json", types.SimpleNamespace(loads=loads, dumps=json.dumps))
    return parsed


async def _gateway(monkeypatch: pytest.MonkeyPatch, meter_provider: MeterProvider | None) -> ListSink:
    sink = ListSink()
    with serve(FakeClaude(api_key=CANARY_API_KEY)) as upstream:
        settings = GuardSettings(
            api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
            api_url=upstream.url,
            storage_url="memory://",
            pii="off",
        )
        guard = ClaudeGuard(settings=settings)
        guard._audit = AuditLogger([sink], meter_provider=meter_provider)
        if meter_provider is not None:  # the gateway's Messages endpoint, given the provider
            endpoint = traced_proxy(MessagesProxy(guard.upstream), meter_provider=meter_provider)
            monkeypatch.setattr(guard, "messages_proxy", lambda: endpoint)
        app = create_app(guard)
        with serve(app) as server:
            key = (await guard.keys.create(profile="analysis", environment="development")).key
            client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
            reply = await client.messages.create(
                model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "hello there"}]
            )
            assert reply.usage.output_tokens > 0
            await guard.audit.flush()
        await guard.aclose()
    return sink


async def test_the_gateway_reads_its_answer_once_without_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _counting_json(monkeypatch)
    sink = await _gateway(monkeypatch, None)
    assert parsed == []  # the meter read the usage; the span proxy, with nobody to tell, did not re-parse
    (record,) = sink.records
    assert record.status == 200
    assert record.input_tokens and record.output_tokens  # the meter's usage
    assert record.guard_ms is not None  # the upstream's time was still taken off the request's


async def test_the_gateway_records_token_usage_with_a_meter_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _counting_json(monkeypatch)
    reader = InMemoryMetricReader()
    sink = await _gateway(monkeypatch, MeterProvider(metric_readers=[reader]))
    assert len(parsed) == 1  # read for the metric's usage
    usage = [
        point.sum
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "gen_ai.client.token.usage"
        for point in metric.data.data_points
    ]
    (record,) = sink.records
    assert sorted(usage) == sorted([record.input_tokens, record.output_tokens])
