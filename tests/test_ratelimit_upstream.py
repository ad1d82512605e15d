"""Upstream awareness: anthropic-ratelimit-* recorded and passed on; an upstream 429/529 costs no quota; the
official SDK raises RateLimitError on our 429."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from claude_guard._asgi import context_for
from claude_guard.context import GuardContext
from claude_guard.gateway import MessagesProxy
from claude_guard.ratelimit import RateLimitConfig, RateLimitMiddleware, RateLimitRule
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import Store
from claude_guard.testing import ErrorResponse, FakeClaude, Reply
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient

BODY = {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def gateway(fake: FakeClaude, store: Store, seen: list[GuardContext], limits: str = "2/minute") -> Any:
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    proxy = MessagesProxy(upstream)
    config = RateLimitConfig(rules=[RateLimitRule(path="/v1/messages", limits=limits)])
    limited = RateLimitMiddleware(proxy, config=config, store=store)

    async def record(scope: Any, receive: Any, send: Any) -> None:
        seen.append(context_for(scope))
        await limited(scope, receive, send)

    return record


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_upstream_rate_limit_headers_are_recorded_and_passed_on(store: Store) -> None:
    seen: list[GuardContext] = []
    fake = FakeClaude(api_key=CANARY_API_KEY)
    async with client_for(gateway(fake, store, seen)) as client:
        response = await client.post("/v1/messages", json=BODY)
    assert response.status_code == 200
    assert "anthropic-ratelimit-requests-remaining" in response.headers
    assert response.headers["ratelimit-policy"] == '"r0-60s";q=2;w=60'
    assert seen[0].rate_limit is not None
    recorded = seen[0].rate_limit.upstream_limits
    assert recorded is not None
    assert (
        recorded["anthropic-ratelimit-requests-remaining"]
        == response.headers["anthropic-ratelimit-requests-remaining"]
    )


@pytest.mark.parametrize("status", [429, 529])
async def test_an_upstream_429_or_529_costs_the_caller_no_quota(store: Store, status: int) -> None:
    seen: list[GuardContext] = []
    fake = FakeClaude(api_key=CANARY_API_KEY)
    fake.enqueue(*(ErrorResponse(status, headers={"retry-after": "2"}) for _ in range(3)), Reply(), Reply())
    async with client_for(gateway(fake, store, seen)) as client:
        overloaded = [await client.post("/v1/messages", json=BODY) for _ in range(3)]
        assert [r.status_code for r in overloaded] == [status] * 3
        assert overloaded[0].headers["retry-after"] == "2"  # the upstream's advice, passed on
        # Three upstream refusals did not spend the caller's 2/minute: the retries get through.
        assert [(await client.post("/v1/messages", json=BODY)).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
    assert len(fake.messages_requests) == 5  # the gateway itself never retried upstream
    assert any(d.outcome == "upstream_overloaded" for d in seen[0].decisions)


async def test_the_official_sdk_raises_rate_limit_error(store: Store) -> None:
    seen: list[GuardContext] = []
    fake = FakeClaude(api_key=CANARY_API_KEY)
    app = gateway(fake, store, seen, limits="1/minute")
    client = anthropic.AsyncAnthropic(
        api_key="sk-client",
        base_url="http://gateway",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
    )
    async with client:
        await client.messages.create(**BODY)  # type: ignore[call-overload]
        with pytest.raises(anthropic.RateLimitError) as info:
            await client.messages.create(**BODY)  # type: ignore[call-overload]
    assert info.value.status_code == 429
    assert int(info.value.response.headers["retry-after"]) >= 1
