"""Least privilege end to end: each profile's keys against allowed and forbidden tools and models, through
the reference gateway with every protection installed; a forbidden request never reaches the upstream."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest
from fastapi import FastAPI

from claude_guard import ClaudeGuard, GuardSettings, Profile
from claude_guard.messages import Usage
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, RunningServer, serve
from claude_guard.testing._fake import CANARY_API_KEY


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


# --- Claude's features under least privilege ------------------------------------------------------------

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
CODE_EXECUTION = {"type": "code_execution_20250825", "name": "code_execution"}
BASH = {"type": "bash_20250124", "name": "bash"}
MCP_SERVER = {"type": "url", "url": "https://mcp.example.test/sse", "name": "files"}

FEATURES: list[tuple[str, dict[str, Any], dict[str, str], str, str]] = [
    # id, extra body fields, extra headers, expected error code, what the message must name
    (
        "mcp_servers",
        {"mcp_servers": [MCP_SERVER]},
        {"anthropic-beta": "mcp-client-2025-11-20"},
        "beta_not_allowed",
        "mcp",
    ),
    ("mcp_servers-no-beta", {"mcp_servers": [MCP_SERVER]}, {}, "mcp_server_not_allowed", "mcp_servers"),
    ("web_search", {"tools": [WEB_SEARCH]}, {}, "server_tool_not_allowed", "web_search_20250305"),
    ("code_execution", {"tools": [CODE_EXECUTION]}, {}, "server_tool_not_allowed", "code_execution_20250825"),
    ("bash", {"tools": [BASH]}, {}, "server_tool_not_allowed", "bash_20250124"),
    (
        "forbidden-beta",
        {},
        {"anthropic-beta": "computer-use-2025-11-24"},
        "beta_not_allowed",
        "computer-use-2025-11-24",
    ),
    (
        "fast",
        {"speed": "fast"},
        {"anthropic-beta": "fast-mode-2026-02-01"},
        "beta_not_allowed",
        "fast-mode-2026-02-01",
    ),
    ("fast-no-beta", {"speed": "fast"}, {}, "speed_not_allowed", "Fast mode"),
    ("max_tokens", {"max_tokens": 17_000}, {}, "max_tokens_not_allowed", "max_tokens"),
    (
        "thinking",
        {"max_tokens": 16_000, "thinking": {"type": "enabled", "budget_tokens": 12_000}},
        {},
        "thinking_not_allowed",
        "budget_tokens",
    ),
    ("service_tier", {"service_tier": "priority"}, {}, "service_tier_not_allowed", "service tier"),
    (
        "tool_type-typo",
        {"tools": [{"type": "web_search_2099", "name": "Read"}]},
        {},
        "server_tool_not_allowed",
        "web_search_2099",
    ),
]


@pytest.mark.parametrize(
    ("extra", "headers", "code", "named"), [f[1:] for f in FEATURES], ids=[f[0] for f in FEATURES]
)
async def test_an_analysis_key_is_refused_claude_features_before_the_upstream(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer],
    extra: dict[str, Any],
    headers: dict[str, str],
    code: str,
    named: str,
) -> None:
    fake, guard, server = gateway
    key = (await guard.keys.create(profile="analysis", environment="development")).key
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        await client.messages.create(**request(), extra_body=extra, extra_headers=headers)
    error = info.value.body["error"]  # type: ignore[index]
    assert error["type"] == "permission_error"
    assert named in error["message"]
    assert "list the files" not in error["message"]
    assert error["code"] == code
    assert fake.messages_requests == []


async def test_the_sdk_beta_client_is_held_to_the_same_betas(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer],
) -> None:
    fake, guard, server = gateway
    key = (await guard.keys.create(profile="analysis", environment="development")).key
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        await client.beta.messages.create(
            **request(), speed="fast", betas=["prompt-caching-2024-07-31", "fast-mode-2026-02-01"]
        )
    assert "fast-mode-2026-02-01" in info.value.body["error"]["message"]  # type: ignore[index]
    # A safe beta alone passes.
    reply = await client.beta.messages.create(**request(), betas=["prompt-caching-2024-07-31"])
    assert reply.content[0].text == "echo: list the files"  # type: ignore[union-attr]
    assert fake.last.headers["anthropic-beta"] == "prompt-caching-2024-07-31"


BETA_SMUGGLING = [
    (
        "second-header",
        [("anthropic-beta", "prompt-caching-2024-07-31"), ("anthropic-beta", "fast-mode-2026-02-01")],
    ),
    ("comma-list", [("anthropic-beta", "prompt-caching-2024-07-31,fast-mode-2026-02-01")]),
    ("case-and-space", [("Anthropic-Beta", "Prompt-Caching-2024-07-31 , \t FAST-MODE-2026-02-01")]),
    ("empty-items", [("anthropic-beta", ",,computer-use-2025-11-24,,")]),
    ("prefixed-name", [("anthropic-beta-extra", "mcp-client-2025-11-20")]),
]


@pytest.mark.parametrize("headers", [b[1] for b in BETA_SMUGGLING], ids=[b[0] for b in BETA_SMUGGLING])
async def test_betas_cannot_be_smuggled_past_the_allow_list(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer], headers: list[tuple[str, str]]
) -> None:
    fake, guard, server = gateway
    key = (await guard.keys.create(profile="analysis", environment="development")).key
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/v1/messages",
            json=request(),
            headers=[("x-api-key", key), ("anthropic-version", "2023-06-01"), *headers],
        )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["type"] == "permission_error"
    assert fake.messages_requests == []


async def test_admin_keys_may_use_every_feature_and_are_priced_for_it(
    gateway: tuple[FakeClaude, ClaudeGuard, RunningServer],
) -> None:
    fake, guard, server = gateway
    key = (await guard.keys.create(profile="admin", environment="development")).key
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
    raw = await client.messages.with_raw_response.create(
        **request("claude-opus-4-6"),
        extra_body={"speed": "fast", "tools": [WEB_SEARCH]},
        extra_headers={"anthropic-beta": "fast-mode-2026-02-01"},
    )
    reply = await raw.parse()
    assert fake.last.json["speed"] == "fast"
    assert reply.usage.speed == "fast"
    cost = Decimal(raw.headers["claude-guard-cost-usd"])
    prices = guard.prices
    usage = Usage.from_dict(reply.usage.model_dump())
    assert cost == prices.cost("claude-opus-4-6", usage).total
    assert cost == 6 * prices.cost("claude-opus-4-6", dataclasses.replace(usage, speed="standard")).total


async def test_a_custom_profile_allows_exactly_its_server_tools_and_mcp_servers() -> None:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    researcher = Profile(
        name="researcher",
        tools=frozenset({"Read"}),
        server_tools=("web_search",),
        mcp_servers=("https://mcp.example.test/*",),
        betas=("mcp-client-2025-11-20",),
    )
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
                api_url=upstream.url,
                profiles={"researcher": researcher},
                pii="off",
            )
        )
        with serve(create_app(guard)) as server:
            key = (await guard.keys.create(profile="researcher", environment="development")).key
            client = anthropic.AsyncAnthropic(base_url=server.url, api_key=key, max_retries=0)
            beta = {"anthropic-beta": "mcp-client-2025-11-20"}
            allowed = {
                **request(),
                "tools": [tool("Read"), WEB_SEARCH],
                "tool_choice": {"type": "tool", "name": "web_search"},
                "mcp_servers": [MCP_SERVER],
            }
            await client.messages.create(**request(), extra_body=allowed, extra_headers=beta)
            assert fake.last.json["mcp_servers"] == [MCP_SERVER]
            refused: list[dict[str, Any]] = [
                {**request(), "tools": [WEB_SEARCH, CODE_EXECUTION]},
                {
                    **request(),
                    "mcp_servers": [{**MCP_SERVER, "url": "https://mcp.example.test@evil.test/sse"}],
                },
                {**request(), "mcp_servers": [{**MCP_SERVER, "url": "http://mcp.example.test/sse"}]},
                {**request(), "mcp_servers": [{**MCP_SERVER, "url": "https://mcp.example.test:8443/sse"}]},
                {
                    **request(),
                    "mcp_servers": [{**MCP_SERVER, "url": "https://evil.test/?u=mcp.example.test/"}],
                },
                {
                    **request(),
                    "mcp_servers": [{**MCP_SERVER, "url": "https://mcp.example.test/%2e%2e/admin"}],
                },
                {**request(), "mcp_servers": [MCP_SERVER, {"type": "url", "name": "x"}]},
                {**request(), "tool_choice": {"type": "tool", "name": "code_execution"}},
            ]
            before = len(fake.messages_requests)
            for body in refused:
                with pytest.raises(anthropic.PermissionDeniedError):
                    await client.messages.create(**request(), extra_body=body, extra_headers=beta)
            assert len(fake.messages_requests) == before
        await guard.aclose()


async def test_the_egress_hook_holds_app_calls_to_the_callers_profile() -> None:
    """An app route's own SDK call: the caller's profile bounds it before anything is reserved or sent."""
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
                api_url=upstream.url,
                pii="off",
            )
        )
        # The guard's lifespan closes the SDK client on the server's own loop.
        app = FastAPI(lifespan=guard.lifespan)
        claude = guard.anthropic_client()

        @app.post("/summarise")
        async def summarise(body: dict[str, Any]) -> dict[str, Any]:
            reply = await claude.messages.create(
                **request("claude-opus-4-6"),
                extra_body=body.get("extra", {}),
                extra_headers=body.get("headers", {}),
            )
            return {"text": reply.content[0].text}  # type: ignore[union-attr]

        guard.install(app)
        with serve(app) as server:
            analysis = (await guard.keys.create(profile="analysis", environment="development")).key
            admin = (await guard.keys.create(profile="admin", environment="development")).key
            async with httpx.AsyncClient(base_url=server.url) as http:
                fast = {"extra": {"speed": "fast"}, "headers": {"anthropic-beta": "fast-mode-2026-02-01"}}
                for payload, needle in (
                    (fast, "fast-mode-2026-02-01"),
                    ({"extra": {"speed": "fast"}}, "Fast mode"),
                    ({"extra": {"mcp_servers": [MCP_SERVER]}}, "mcp_servers"),
                    ({"extra": {"tools": [WEB_SEARCH]}}, "web_search_20250305"),
                ):
                    response = await http.post("/summarise", json=payload, headers={"x-api-key": analysis})
                    assert response.status_code == 403, response.text
                    assert needle in response.json()["error"]["message"]
                assert fake.messages_requests == []
                ledger = await guard.ledger.usage(f"key:{analysis[8:20]}")
                assert ledger.used.get("usd_day", 0) == 0
                response = await http.post("/summarise", json=fast, headers={"x-api-key": admin})
                assert response.status_code == 200, response.text
                assert fake.last.json["speed"] == "fast"
        await guard.aclose()


def test_the_sync_client_is_held_to_the_callers_profile_too() -> None:
    """``SyncProfileMiddleware``: the sync SDK client, called while a guarded request is current."""
    from claude_guard.context import GuardContext, use_context
    from claude_guard.egress import SyncProfileMiddleware
    from claude_guard.errors import PermissionDeniedError
    from claude_guard.profiles import BUILTIN_PROFILES

    fake = FakeClaude()
    with serve(fake) as upstream:
        client = anthropic.Anthropic(
            api_key="sk-ant-fake", base_url=upstream.url, middleware=[SyncProfileMiddleware()], max_retries=0
        )
        ctx = GuardContext(method="POST", path="/route", profile=BUILTIN_PROFILES["analysis"])
        with use_context(ctx):
            for extra, headers in (
                ({"speed": "fast"}, {}),
                ({}, {"anthropic-beta": "prompt-caching-2024-07-31,mcp-client-2025-11-20"}),
                ({"tools": [CODE_EXECUTION]}, {}),
            ):
                with pytest.raises(PermissionDeniedError):
                    client.messages.create(**request(), extra_body=extra, extra_headers=headers)
            assert fake.messages_requests == []
            client.messages.create(**request())
        assert len(fake.messages_requests) == 1
        client.messages.create(**request(), extra_body={"speed": "fast"})  # no request: passes
        client.close()
