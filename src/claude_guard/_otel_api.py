"""What the OpenTelemetry API alone (no SDK) says about its providers, for every protection that records."""

from __future__ import annotations

from typing import Any

__all__ = ["no_meter_providers"]


def no_meter_providers(metrics: Any) -> tuple[type, ...]:
    """The classes of the API's meter providers that record nothing, given ``opentelemetry.metrics``.

    The API's stand-in until an SDK provider is set is a private class (``_ProxyMeterProvider``); if a
    release renames it, only the public no-op is recognised and metrics are always built (slower, never
    lost).
    """
    internal = getattr(metrics, "_internal", None)
    proxy = getattr(internal, "_ProxyMeterProvider", None)
    noop: type = metrics.NoOpMeterProvider
    return (noop, proxy) if isinstance(proxy, type) else (noop,)
