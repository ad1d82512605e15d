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

from ._alerts import Alert, AlertCallback, AlertKind, Alerts, WebhookAlertSender
from ._chain import AuditChain, VerifyReport, verify_chain
from ._configure import TelemetryProviders, configure_telemetry, otlp_endpoint
from ._genai import GenAICall, TracedMessagesProxy, TracingHook, traced_proxy
from ._logger import AuditLogger
from ._middleware import AuditMiddleware
from ._record import AuditRecord, record_from_context
from ._sinks import (
    AuditSink,
    JSONLinesAuditSink,
    OTelLogSink,
    QueryableAuditSink,
    RedisAuditSink,
    SQLiteAuditSink,
    audit_store_from_url,
)

__all__ = [
    "Alert",
    "AlertCallback",
    "AlertKind",
    "Alerts",
    "AuditChain",
    "AuditLogger",
    "AuditMiddleware",
    "AuditRecord",
    "AuditSink",
    "GenAICall",
    "JSONLinesAuditSink",
    "OTelLogSink",
    "QueryableAuditSink",
    "RedisAuditSink",
    "SQLiteAuditSink",
    "TelemetryProviders",
    "TracedMessagesProxy",
    "TracingHook",
    "VerifyReport",
    "WebhookAlertSender",
    "audit_store_from_url",
    "configure_telemetry",
    "log_request",
    "otlp_endpoint",
    "record_from_context",
    "traced_proxy",
    "verify_chain",
]


def log_request(logger: AuditLogger, *, route: str | None = None):  # type: ignore[no-untyped-def]
    """``@log_request(audit)``: the same as ``@audit.log_request(route=...)``."""
    return logger.log_request(route=route)
