"""Audit records exported as OpenTelemetry log records over real OTLP/HTTP (decoded by an in-test receiver)
and as JSON lines, from a running gateway; neither holds a prompt, a key or a PII value."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from _uvicorn import ROOT, uvicorn_processes
from claude_guard import GuardSettings
from claude_guard._asgi import Receive, Scope, Send
from claude_guard.audit import AuditRecord, JSONLinesAuditSink, OTelLogSink
from claude_guard.guard import audit_export_sinks
from claude_guard.keys._store import KeyStore
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY

CANARY_PROMPT = "lighthouse-canary-prompt-88QX"
CANARY_EMAIL = "export.canary.7310@example.org"


class LogReceiver:
    """A tiny OTLP/HTTP logs receiver: decodes ExportLogsServiceRequest bodies."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.raw = b""
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
        if scope["path"] == "/v1/logs":
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            with self._lock:
                self.raw += body
                for resource_logs in request.resource_logs:
                    for scope_logs in resource_logs.scope_logs:
                        for record in scope_logs.log_records:
                            self.records.append(
                                {
                                    "event": record.event_name,
                                    "body": record.body.string_value,
                                    "attributes": {a.key: _value(a.value) for a in record.attributes},
                                    "scope": scope_logs.scope.name,
                                }
                            )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": ExportLogsServiceResponse().SerializeToString()})


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[tuple[LogReceiver, str]]:
    r = LogReceiver()
    with serve(r) as server:
        yield r, server.url


def _wait_for(predicate: Any, what: str) -> None:
    # Export is batched on the exporter's own schedule (set to 50 ms below); this only bounds a failure.
    deadline = time.monotonic() + 60
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_gateway_exports_audit_records_over_otlp_and_as_json_lines(
    receiver: tuple[LogReceiver, str], tmp_path: Path
) -> None:
    logs, logs_url = receiver
    fake = FakeClaude(api_key=CANARY_API_KEY)
    keys_file = tmp_path / "keys.json"
    key = asyncio.run(
        KeyStore(MemoryStore(), keys_file=keys_file).create(profile="analysis", environment="development")
    ).key
    jsonl = tmp_path / "audit.jsonl"
    with serve(fake) as upstream:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "OTEL_"))},
            "CLAUDE_GUARD_AUDIT_DB": str(tmp_path / "audit.db"),
            "CLAUDE_API_KEY": CANARY_API_KEY,
            "CLAUDE_API_URL": upstream.url,
            "CLAUDE_GUARD_KEYS_FILE": str(keys_file),
            "CLAUDE_GUARD_PII": "off",
            "CLAUDE_GUARD_AUDIT_JSONL": str(jsonl),
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{logs_url}/v1/logs",
            "OTEL_BLRP_SCHEDULE_DELAY": "50",
            "PYTHONPATH": str(ROOT / "src"),
        }
        with uvicorn_processes("app:app", app_dir=ROOT / "examples/fastapi_app", env=env) as urls:
            client = anthropic.Anthropic(base_url=urls[0], api_key=key, max_retries=0)
            client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=32,
                messages=[{"role": "user", "content": f"{CANARY_PROMPT} mail {CANARY_EMAIL}"}],
            )
            with pytest.raises(anthropic.PermissionDeniedError):
                client.messages.create(
                    model="claude-haiku-4-5",
                    max_tokens=32,
                    messages=[{"role": "user", "content": CANARY_PROMPT}],
                    tools=[{"name": "Bash", "description": "b", "input_schema": {"type": "object"}}],
                )
            _wait_for(
                lambda: len([r for r in logs.records if r["event"] == "claude_guard.audit"]) >= 2, "logs"
            )
            _wait_for(lambda: jsonl.exists() and len(jsonl.read_text().splitlines()) >= 2, "JSON lines")
    audit = [r for r in logs.records if r["event"] == "claude_guard.audit"]
    statuses = sorted(r["attributes"]["claude_guard.audit.status"] for r in audit)
    assert statuses == [200, 403]
    allowed = next(r for r in audit if r["attributes"]["claude_guard.audit.status"] == 200)
    assert allowed["attributes"]["claude_guard.audit.route"] == "/v1/messages"
    assert allowed["attributes"]["claude_guard.audit.model"] == "claude-haiku-4-5"
    assert allowed["attributes"]["claude_guard.audit.key_id"] == key.split("_")[2]
    assert allowed["attributes"]["claude_guard.audit.input_tokens"] > 0
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(line["status"] for line in lines) == [200, 403]
    assert {line["request_id"] for line in lines} == {
        r["attributes"]["claude_guard.audit.request_id"] for r in audit
    }
    everything = logs.raw + jsonl.read_bytes()
    for canary in (CANARY_PROMPT, CANARY_EMAIL, key, CANARY_API_KEY):
        assert canary.encode() not in everything


def test_export_sinks_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert audit_export_sinks(GuardSettings()) == []
    sinks = audit_export_sinks(GuardSettings(audit_jsonl="stdout", audit_otlp="on"))
    assert [type(s) for s in sinks] == [JSONLinesAuditSink, OTelLogSink]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:4318/v1/logs")
    assert [type(s) for s in audit_export_sinks(GuardSettings())] == [OTelLogSink]
    assert audit_export_sinks(GuardSettings(audit_otlp="off")) == []
    settings = GuardSettings.from_env({"CLAUDE_GUARD_AUDIT_JSONL": "stderr"}, require_api_key=False)
    assert settings.audit_jsonl == "stderr"


async def test_json_lines_on_a_stream_one_record_per_line() -> None:
    stream = io.StringIO()
    sink = JSONLinesAuditSink(stream)
    records = [
        AuditRecord(time=1.0 + i, request_id=f"req_{i}", route="/v1/messages", outcome="allowed")
        for i in range(3)
    ]
    await sink.write(records)
    await sink.aclose()
    assert [AuditRecord.from_json(line) for line in stream.getvalue().splitlines()] == records
