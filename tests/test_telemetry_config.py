"""configure_telemetry from OTEL_* variables, and everything still working without opentelemetry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from claude_guard.audit import AuditLogger, SQLiteAuditSink, configure_telemetry


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, "console"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp/http"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "otlp/grpc",
        ),
    ],
    ids=["console", "http", "grpc"],
)
def test_configure_telemetry_picks_the_exporter(environ: dict[str, str], exporter: str) -> None:
    providers = configure_telemetry("svc", environ=environ, set_global=False)
    assert providers is not None
    try:
        assert providers.exporter == exporter
        assert providers.tracer_provider.resource.attributes["service.name"] == "svc"
        assert (providers.meter_provider is None) == (exporter == "console")
    finally:
        providers.shutdown()


def test_configure_telemetry_respects_sdk_disabled() -> None:
    assert configure_telemetry(environ={"OTEL_SDK_DISABLED": "true"}, set_global=False) is None


async def test_audit_works_without_opentelemetry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    audit = AuditLogger([SQLiteAuditSink(tmp_path / "a.db")])
    assert audit.instruments.tracer is None

    @audit.log_request
    async def job() -> int:
        return 1

    assert await job() == 1
    assert len(await audit.get_logs(days=1)) == 1
    await audit.aclose()
