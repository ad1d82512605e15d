"""A wrong setting is a ``ConfigurationError`` wherever it is given, and still a ``ValueError``.

One representative constructor or factory per place that checks its settings; each case is a wrong value a
user could write, and the assertion is on the class and on the words of the message, which stay the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from claude_guard.errors import ConfigurationError, GuardError


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never called: the constructors refuse first
    raise AssertionError


def _rate_limit_rule() -> Any:
    from claude_guard.ratelimit import RateLimitRule

    return RateLimitRule(limits="10/minute", strategy="leaky_bucket")  # type: ignore[arg-type]


def _rate_limit_notation() -> Any:
    from claude_guard.ratelimit._config import parse_limits

    return parse_limits("ten per fortnight")


def _rate_limit_config() -> Any:
    from claude_guard.ratelimit import RateLimitConfig

    return RateLimitConfig(on_store_error="maybe")  # type: ignore[arg-type]


def _trusted_proxies() -> Any:
    from claude_guard.ratelimit import TrustedProxies

    return TrustedProxies(["10.0.0.0/8"], headers=["x-real-ip"])


def _rate_limiter() -> Any:
    from claude_guard.ratelimit import RateLimiter

    return RateLimiter(lease_ttl=0)


def _request_limits() -> Any:
    from claude_guard.middleware import RequestLimitsMiddleware

    return RequestLimitsMiddleware(_app, max_body_bytes=0)


def _tool_policy() -> Any:
    from claude_guard.sandbox import ToolPolicyMiddleware

    return ToolPolicyMiddleware(_app, mode="loud")  # type: ignore[arg-type]


def _pii_config() -> Any:
    from claude_guard.pii import PIIConfig

    return PIIConfig(score_threshold=2.0)


def _alerts() -> Any:
    from claude_guard.audit import Alerts

    return Alerts(auth_failure_threshold=0)


def _alert_kind() -> Any:
    from claude_guard.audit import Alerts

    return Alerts().on("weather", lambda alert: None)  # type: ignore[arg-type]


def _audit_logger() -> Any:
    from claude_guard.audit import AuditLogger

    return AuditLogger([], queue_size=0)


def _audit_chain() -> Any:
    from claude_guard.audit._chain import AuditChain

    return AuditChain(b"short")


def _redis_audit_sink() -> Any:
    from claude_guard.audit import RedisAuditSink
    from claude_guard.store import MemoryStore

    return RedisAuditSink.from_store(MemoryStore())


def _cost_meter() -> Any:
    from claude_guard.ledger import CostMeterMiddleware

    return CostMeterMiddleware(_app)


def _max_cost() -> Any:
    from claude_guard.ledger._meter import route_max_cost

    return route_max_cost(-1)


def _ledger() -> Any:
    from claude_guard.ledger import Ledger
    from claude_guard.store import MemoryStore

    return Ledger(MemoryStore(), reservation_ttl=0)


def _fastapi_profile() -> Any:
    from claude_guard.fastapi import require_profile

    return require_profile()


def _litestar_profile() -> Any:
    from claude_guard.litestar import require_profile

    return require_profile()


def _rule() -> Any:
    from claude_guard.validation import Rule

    return Rule(id="Not An Id", pattern="x")


def _unsafe_rule() -> Any:
    from claude_guard.validation import Rule

    return Rule(id="acme.slow", pattern=r"(a+)+b")


def _store_scheme() -> Any:
    from claude_guard.store import store_from_url

    return store_from_url("ftp://example.com")


def _redis_url() -> Any:
    from claude_guard.store._url import parse_redis_url

    return parse_redis_url("redis://localhost/zero")


def _sse_parser() -> Any:
    from claude_guard.messages._sse import SSEParser

    return SSEParser(max_line_bytes=0)


def _fake_error() -> Any:
    from claude_guard.testing import ErrorResponse

    return ErrorResponse(status=200)


def _fake_claude() -> Any:
    from claude_guard.testing import FakeClaude

    return FakeClaude(chunk_size=0)


def _dashboard() -> Any:
    from claude_guard.dashboard._summary import DashboardConfig

    return DashboardConfig(refresh_seconds=0)


def _key_environment() -> Any:
    from claude_guard.keys._keys import generate_key

    return generate_key("staging-but-not-really")


CASES: list[tuple[Callable[[], Any], str]] = [
    (_rate_limit_rule, "unknown strategy"),
    (_rate_limit_notation, "invalid rate limit"),
    (_rate_limit_config, "on_store_error"),
    (_trusted_proxies, "unsupported forwarding header"),
    (_rate_limiter, "lease_ttl"),
    (_request_limits, "must be positive"),
    (_tool_policy, "mode must be"),
    (_pii_config, "score_threshold"),
    (_alerts, "auth_failure_threshold"),
    (_alert_kind, "unknown alert kind"),
    (_audit_logger, "queue_size"),
    (_audit_chain, "at least 16 bytes"),
    (_redis_audit_sink, "needs a Redis store"),
    (_cost_meter, "needs a meter"),
    (_max_cost, "non-negative"),
    (_ledger, "reservation_ttl"),
    (_fastapi_profile, "at least one profile"),
    (_litestar_profile, "at least one profile"),
    (_rule, "a rule id is"),
    (_unsafe_rule, "unbounded repeat"),
    (_store_scheme, "unknown storage scheme"),
    (_redis_url, "database must be a number"),
    (_sse_parser, "max_line_bytes"),
    (_fake_error, "4xx or 5xx"),
    (_fake_claude, "chunk_size"),
    (_dashboard, "refresh_seconds"),
    (_key_environment, "unknown environment"),
]


@pytest.mark.parametrize(("build", "words"), CASES, ids=[build.__name__.strip("_") for build, _ in CASES])
def test_a_wrong_setting_is_a_configuration_error(build: Callable[[], Any], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as caught:
        build()
    # a GuardError (shown as a 500 if it ever escaped while serving) and a ValueError for older callers
    assert isinstance(caught.value, GuardError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.status == 500


def test_a_redis_cluster_url_is_accepted_where_settings_are_read() -> None:
    # redis+cluster:// is supported by the store, so the settings do not refuse it (nor fail later)
    from claude_guard.store._url import parse_redis_url

    target = parse_redis_url("redis+cluster://a:7000,b:7001")
    assert (target.topology, target.nodes) == ("cluster", (("a", 7000), ("b", 7001)))
