"""A concurrency lease is free once the client has the whole response, even when its release is slow.

The release of a Redis lease is a round trip; were it sent after the last body chunk, a client that read the
whole answer and asked again at once could still find the cap taken. Here the release is made slow on
purpose (a limiter that waits before releasing), so the ordering, not luck, decides the outcome.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from claude_guard._asgi import Receive, Scope, Send
from claude_guard.ratelimit import Admission, RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.testing import serve

RELEASE_DELAY = 0.3


class SlowReleasingLimiter(RateLimiter):
    async def release(self, admission: Admission, *, refund: bool = False) -> None:
        await asyncio.sleep(RELEASE_DELAY)
        await super().release(admission, refund=refund)


async def streamed(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"start\n", "more_body": True})
    await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"end\n", "more_body": False})


def test_the_cap_is_free_as_soon_as_the_response_is_read(redis_url: str, key_prefix: str) -> None:
    store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
    rule = RateLimitRule(limits="1000000/minute", key="global", concurrency=1)
    limiter = SlowReleasingLimiter(store)
    app: Any = RateLimitMiddleware(streamed, config=RateLimitConfig(rules=[rule]), limiter=limiter)
    with serve(app) as server, httpx.Client(base_url=server.url) as client:
        statuses = []
        for _ in range(5):
            answer = client.get("/")
            assert answer.text == "start\nend\n"
            statuses.append(answer.status_code)
        # Each request starts right after the previous body was read: the lease must be gone by then.
        assert statuses == [200] * 5
