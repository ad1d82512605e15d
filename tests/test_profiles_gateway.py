"""Least privilege end to end: each profile's keys against allowed and forbidden tools and models, through
the reference gateway with every protection installed; a forbidden request never reaches the upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from claude_guard import ClaudeGuard, GuardSettings, Profile
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import CANARY_API_KEY, FakeClaude, RunningServer, serve


def tool(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"the {name} tool", "input_schema": {"type": "object"}}


def request(model: str = "claude-haiku-4-5", tools: tuple[str, ...] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "list the files"}],
    }
    if tools:
        body["tools"] = [tool(t) for t in tools]
    return body


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeClaude, ClaudeGuard, RunningServer]]:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    reviewer = Profile(name="reviewer", tools=frozenset({"Read"}), models=("claude-haiku-*",))
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
                api_url=upstream.url,
                profiles={"reviewer": reviewer},
                pii="off",
            )
        )
        with serve(create_app(guard)) as server:
            yield fake, guard, server
        await guard.aclose()


CASES = [
    # profile, tools declared, model, allowed?, the name the refusal must carry
    ("analysis", ("Read", "Grep"), "claude-haiku-4-5", True, None),
    ("analysis", ("Read", "Write"), "claude-haiku-4-5", False, "Write"),
    ("analysis", ("Edit",), "claude-haiku-4-5", False, "Edit"),
    ("generation", ("Read", "Write", "Edit"), "claude-haiku-4-5", True, None),
    ("generation", ("Bash",), "claude-haiku-4-5", False, "Bash"),
    ("admin", ("Read", "Write", "Edit", "Bash", "WebFetch"), "claude-opus-4-6", True, None),
    ("reviewer", ("Read",), "claude-haiku-4-5", True, None),
    ("reviewer", ("Read",), "claude-opus-4-6", False, "claude-opus-4-6"),
    ("reviewer", ("Grep",), "claude-haiku-4-5", False, "Grep"),
]


@pytest.mark.parametrize(
    ("profile", "tools", "model", "allowed", "named"),
    CASES,
    ids=[f"{c[0]}-{'+'.join(c[1])}-{c[2]}" for c in CASES],
)
async def test_profile_bounds_tools_and_models(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer],
    profile: str,
    tools: tuple[str, ...],
    model: str,
    allowed: bool,
    named: str | None,
) -> None:
    fake, guard, server = gateway
    key = (await guard.keys.create(profile=profile, environment="development")).key
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
    if allowed:
        reply = await client.messages.create(**request(model, tools))
        assert reply.content[0].text == "echo: list the files"
        assert [t["name"] for t in fake.last.json.get("tools", [])] == list(tools)
        return
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        await client.messages.create(**request(model, tools))
    error = info.value.body["error"]  # type: ignore[index]
    assert error["type"] == "permission_error"
    assert named is not None
    assert named in error["message"]
    assert fake.messages_requests == []  # refused before anything went upstream


async def test_working_profiles_carry_default_limits(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer],
) -> None:
    _, guard, server = gateway
    analysis = (await guard.keys.create(profile="analysis", environment="development")).key
    admin = (await guard.keys.create(profile="admin", environment="development")).key
    for key, limited in ((analysis, True), (admin, False)):
        client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
        raw = await client.messages.with_raw_response.create(**request())
        policy = raw.headers.get("ratelimit-policy")
        if limited:
            assert policy is not None
            assert "q=60;w=60" in policy
            assert "q=10000;w=86400" in policy
        else:
            assert policy is None
