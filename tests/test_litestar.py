from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest
from litestar import Litestar, asgi, post
from litestar.di import NamedDependency, Provide

from claude_guard import ClaudeGuard, GuardSettings, Principal
from claude_guard.errors import BudgetExceededError
from claude_guard.litestar import ClaudeGuardPlugin, require_profile
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import CANARY_API_KEY, FakeClaude, serve

MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FakeClaude, ClaudeGuard, Litestar]]:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}), api_url=upstream.url
            )
        )
        proxy = guard.messages_proxy()

        @asgi("/v1/messages", is_mount=False, copy_scope=False)
        async def messages(scope: Any, receive: Any, send: Any) -> None:
            await proxy(scope, receive, send)

        @post("/analyze", dependencies={"principal": Provide(require_profile("analysis"))})
        async def analyze(principal: NamedDependency[Principal]) -> dict[str, str]:
            return {"key_id": principal.key_id, "profile": principal.profile}

        @post("/spent")
        async def spent() -> None:
            raise BudgetExceededError()

        app = Litestar([messages, analyze, spent], plugins=[ClaudeGuardPlugin(guard)])
        yield fake, guard, app
        await guard.aclose()


async def test_litestar_routes_are_guarded(setup: tuple[FakeClaude, ClaudeGuard, Litestar]) -> None:
    _, guard, app = setup
    analysis = await guard.keys.create(profile="analysis", environment="development")
    generation = await guard.keys.create(profile="generation", environment="development")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        missing = await client.post("/analyze")
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "authentication_error"
        wrong = await client.post("/analyze", headers={"x-api-key": generation.key})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "profile"
        ok = await client.post("/analyze", headers={"authorization": f"Bearer {analysis.key}"})
        assert ok.status_code == 201
        assert ok.json() == {"key_id": analysis.key_id, "profile": "analysis"}
        spent = await client.post("/spent", headers={"x-api-key": analysis.key})
        assert spent.status_code == 402
        assert spent.headers["x-should-retry"] == "false"
        assert spent.json()["error"]["type"] == "billing_error"
        assert spent.headers["request-id"] == spent.json()["request_id"]


async def test_litestar_gateway_with_the_sdk(setup: tuple[FakeClaude, ClaudeGuard, Litestar]) -> None:
    fake, guard, app = setup
    admin = await guard.keys.create(profile="admin", environment="development")
    with serve(app) as gateway:
        client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=admin.key, max_retries=0)
        reply = await client.messages.create(**MESSAGE)  # type: ignore[call-overload]
        assert reply.content[0].text == "echo: hi"
        async with client.messages.stream(**MESSAGE) as stream:  # type: ignore[arg-type]
            text = "".join([t async for t in stream.text_stream])
        assert text == "echo: hi"
        with pytest.raises(anthropic.AuthenticationError):
            await anthropic.AsyncAnthropic(
                base_url=gateway.url, api_key="cg_dev_aaaaaaaaaaaa_" + "A" * 43, max_retries=0
            ).messages.create(**MESSAGE)  # type: ignore[call-overload]
    assert len(fake.messages_requests) == 2
    assert all(r.headers.get("x-api-key") == CANARY_API_KEY for r in fake.messages_requests)
