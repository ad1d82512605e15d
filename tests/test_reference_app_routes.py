"""The reference gateway's proxy routes: a POST goes from the innermost guard straight to the Messages proxy
(not through FastAPI's router), every other method still meets the routes (405), and app routes are routed
as before. A real uvicorn server, the SDK as the client, FakeClaude upstream."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from starlette.routing import Router

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY


async def test_proxy_posts_skip_the_router_and_other_methods_meet_it(monkeypatch: pytest.MonkeyPatch) -> None:
    routed: list[str] = []
    real = Router.__call__

    async def counting(self: Router, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            routed.append(f"{scope['method']} {scope['path']}")
        await real(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", counting)
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        settings = GuardSettings(
            api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
            api_url=upstream.url,
            storage_url="memory://",
            pii="off",
        )
        guard = ClaudeGuard(settings=settings)
        with serve(create_app(guard)) as server:
            key = (await guard.keys.create(profile="analysis", environment="development")).key
            client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
            body: dict[str, Any] = {
                "model": "claude-haiku-4-5",
                "messages": [{"role": "user", "content": "hello there"}],
            }
            reply = await client.messages.create(max_tokens=16, **body)
            assert reply.content
            counted = await client.messages.count_tokens(**body)
            assert counted.input_tokens > 0
            assert routed == []  # neither POST went through the router
            async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": key}) as http:
                assert (await http.get("/v1/messages")).status_code == 405
                assert (await http.get("/healthz")).status_code == 200
            assert routed == ["GET /v1/messages", "GET /healthz"]
        await guard.aclose()
    assert len(fake.requests) == 2  # the message and the count, each forwarded once
