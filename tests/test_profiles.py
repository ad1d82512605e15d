"""Profiles as policy, no HTTP: the least-privilege bounds, beta parsing, MCP URL matching, TOML loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_guard._profile_check import parse_betas
from claude_guard.errors import ConfigurationError, PermissionDeniedError
from claude_guard.profiles import (
    BUILTIN_PROFILES,
    SAFE_BETAS,
    Profile,
    check_request,
    load_profiles,
    url_matches,
)

ANALYSIS = BUILTIN_PROFILES["analysis"]
GENERATION = BUILTIN_PROFILES["generation"]
ADMIN = BUILTIN_PROFILES["admin"]


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [], **extra}


def refusal(profile: Profile, request: dict[str, Any], betas: tuple[str, ...] = ()) -> PermissionDeniedError:
    with pytest.raises(PermissionDeniedError) as info:
        check_request(profile, request, betas)
    assert info.value.status == 403
    return info.value


@pytest.mark.parametrize("profile", [ANALYSIS, GENERATION], ids=["analysis", "generation"])
def test_the_working_profiles_default_to_least_privilege(profile: Profile) -> None:
    assert profile.server_tools == ()
    assert profile.mcp_servers == ()
    assert profile.betas == SAFE_BETAS
    assert profile.speeds == ("standard",)
    assert profile.max_tokens is not None and profile.max_thinking_tokens is not None
    assert not any("fast" in beta or "mcp" in beta or "computer" in beta for beta in SAFE_BETAS)


def test_admin_is_unbounded_in_features() -> None:
    check_request(
        ADMIN,
        body(
            speed="fast",
            service_tier="priority",
            max_tokens=128_000,
            thinking={"type": "enabled", "budget_tokens": 100_000},
            tools=[
                {"type": "computer_20251124", "name": "computer"},
                {"type": "mcp_toolset", "mcp_server_name": "x"},
            ],
            mcp_servers=[{"type": "url", "url": "https://anything.test/", "name": "x"}],
        ),
        ("fast-mode-2026-02-01", "anything-2099-01-01"),
    )


SERVER_TOOL_TYPES = [
    "web_search_20250305",
    "web_search_20260318",
    "web_fetch_20250910",
    "code_execution_20250825",
    "bash_20250124",
    "text_editor_20250728",
    "computer_20251124",
    "computer_toolset_20260801",
    "browser_toolset_20260801",
    "memory_20250818",
    "tool_search_tool_regex_20251119",
    "mcp_toolset",
    "advisor_20260301",
    "a_type_from_next_month_20270101",
]


@pytest.mark.parametrize("kind", SERVER_TOOL_TYPES)
def test_every_typed_tool_needs_the_profile_s_leave(kind: str) -> None:
    error = refusal(ANALYSIS, body(tools=[{"type": kind, "name": "Read"}]))
    assert error.code == "server_tool_not_allowed"
    assert kind in error.message
    check_request(ADMIN, body(tools=[{"type": kind, "name": "Read"}]))


def test_server_tools_are_allowed_by_type_pattern_or_family_name() -> None:
    profile = Profile(name="p", server_tools=("web_search", "code_execution_2025*"))
    check_request(profile, body(tools=[{"type": "web_search_20260318", "name": "web_search"}]))
    check_request(profile, body(tools=[{"type": "code_execution_20250825", "name": "code_execution"}]))
    for kind in (
        "web_search_tool_evil",
        "web_searchx_20250305",
        "code_execution_20260120",
        "web_fetch_20250910",
    ):
        assert refusal(profile, body(tools=[{"type": kind, "name": "x"}])).code == "server_tool_not_allowed"


def test_client_tools_and_tool_choice() -> None:
    check_request(
        ANALYSIS, body(tools=[{"name": "Read", "input_schema": {}}, {"type": "custom", "name": "Grep"}])
    )
    assert refusal(ANALYSIS, body(tools=[{"type": "custom", "name": "Write"}])).code == "tool_not_allowed"
    assert refusal(ANALYSIS, body(tools=["Read"])).code == "tool_not_allowed"
    assert refusal(ANALYSIS, body(tools={"name": "Read"})).code == "tool_not_allowed"
    assert refusal(ANALYSIS, body(tool_choice={"type": "tool", "name": "Write"})).code == "tool_not_allowed"
    searcher = Profile(name="s", tools=frozenset({"Read"}), server_tools=("web_search",))
    declared = [{"type": "web_search_20250305", "name": "web_search"}]
    check_request(searcher, body(tools=declared, tool_choice={"type": "tool", "name": "web_search"}))
    assert (
        refusal(searcher, body(tool_choice={"type": "tool", "name": "web_search"})).code == "tool_not_allowed"
    )


def test_mcp_servers() -> None:
    server = {"type": "url", "url": "https://mcp.example.test/sse", "name": "files"}
    assert refusal(ANALYSIS, body(mcp_servers=[server])).code == "mcp_server_not_allowed"
    assert refusal(ANALYSIS, body(mcp_servers={"0": server})).code == "mcp_server_not_allowed"
    check_request(ANALYSIS, body(mcp_servers=[]))  # attaches nothing
    profile = Profile(name="m", mcp_servers=("https://mcp.example.test/*",))
    check_request(profile, body(mcp_servers=[server]))
    error = refusal(profile, body(mcp_servers=[server, {**server, "url": "https://evil.test/sse"}]))
    assert "mcp_servers[1]" in error.message and "evil" not in error.message


@pytest.mark.parametrize(
    ("url", "pattern", "matches"),
    [
        ("https://mcp.example.test/sse", "https://mcp.example.test/*", True),
        ("https://MCP.Example.Test/sse", "https://mcp.example.test/*", True),
        ("https://mcp.example.test./sse", "https://mcp.example.test/*", True),
        ("https://mcp.example.test:443/sse", "https://mcp.example.test/*", True),
        ("https://mcp.example.test", "https://mcp.example.test", True),
        ("https://mcp.example.test/a/b?token=1", "https://mcp.example.test/a/*", True),
        ("https://a.b.example.test/mcp", "https://*.example.test/mcp", True),
        ("https://example.test/mcp", "https://*.example.test/mcp", False),
        ("https://evilexample.test/mcp", "https://*.example.test/mcp", False),
        ("https://mcp.example.test@evil.test/", "https://mcp.example.test/*", False),
        ("https://user:pw@mcp.example.test/", "https://mcp.example.test/*", False),
        ("http://mcp.example.test/sse", "https://mcp.example.test/*", False),
        ("https://mcp.example.test:8443/sse", "https://mcp.example.test/*", False),
        ("https://mcp.example.test.evil.test/sse", "https://mcp.example.test/*", False),
        ("https://mcp.example.test/other", "https://mcp.example.test/mcp/*", False),
        ("https://mcp.example.test/mcp/../admin", "https://mcp.example.test/mcp/*", False),
        ("https://mcp.example.test/mcp/%2e%2e/admin", "https://mcp.example.test/mcp/*", False),
        ("https://mcp.example.test/mcp/%2E%2E%2Fadmin", "https://mcp.example.test/mcp/*", False),
        ("https://mcp.example.test\\@evil.test/", "https://mcp.example.test/*", False),
        ("https://mcp.example.test/ sse", "https://mcp.example.test/*", False),
        ("https://mcp.example.test\t/sse", "https://mcp.example.test/*", False),
        ("ftp://mcp.example.test/sse", "https://mcp.example.test/*", False),
        ("https://mcp.example.test:99999/", "https://mcp.example.test/*", False),
        ("https://[::1]/sse", "https://mcp.example.test/*", False),
        ("//mcp.example.test/sse", "https://mcp.example.test/*", False),
        ("https://*.example.test/sse", "https://*.example.test/*", False),
    ],
)
def test_mcp_urls_are_matched_by_parts(url: str, pattern: str, matches: bool) -> None:
    assert url_matches(url, pattern) is matches


def test_betas() -> None:
    check_request(ANALYSIS, body(), ("prompt-caching-2024-07-31", "extended-cache-ttl-2025-04-11"))
    for beta in ("fast-mode-2026-02-01", "mcp-client-2025-11-20", "code-execution-2025-05-22", "x"):
        assert refusal(ANALYSIS, body(), (beta,)).code == "beta_not_allowed"
    error = refusal(ANALYSIS, body(), ("<script>alert(1)</script>",))
    assert "script" not in error.message
    patterned = Profile(name="b", betas=("mcp-client-*",))
    check_request(patterned, body(), ("mcp-client-2026-09-15",))


def test_parse_betas_reads_every_header_and_item() -> None:
    headers = [
        (b"anthropic-beta", b"a-1, b-2"),
        (b"ANTHROPIC-BETA", b"C-3"),
        (b"anthropic-beta", b" ,\t,"),
        (b"anthropic-betas", b"d-4"),
        (b"x-anthropic-beta", b"not-me"),
        (b"content-type", b"application/json"),
    ]
    assert parse_betas(headers) == ("a-1", "b-2", "c-3", "d-4")
    assert parse_betas([("anthropic-beta", "e-5")]) == ("e-5",)
    assert parse_betas([(b"anthropic-beta", "caf\xe9".encode("latin-1"))]) == ("caf\xe9",)


def test_output_bounds() -> None:
    assert refusal(ANALYSIS, body(max_tokens=ANALYSIS.max_tokens + 1)).code == "max_tokens_not_allowed"  # type: ignore[operator]
    for bad in (True, 1.5, "10", None):
        assert refusal(ANALYSIS, body(max_tokens=bad)).code == "max_tokens_not_allowed"
    check_request(ANALYSIS, body(thinking={"type": "adaptive"}))
    check_request(ANALYSIS, body(thinking={"type": "disabled"}))
    check_request(ANALYSIS, body(thinking={"type": "enabled", "budget_tokens": 8192}))
    for thinking in (
        {"type": "enabled", "budget_tokens": 8193},
        {"type": "enabled"},
        {"type": "enabled", "budget_tokens": "100"},
        {"type": "enabled_v2", "budget_tokens": 1},
        ["enabled"],
    ):
        assert refusal(ANALYSIS, body(thinking=thinking)).code == "thinking_not_allowed"


def test_speed_and_service_tier() -> None:
    check_request(ANALYSIS, body(speed="standard"))
    check_request(ANALYSIS, body(speed=None, service_tier="standard_only"))
    error = refusal(ANALYSIS, body(speed="fast"))
    assert error.code == "speed_not_allowed" and "Fast mode" in error.message
    assert refusal(ANALYSIS, body(speed="turbo")).code == "speed_not_allowed"
    assert refusal(ANALYSIS, body(speed=["fast"])).code == "speed_not_allowed"
    assert refusal(ANALYSIS, body(service_tier="priority")).code == "service_tier_not_allowed"


def test_toml_profiles_take_least_privilege_defaults_and_explicit_bounds(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(
        """
[profiles.plain]
tools = ["Read"]

[profiles.research]
server_tools = ["web_search", "web_fetch_*"]
mcp_servers = ["https://mcp.example.test/*"]
betas = "*"
max_tokens = 4096
max_thinking_tokens = 2048
speeds = ["standard", "fast"]
service_tiers = ["standard_only"]
""",
        encoding="utf-8",
    )
    profiles = load_profiles(path)
    plain, research = profiles["plain"], profiles["research"]
    assert plain.server_tools == () and plain.mcp_servers == () and plain.betas == SAFE_BETAS
    assert plain.speeds == ("standard",) and plain.max_tokens is None
    assert research.server_tools == ("web_search", "web_fetch_*")
    assert research.mcp_servers == ("https://mcp.example.test/*",)
    assert research.betas is None
    assert (research.max_tokens, research.max_thinking_tokens) == (4096, 2048)
    assert research.speeds == ("standard", "fast") and research.service_tiers == ("standard_only",)


@pytest.mark.parametrize(
    "setting",
    [
        'server_tools = "web_search"',
        "betas = [1]",
        "max_tokens = 0",
        "max_tokens = true",
        'max_thinking_tokens = "100"',
        'mcp_servers = ["not a url"]',
        'mcp_servers = ["ftp://x.test/"]',
        'speed = ["fast"]',
    ],
)
def test_toml_profile_settings_are_checked(tmp_path: Path, setting: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(f"[profiles.p]\n{setting}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_profiles(path)


async def test_profile_middleware_modes_over_raw_asgi() -> None:
    """enforce refuses before the app runs; shadow records would_refuse (code only) and lets it through."""
    import json

    from claude_guard.context import GuardContext
    from claude_guard.keys import ProfileMiddleware

    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        reached.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    raw = json.dumps(body(speed="fast", messages=[{"role": "user", "content": "secret plan"}])).encode()

    async def run(mode: Any) -> tuple[int, GuardContext]:
        ctx = GuardContext(method="POST", path="/v1/messages", profile=ANALYSIS)
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/messages",
            "headers": [
                (b"content-type", b"application/json"),
                (b"anthropic-beta", b"prompt-caching-2024-07-31"),
            ],
            "claude_guard.context": ctx,
        }
        messages = [{"type": "http.request", "body": raw, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await ProfileMiddleware(app, mode=mode)(scope, receive, send)
        return sent[0]["status"], ctx

    status, ctx = await run("enforce")
    assert status == 403 and reached == []
    verdicts = [(d.protection, d.outcome, (d.detail or {}).get("code")) for d in ctx.decisions]
    assert ("profile", "refused", "speed_not_allowed") in verdicts
    status, ctx = await run("shadow")
    assert status == 200 and reached == [raw]
    decision = ctx.decisions[0]
    assert (decision.protection, decision.outcome) == ("profile", "would_refuse")
    assert decision.detail == {"reason": "speed_not_allowed", "profile": "analysis"}
    assert "secret" not in repr(ctx.decisions)
    reached.clear()
    status, ctx = await run("off")
    assert status == 200 and reached == [raw] and ctx.decisions == []
    with pytest.raises(ConfigurationError):
        ProfileMiddleware(app, mode="loud")  # type: ignore[arg-type]


def test_the_request_s_mode_applies_when_the_face_names_none() -> None:
    from claude_guard.context import GuardContext
    from claude_guard.keys._middleware import enforce_profile

    ctx = GuardContext(method="POST", path="/v1/messages", profile=ANALYSIS)
    with pytest.raises(PermissionDeniedError):
        enforce_profile(ctx, body(speed="fast"), ())
    ctx.profile_mode = "shadow"
    enforce_profile(ctx, body(speed="fast"), ())
    assert ctx.decisions[-1].outcome == "would_refuse"
    with pytest.raises(PermissionDeniedError):
        enforce_profile(ctx, body(speed="fast"), (), mode="enforce")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "model",
        "max_tokens",
        "tools",
        "tool_choice",
        "mcp_servers",
        "thinking",
        "speed",
        "service_tier",
        "inference_geo",
        "messages",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSON, max_size=6), st.lists(st.text(max_size=30), max_size=3))
def test_any_json_in_any_bounded_field_is_allowed_or_a_403_never_a_crash(
    request_body: dict[str, Any], betas: list[str]
) -> None:
    from claude_guard.errors import BadRequestError
    from claude_guard.pricing import PriceTable

    profiles = (
        ANALYSIS,
        GENERATION,
        ADMIN,
        Profile(name="p", server_tools=("web_*",), mcp_servers=("https://a.test/*",)),
    )
    codes: list[str | None] = []
    for profile in profiles:
        try:
            check_request(profile, request_body, tuple(b.strip().lower() for b in betas))
        except PermissionDeniedError as exc:
            codes.append(exc.code)
    assert all(code and code.endswith("_not_allowed") for code in codes)
    statuses: list[int] = []
    try:
        PriceTable.load(environ={}).billing(request_body, betas)
    except BadRequestError as exc:
        statuses.append(exc.status)
    assert statuses in ([], [400])
