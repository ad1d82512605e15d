"""Per-request latency of the reference gateway against an unguarded Starlette app, in-process and over real
uvicorn servers, measured side by side in one run."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import ServerProcess, Stats, asgi_client, interleaved, table

from apps import bare
from claude_guard import ClaudeGuard, GuardSettings, UpstreamClient
from claude_guard.keys import KeyStore
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude

UPSTREAM_KEY = "sk-ant-fake-bench-upstream-0000"
BODY = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
N = int(os.environ.get("BENCH_N", "2000"))


def rows(stats: dict[str, Stats], base: str, upstream: str) -> list[list[str]]:
    out = []
    for name, s in stats.items():
        added = f"{s.median_us - stats[upstream].median_us:.0f}" if name.startswith("gateway") else "–"
        out.append(
            [
                name,
                f"{s.median_us:.0f}",
                f"{s.p99_us:.0f}",
                f"{s.median_us / stats[base].median_us:.2f}×",
                added,
            ]
        )
    return out


async def in_process(keys_file: str) -> dict[str, Stats]:
    fake = FakeClaude(api_key=UPSTREAM_KEY)
    source = EnvSecretSource("K", {"K": UPSTREAM_KEY})
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=source,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    store = MemoryStore()  # one store, so one key works for both gateways

    def guard(pii: str) -> ClaudeGuard:
        settings = GuardSettings(api_key_source=source, api_url="http://127.0.0.1:1", pii=pii)  # type: ignore[arg-type]
        return ClaudeGuard(settings=settings, store=store, upstream=upstream)

    full, no_pii = guard("on"), guard("off")
    key = (await full.keys.create(profile="admin", environment="development")).key
    clients = {
        "bare Starlette": asgi_client(bare()),
        "FakeClaude alone": asgi_client(fake),
        "gateway → FakeClaude, every protection": asgi_client(create_app(full)),
        "gateway → FakeClaude, PII off": asgi_client(create_app(no_pii)),
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    fake_headers = {"x-api-key": UPSTREAM_KEY}

    def call(name: str, client: httpx.AsyncClient) -> object:
        h = fake_headers if name == "FakeClaude alone" else headers

        async def do() -> None:
            r = await client.post("/v1/messages", json=BODY, headers=h)
            assert r.status_code == 200, r.text
            fake.reset()  # keep the record from growing over the run

        return do

    return await interleaved({n: call(n, c) for n, c in clients.items()}, n=N)  # type: ignore[misc]


async def over_servers(keys_file: str, key: str) -> dict[str, Stats]:
    env = {
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        "CLAUDE_GUARD_AUDIT_DB": os.path.join(os.path.dirname(keys_file), "audit.sqlite3"),
    }
    fake = ServerProcess("apps:fake", env)
    bare_server = ServerProcess("apps:bare", env)
    fake.wait("/")
    gw_env = {**env, "BENCH_UPSTREAM_URL": fake.url, "CLAUDE_GUARD_KEYS_FILE": keys_file}
    gateway = ServerProcess("apps:gateway", {**gw_env, "CLAUDE_GUARD_PII": "on"})
    gateway_no_pii = ServerProcess("apps:gateway", {**gw_env, "CLAUDE_GUARD_PII": "off"})
    try:
        bare_server.wait()
        gateway.wait()
        gateway_no_pii.wait()
        async with httpx.AsyncClient() as client:

            def call(url: str, h: dict[str, str]) -> object:
                async def do() -> None:
                    r = await client.post(url + "/v1/messages", json=BODY, headers=h)
                    assert r.status_code == 200, r.text

                return do

            return await interleaved(
                {
                    "bare Starlette": call(bare_server.url, {}),
                    "FakeClaude alone": call(fake.url, {"x-api-key": UPSTREAM_KEY}),
                    "gateway → FakeClaude, every protection": call(gateway.url, {"x-api-key": key}),
                    "gateway → FakeClaude, PII off": call(gateway_no_pii.url, {"x-api-key": key}),
                },  # type: ignore[dict-item]
                n=N // 2,
            )
    finally:
        for server in (gateway, gateway_no_pii, bare_server, fake):
            server.stop()


async def main() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = os.path.join(tmp, "keys.json")
        key = (
            await KeyStore(MemoryStore(), keys_file=keys_file).create(
                profile="admin", environment="development"
            )
        ).key
        local = await in_process(keys_file)
        served = await over_servers(keys_file, key)
    header = ["app", "median µs", "p99 µs", "vs bare Starlette", "added by the gateway (µs, median)"]
    return "\n".join(
        [
            "## Gateway pass-through",
            "",
            "A non-streamed Messages request (`POST /v1/messages`, one-word prompt) to an unguarded "
            "Starlette app that parses the body and answers a fixed message, to FakeClaude alone, and "
            "through the reference gateway to FakeClaude: audit record and span, safe errors, key check, "
            "rate limits, request limits, prompt validation, cost meter (estimate, reservation, "
            "settlement), PII redaction and restoration, forwarding; once with every protection and once "
            "with PII off. 'Added' is the gateway's median minus FakeClaude's. In-process, both hops "
            "(client → gateway → FakeClaude) go through httpx's ASGITransport, which costs about as much "
            "again as the app it drives; over servers, the gateway's own loopback hop to FakeClaude is "
            "part of what it adds.",
            "",
            "In-process (httpx ASGITransport, the gateway's upstream client also in-process), "
            f"{N} requests per row:",
            "",
            table(header, rows(local, "bare Starlette", "FakeClaude alone")),
            "",
            f"Over real uvicorn servers (one process each, loopback, keep-alive), {N // 2} requests per row:",
            "",
            table(header, rows(served, "bare Starlette", "FakeClaude alone")),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
