"""Token usage of a Messages call: the API's usage object and the streaming rule (cumulative deltas)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Usage", "usage_from_response"]


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(value, 0)


def _count_if_present(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


_TOP_LEVEL_COUNTS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
_CACHE_BREAKDOWN: Final = (
    ("ephemeral_5m_input_tokens", "cache_creation_5m_input_tokens"),
    ("ephemeral_1h_input_tokens", "cache_creation_1h_input_tokens"),
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one Messages call, as the API reports it.

    ``input_tokens`` excludes cached tokens; `total_input_tokens` includes them.

    Example:
        >>> usage = Usage.from_dict({"input_tokens": 11, "output_tokens": 1})
        >>> usage.merged({"output_tokens": 6}).output_tokens
        6
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    web_fetch_requests: int = 0
    speed: str | None = None
    """``standard`` or ``fast``: the speed the request was billed at, when the API reports it."""
    inference_geo: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Usage:
        """Read an API ``usage`` object.

        Missing, None and non-int values (bools included) count as 0; negatives clamp to 0. Without a
        ``cache_creation`` breakdown, all cache writes count as 5-minute writes (the default TTL).
        """
        if not isinstance(d, Mapping):
            return cls()
        cache_creation = _count(d.get("cache_creation_input_tokens"))
        breakdown = d.get("cache_creation")
        if isinstance(breakdown, Mapping):
            five_minutes = _count(breakdown.get("ephemeral_5m_input_tokens"))
            one_hour = _count(breakdown.get("ephemeral_1h_input_tokens"))
        else:
            five_minutes, one_hour = cache_creation, 0
        server_tool_use = d.get("server_tool_use")
        tools = server_tool_use if isinstance(server_tool_use, Mapping) else {}
        tier = d.get("service_tier")
        speed = d.get("speed")
        geo = d.get("inference_geo")
        return cls(
            input_tokens=_count(d.get("input_tokens")),
            output_tokens=_count(d.get("output_tokens")),
            cache_creation_input_tokens=cache_creation,
            cache_read_input_tokens=_count(d.get("cache_read_input_tokens")),
            cache_creation_5m_input_tokens=five_minutes,
            cache_creation_1h_input_tokens=one_hour,
            web_search_requests=_count(tools.get("web_search_requests")),
            service_tier=tier if isinstance(tier, str) else None,
            web_fetch_requests=_count(tools.get("web_fetch_requests")),
            speed=speed if isinstance(speed, str) else None,
            inference_geo=geo if isinstance(geo, str) else None,
        )

    def merged(self, update: Mapping[str, Any]) -> Usage:
        """Apply a ``message_delta.usage``: present fields replace current values, absent ones are kept.

        Streamed counts are cumulative, so they are never added. A field that is None or not an int is
        treated as absent (the API sends null for counts it does not repeat). When the update changes
        ``cache_creation_input_tokens`` without a breakdown, the 1-hour part is kept and the rest counts
        as 5-minute writes.
        """
        if not isinstance(update, Mapping):
            return self
        changes: dict[str, Any] = {}
        for name in _TOP_LEVEL_COUNTS:
            value = _count_if_present(update.get(name))
            if value is not None:
                changes[name] = value
        breakdown = update.get("cache_creation")
        if isinstance(breakdown, Mapping):
            for api_name, field_name in _CACHE_BREAKDOWN:
                value = _count_if_present(breakdown.get(api_name))
                if value is not None:
                    changes[field_name] = value
        elif "cache_creation_input_tokens" in changes:
            total = changes["cache_creation_input_tokens"]
            if self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens != total:
                one_hour = min(self.cache_creation_1h_input_tokens, total)
                changes["cache_creation_1h_input_tokens"] = one_hour
                changes["cache_creation_5m_input_tokens"] = total - one_hour
        server_tool_use = update.get("server_tool_use")
        if isinstance(server_tool_use, Mapping):
            for name in ("web_search_requests", "web_fetch_requests"):
                value = _count_if_present(server_tool_use.get(name))
                if value is not None:
                    changes[name] = value
        for name in ("service_tier", "speed", "inference_geo"):
            text = update.get(name)
            if isinstance(text, str):
                changes[name] = text
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def total_input_tokens(self) -> int:
        """Input tokens including cache writes and reads (OpenTelemetry's ``gen_ai.usage.input_tokens``)."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def to_dict(self) -> dict[str, Any]:
        """Return the usage in the API's shape; `from_dict` reads it back unchanged."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation_1h_input_tokens,
            },
            "server_tool_use": {
                "web_search_requests": self.web_search_requests,
                "web_fetch_requests": self.web_fetch_requests,
            },
            "service_tier": self.service_tier,
            "speed": self.speed,
            "inference_geo": self.inference_geo,
        }


def usage_from_response(body: Mapping[str, Any]) -> Usage:
    """Read the usage of a non-streamed Messages response (zeros when it has none)."""
    return Usage.from_dict(body.get("usage")) if isinstance(body, Mapping) else Usage()
