"""Optional OpenTelemetry: tracers, instruments and span enrichment, all no-ops without opentelemetry-api.

Every component takes ``tracer_provider=`` / ``meter_provider=`` (tests pass their own); ``None`` means the
global providers, which `configure_telemetry` or the user's own setup installs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from .._otel_api import no_meter_providers
from ..context import GuardContext
from ._record import (
    BUDGET,
    PII,
    RATE_LIMIT,
    VALIDATION,
    AuditRecord,
    safe_detail,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["Instruments", "enrich_span", "otel_available"]

logger = logging.getLogger("claude_guard")

INSTRUMENTATION_NAME: Final = "claude_guard"
INSTRUMENTATION_VERSION: Final = "0.1.0"

TOKEN_BUCKETS: Final = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
GUARD_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def otel_available() -> bool:
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


class Instruments:
    """The tracer and every instrument claude_guard records, resolved once per component.

    Without opentelemetry-api every attribute is ``None`` and every ``record_*`` method does nothing.
    """

    def __init__(
        self, *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
    ) -> None:
        self.tracer: Tracer | None = None
        self._given_provider = False
        self._global_provider: Callable[[], object] = object
        self._no_provider: tuple[type, ...] = ()
        self._given_meter_provider = False
        self._global_meter_provider: Callable[[], object] = object
        self._no_meter_provider: tuple[type, ...] = ()
        self.token_usage: Histogram | None = None
        self.operation_duration: Histogram | None = None
        self.cost: Counter | None = None
        self.decisions: Counter | None = None
        self.requests: Counter | None = None
        self.guard_duration: Histogram | None = None
        self.audit_dropped: Counter | None = None
        self.audit_sink_errors: Counter | None = None
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            return
        self.tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, tracer_provider=tracer_provider
        )
        self._given_provider = tracer_provider is not None
        self._global_provider = trace.get_tracer_provider
        self._no_provider = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self._given_meter_provider = meter_provider is not None
        self._global_meter_provider = metrics.get_meter_provider
        self._no_meter_provider = no_meter_providers(metrics)
        meter = metrics.get_meter(
            INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, meter_provider=meter_provider
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=[float(b) for b in TOKEN_BUCKETS],
        )
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.cost = meter.create_counter(
            "claude_guard.cost", unit="USD", description="Metered cost of calls to Claude, in US dollars."
        )
        self.decisions = meter.create_counter(
            "claude_guard.decisions", unit="{decision}", description="Verdicts of the guard's protections."
        )
        self.requests = meter.create_counter(
            "claude_guard.requests", unit="{request}", description="Guarded requests, by how they ended."
        )
        self.guard_duration = meter.create_histogram(
            "claude_guard.guard.duration",
            unit="s",
            description="Latency the guard adds: request duration minus the time spent waiting on Claude.",
            explicit_bucket_boundaries_advisory=list(GUARD_BUCKETS),
        )
        self.audit_dropped = meter.create_counter(
            "claude_guard.audit.dropped",
            unit="{record}",
            description="Audit records that could not be written (queue full or a sink failing).",
        )
        self.audit_sink_errors = meter.create_counter(
            "claude_guard.audit.sink_errors", unit="{error}", description="Failed writes to an audit sink."
        )

    def records_spans(self) -> bool:
        """Whether a span started with `tracer` would record: a provider was given, or one (not the API's
        proxy or no-op) is set globally. Asked per request, since an app may set its provider after the
        guard is built; without one, starting a span only builds a non-recording one (about 40 µs of the
        gateway's CPU per request, measured)."""
        if self.tracer is None:
            return False
        return self._given_provider or not isinstance(self._global_provider(), self._no_provider)

    def records_metrics(self) -> bool:
        """Whether the instruments record: a meter provider was given, or one (not the API's proxy or
        no-op) is set globally. Asked per request, like `records_spans`: the API's proxy instruments start
        recording once an app sets its provider, and until then the attribute dicts are not built for
        nobody (a per-decision dict and reason lookup per request, measured)."""
        if self.requests is None:
            return False
        return self._given_meter_provider or not isinstance(
            self._global_meter_provider(), self._no_meter_provider
        )

    def record_request(self, ctx: GuardContext, record: AuditRecord) -> None:
        """Metrics of one finished request: decisions, cost and the guard's added latency."""
        if not self.records_metrics():
            return
        base = _base_attributes(record)
        if self.requests is not None:
            self.requests.add(1, base)
        if self.decisions is not None:
            for decision in ctx.decisions:
                attributes = {
                    **base,
                    "claude_guard.protection": decision.protection,
                    "claude_guard.outcome": decision.outcome,
                }
                reason = _reason(decision.detail)
                if reason is not None:
                    attributes["claude_guard.reason"] = reason
                self.decisions.add(1, attributes)
        if self.cost is not None and record.cost_usd is not None and record.cost_usd > 0:
            self.cost.add(float(record.cost_usd), {**base, "gen_ai.request.model": record.model or "unknown"})
        if self.guard_duration is not None and record.guard_ms is not None:
            self.guard_duration.record(record.guard_ms / 1000.0, base)

    def count_dropped(self, n: int, reason: str) -> None:
        if self.audit_dropped is not None and n:
            self.audit_dropped.add(n, {"claude_guard.reason": reason})

    def count_sink_error(self, sink: str) -> None:
        if self.audit_sink_errors is not None:
            self.audit_sink_errors.add(1, {"claude_guard.sink": sink})


def _reason(detail: Mapping[str, Any] | None) -> str | None:
    # Reasons and codes are identifiers from a small set (rule ids, error codes): bounded cardinality.
    safe = safe_detail(detail)
    for key in ("reason", "code", "rule"):
        value = safe.get(key)
        if isinstance(value, str):
            return value
    return None


def _base_attributes(record: AuditRecord) -> dict[str, str]:
    attributes = {"claude_guard.outcome.request": record.outcome}
    if record.profile:
        attributes["claude_guard.principal.profile"] = record.profile
    return attributes


def _attribute_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        items = [v for v in value if isinstance(v, str)]
        return items
    return value


def enrich_span(span: Span, ctx: GuardContext, record: AuditRecord) -> None:
    """Put the guard's verdicts on ``span`` as attributes, and one event per decision.

    Identifiers, counts and outcomes only: never the key, the prompt or a PII value.
    """
    if not span.is_recording():
        return
    attributes: dict[str, Any] = {
        "claude_guard.request_id": record.request_id,
        "claude_guard.outcome": record.outcome,
    }
    if record.key_id is not None:
        attributes["claude_guard.principal.key_id"] = record.key_id
    if record.profile is not None:
        attributes["claude_guard.principal.profile"] = record.profile
    if record.environment is not None:
        attributes["claude_guard.principal.environment"] = record.environment
    if record.model is not None:
        attributes["gen_ai.request.model"] = record.model
    if record.rule_ids:
        attributes["claude_guard.rule_ids"] = list(record.rule_ids)
    if record.cost_usd is not None:
        attributes["claude_guard.cost_usd"] = float(record.cost_usd)
    if record.input_tokens or record.output_tokens:
        attributes["claude_guard.usage.input_tokens"] = record.input_tokens
        attributes["claude_guard.usage.output_tokens"] = record.output_tokens
    if record.pii_counts:
        types = sorted(record.pii_counts)
        attributes["claude_guard.pii.entity_types"] = types
        attributes["claude_guard.pii.entity_counts"] = [record.pii_counts[t] for t in types]
        attributes["claude_guard.pii.total"] = sum(record.pii_counts.values())
    if record.guard_ms is not None:
        attributes["claude_guard.guard.duration_ms"] = record.guard_ms
    for decision in ctx.decisions:
        family = _family(decision.protection)
        attributes[f"claude_guard.{family}.outcome"] = decision.outcome
        detail = safe_detail(decision.detail)
        for key in ("remaining", "limit", "reset", "retry_after", "spent", "used_fraction"):
            if key in detail:
                attributes[f"claude_guard.{family}.{key}"] = _attribute_value(detail[key])
        event_attributes = {
            "claude_guard.protection": decision.protection,
            "claude_guard.outcome": decision.outcome,
        }
        for key, value in detail.items():
            event_attributes[f"claude_guard.{key}"] = _attribute_value(value)
        span.add_event("claude_guard.decision", event_attributes)
    if family_result := _validation_result(ctx):
        attributes["claude_guard.validation.result"] = family_result
    span.set_attributes(attributes)


def _family(protection: str) -> str:
    if protection in VALIDATION:
        return "validation"
    if protection in RATE_LIMIT:
        return "rate_limit"
    if protection in BUDGET:
        return "budget"
    if protection in PII:
        return "pii"
    return protection if protection.replace("_", "").isalnum() else "other"


def _validation_result(ctx: GuardContext) -> str | None:
    outcomes = [d.outcome for d in ctx.decisions if d.protection in VALIDATION]
    return outcomes[-1] if outcomes else None
