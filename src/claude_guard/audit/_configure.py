"""``configure_telemetry``: OpenTelemetry providers from the standard ``OTEL_*`` environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TelemetryProviders", "configure_telemetry"]

_PROMETHEUS_SERVERS: dict[tuple[str, int], Any] = {}


@dataclass(frozen=True, slots=True)
class TelemetryProviders:
    """The providers `configure_telemetry` installed; ``shutdown()`` flushes and stops them."""

    tracer_provider: Any
    meter_provider: Any | None
    logger_provider: Any | None
    exporter: str
    """``otlp/http``, ``otlp/grpc`` or ``console``."""
    prometheus: Any | None = None
    """The Prometheus scrape server (``CLAUDE_GUARD_PROMETHEUS_PORT``), when one was started."""

    def shutdown(self) -> None:
        if self.prometheus is not None:
            for address, server in list(_PROMETHEUS_SERVERS.items()):
                if server is self.prometheus:
                    del _PROMETHEUS_SERVERS[address]
            self.prometheus.shutdown()
            self.prometheus.server_close()
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                provider.shutdown()


def otlp_endpoint(signal: str = "TRACES", environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard variables name an OTLP endpoint for ``signal`` (TRACES, METRICS or LOGS)."""
    env = os.environ if environ is None else environ
    return bool(env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_telemetry(
    service_name: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    set_global: bool = True,
    console_when_no_endpoint: bool = True,
    prometheus_port: int | None = None,
    prometheus_host: str | None = None,
) -> TelemetryProviders | None:
    """Set up tracing, metrics and logs export from the standard OpenTelemetry variables.

    - ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a per-signal ``OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT``)
      turns on OTLP export; ``OTEL_EXPORTER_OTLP_PROTOCOL`` picks ``http/protobuf`` (default) or ``grpc``.
      Headers, timeouts, certificates and the rest are read by the exporters themselves.
    - ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` name the service; ``service_name`` is the fallback
      (``claude-guard`` when neither is given).
    - Without an endpoint, spans are printed to the console (for ``claude-guard demo``) unless
      ``console_when_no_endpoint`` is false; metrics and logs are not exported.
    - ``prometheus_port`` (or ``CLAUDE_GUARD_PROMETHEUS_PORT``) also serves every metric for Prometheus at
      ``http://{prometheus_host}:{port}/metrics`` (host ``CLAUDE_GUARD_PROMETHEUS_HOST``, default loopback)
      through the OpenTelemetry Prometheus exporter; needs the ``prometheus`` extra. One port per process:
      with several workers, give each its own or scrape OTLP metrics from a collector.
    - ``OTEL_SDK_DISABLED=true`` returns ``None`` and installs nothing.

    Needs the ``otel`` extra: ``pip install 'claude-guard[otel]'``.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ImportError(
            "configure_telemetry needs the otel extra: pip install 'claude-guard[otel]'"
        ) from None

    attributes: dict[str, Any] = {}
    if not env.get("OTEL_SERVICE_NAME") and "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = service_name or "claude-guard"
    resource = Resource.create(attributes)
    protocol = (
        (
            env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        .strip()
        .lower()
    )
    grpc = protocol == "grpc"

    def endpoint(signal: str) -> bool:
        return otlp_endpoint(signal, env)

    tracer_provider = TracerProvider(resource=resource)
    meter_provider = None
    logger_provider = None
    if endpoint("TRACES"):
        exporter_name = "otlp/grpc" if grpc else "otlp/http"
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif console_when_no_endpoint:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter_name = "console"
        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        exporter_name = "none"
    readers: list[Any] = []
    if endpoint("METRICS"):
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                OTLPMetricExporter,
            )
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    port = prometheus_port if prometheus_port is not None else _port(env)
    prometheus_server = None
    host = prometheus_host or env.get("CLAUDE_GUARD_PROMETHEUS_HOST", "").strip() or "127.0.0.1"
    if port and (host, port) not in _PROMETHEUS_SERVERS:
        try:
            import prometheus_client
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
        except ImportError:
            raise ImportError(
                "CLAUDE_GUARD_PROMETHEUS_PORT needs the prometheus extra: "
                "pip install 'claude-guard[prometheus]'"
            ) from None
        readers.append(PrometheusMetricReader())
        prometheus_server, _ = prometheus_client.start_http_server(port, addr=host)
        # One endpoint per process: the reader registers in prometheus_client's global registry, and the
        # app factory may run more than once in a process.
        _PROMETHEUS_SERVERS[(host, port)] = prometheus_server
    if readers:
        from opentelemetry.sdk.metrics import MeterProvider

        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    if endpoint("LOGS"):
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        else:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
                OTLPLogExporter,
            )
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    if set_global:
        from opentelemetry import trace

        trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            from opentelemetry import metrics

            metrics.set_meter_provider(meter_provider)
        if logger_provider is not None:
            from opentelemetry._logs import set_logger_provider

            set_logger_provider(logger_provider)
    return TelemetryProviders(
        tracer_provider, meter_provider, logger_provider, exporter_name, prometheus_server
    )


def _port(env: Mapping[str, str]) -> int | None:
    raw = env.get("CLAUDE_GUARD_PROMETHEUS_PORT", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        from ..errors import ConfigurationError

        raise ConfigurationError("CLAUDE_GUARD_PROMETHEUS_PORT must be a TCP port.") from None
