"""The cost meter's optional exact estimate: the upstream's count_tokens, with the size bound as fallback."""

from __future__ import annotations

import anthropic

from claude_guard import ClaudeGuard, GuardSettings, UpstreamClient
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY

SOURCE = EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": CANARY_API_KEY})


async def test_the_meter_asks_the_upstream_before_reserving() -> None:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(api_key_source=SOURCE, api_url=upstream.url, count_tokens=True, pii="off")
        )
        key = (await guard.keys.create(profile="admin", environment="development")).key
        with serve(create_app(guard)) as gateway:
            client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)
            reply = await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=32,
                system="be brief",
                messages=[{"role": "user", "content": "count me"}],
            )
        await guard.aclose()
    assert reply.content[0].text == "echo: count me"  # type: ignore[union-attr]
    assert [r.path for r in fake.requests] == ["/v1/messages/count_tokens", "/v1/messages"]
    counted = fake.requests[0].json
    # only what count_tokens takes: max_tokens and stream would be refused by the real API
    assert counted == {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "count me"}],
        "system": "be brief",
    }
    assert fake.requests[0].headers["x-api-key"] == CANARY_API_KEY


async def test_off_by_default() -> None:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(settings=GuardSettings(api_key_source=SOURCE, api_url=upstream.url, pii="off"))
        key = (await guard.keys.create(profile="admin", environment="development")).key
        with serve(create_app(guard)) as gateway:
            client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)
            await client.messages.create(
                model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
            )
        await guard.aclose()
    assert [r.path for r in fake.requests] == ["/v1/messages"]


async def test_a_failed_count_falls_back_to_the_bound() -> None:
    fake = FakeClaude(api_key="sk-ant-fake-some-other-key-0000")  # refuses our key: 401
    with serve(fake) as upstream:
        client = UpstreamClient(base_url=upstream.url, key_source=SOURCE)
        assert await client.count_tokens({"model": "m", "messages": []}) is None
        await client.aclose()
    unreachable = UpstreamClient(base_url="http://127.0.0.1:9", key_source=SOURCE, connect_timeout=1.0)
    assert await unreachable.count_tokens({"model": "m", "messages": []}) is None
    await unreachable.aclose()


async def test_with_pii_on_count_tokens_sees_the_redacted_prompt() -> None:
    """The meter counts before the PII step runs: what it sends to count_tokens is redacted first."""
    email = "ada.countme@example.org"
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(api_key_source=SOURCE, api_url=upstream.url, count_tokens=True, pii="on")
        )
        key = (await guard.keys.create(profile="admin", environment="development")).key
        with serve(create_app(guard)) as gateway:
            client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)
            prompt = [{"role": "user", "content": f"mail {email}"}]
            reply = await client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=prompt)
            await client.close()
        await guard.aclose()
    assert reply.content[0].text == f"echo: mail {email}"  # type: ignore[union-attr]
    assert [r.path for r in fake.requests] == ["/v1/messages/count_tokens", "/v1/messages"]
    for recorded in fake.requests:
        assert email not in recorded.body.decode()
