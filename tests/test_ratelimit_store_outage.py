"""A dead or hanging Redis: fail-closed answers 503 promptly, fail-open admits, and service comes back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from claude_guard._asgi import context_for
from claude_guard.context import GuardContext
from claude_guard.ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from claude_guard.store import StoreConfig, store_from_url

pytestmark = pytest.mark.redis

BOUND = 5.0  # a bound that turns a hang into a failure, not a speed claim


def app_recording(seen: list[GuardContext]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(context_for(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def get(client: httpx.AsyncClient) -> httpx.Response:
    return await asyncio.wait_for(client.get("/"), BOUND)


def guarded(url: str, on_store_error: Any, seen: list[GuardContext]) -> tuple[Any, RateLimiter]:
    store = store_from_url(url, config=StoreConfig(prefix=f"cgtest:{uuid.uuid4().hex[:12]}"))
    limiter = RateLimiter(store)
    rules = [RateLimitRule(limits="100/minute", concurrency=5)]
    config = RateLimitConfig(rules=rules, on_store_error=on_store_error)
    return RateLimitMiddleware(app_recording(seen), config=config, limiter=limiter), limiter


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=httpx.Timeout(BOUND)
    )


async def test_fail_closed_gives_503_then_recovers_in_the_same_process(private_redis: Any) -> None:
    seen: list[GuardContext] = []
    app, limiter = guarded(private_redis.url, "closed", seen)
    async with client_for(app) as client:
        assert (await get(client)).status_code == 200
        private_redis.stop()
        for _ in range(3):
            down = await get(client)
            assert down.status_code == 503
            assert down.json()["error"]["type"] == "api_error"
            assert "redis" not in down.text.lower()
        assert limiter.counters["fail_closed"] == 3
        private_redis.start()
        back = await get(client)
        assert back.status_code == 200
        assert back.headers["ratelimit"].startswith('"r0-60s";r=99;')  # a fresh Redis: counting again
    await limiter.store.aclose()


async def test_fail_open_admits_counts_and_audits_then_recovers(private_redis: Any) -> None:
    seen: list[GuardContext] = []
    app, limiter = guarded(private_redis.url, "open", seen)
    async with client_for(app) as client:
        assert (await get(client)).status_code == 200
        private_redis.stop()
        down = await get(client)
        assert down.status_code == 200 and "ratelimit" not in down.headers
        assert limiter.counters["fail_open"] == 1
        decision = next(d for d in seen[-1].decisions if d.protection == "rate_limit")
        assert decision.outcome == "fail_open"
        private_redis.start()
        back = await get(client)
        assert back.status_code == 200 and "ratelimit" in back.headers
    await limiter.store.aclose()


@pytest.fixture
async def hanging_redis() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_hanging_redis_never_hangs_a_request(hanging_redis: str) -> None:
    seen: list[GuardContext] = []
    app, limiter = guarded(hanging_redis, "closed", seen)
    async with client_for(app) as client:
        assert (await get(client)).status_code == 503
    await limiter.store.aclose()
