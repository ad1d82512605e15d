"""Audit and observability: OpenTelemetry spans and metrics, a queryable audit log with retention, alerts.

- `AuditMiddleware` (outermost) writes one `AuditRecord` per request through an `AuditLogger` and enriches
  the current server span (or an INTERNAL ``claude_guard`` span) with the guard's verdicts.
- `traced_proxy` / `TracingHook` give calls to Claude a CLIENT span ``chat {model}`` (GenAI conventions).
- Sinks: `SQLiteAuditSink` (default, queryable), `RedisAuditSink` (Redis Streams, queryable),
  `JSONLinesAuditSink`, `OTelLogSink`.
- `Alerts` with callbacks and `WebhookAlertSender`.
- `configure_telemetry` sets up export from the standard ``OTEL_*`` variables, and a Prometheus endpoint.
- `AuditChain` / `verify_chain`: records linked by a keyed hash, so an edit or a deletion shows.

Everything OpenTelemetry is optional: without ``opentelemetry-api`` spans and metrics are no-ops.
"""

from __future__ import annotations

from ._alerts import Alert, Alerts, WebhookAlertSender
from ._configure import configure_telemetry, otlp_endpoint
from ._genai import traced_proxy
from ._genai_hook import TracingHook
from ._logger import AuditLogger
from ._middleware import AuditMiddleware
from ._record import AuditRecord
from ._sinks import AuditSink, JSONLinesAuditSink, OTelLogSink, RedisAuditSink, SQLiteAuditSink

__all__ = [
    "Alert",
    "Alerts",
    "AuditLogger",
    "AuditMiddleware",
    "AuditRecord",
    "AuditSink",
    "JSONLinesAuditSink",
    "OTelLogSink",
    "RedisAuditSink",
    "SQLiteAuditSink",
    "TracingHook",
    "WebhookAlertSender",
    "configure_telemetry",
    "log_request",
    "otlp_endpoint",
    "traced_proxy",
]


def log_request(logger: AuditLogger, *, route: str | None = None):  # type: ignore[no-untyped-def]
    """``@log_request(audit)``: the same as ``@audit.log_request(route=...)``."""
    return logger.log_request(route=route)
