"""Where a guarded request's CPU goes: the reference gateway in-process under yappi (CPU clock, every
thread, so the PII pool's analysis is counted), self time grouped by protection.

Run: ``.venv/bin/python bench/bench_profile.py`` — a 1 KB prompt through the gateway with every protection
(PII on) to FakeClaude, both hops through httpx's ASGITransport. CPU per request is ``process_time`` (all
threads, so the PII pool counts) for the gateway path minus the same client calling FakeClaude alone; the
breakdown is each function's own CPU time (yappi ``tsub``) summed by the package it lives in, as a share
of the profiled total (the profiler's overhead inflates every row alike, so read the shares). yappi, not
cProfile: cProfile sees only the thread it runs in and times wall-clock, so the PII pool's work would show
as the event loop waiting.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import yappi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import asgi_client, table

from claude_guard import ClaudeGuard, GuardSettings, UpstreamClient
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude

UPSTREAM_KEY = "sk-ant-fake-bench-upstream-0000"
PROMPT = (
    "Summarise the attached incident notes for the on-call channel. The outage began at 09:12 UTC when the "
    "queue workers lost their database connections; retries piled up until the autoscaler added nodes. "
) * 5
BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": PROMPT[:1024]}],
}
N = int(os.environ.get("BENCH_N", "600"))

# First match wins: a claude_guard file is attributed to its protection, libraries to what they serve.
GROUPS: list[tuple[str, str]] = [
    ("/claude_guard/pii/", "PII (claude_guard side)"),
    ("/claude_guard/_credentials", "PII (credential table, claude_guard's own rows)"),
    ("/regex/", "PII (Presidio analysis)"),
    ("/presidio", "PII (Presidio analysis)"),
    ("spacy/", "PII (spaCy tokenizer)"),
    ("/phonenumbers/", "PII (phone numbers)"),
    ("/tldextract/", "PII (Presidio analysis)"),
    ("/claude_guard/validation/", "prompt validation"),
    ("/claude_guard/ledger/", "cost meter and ledger"),
    ("/claude_guard/pricing", "cost meter and ledger"),
    ("/claude_guard/ratelimit/", "rate limits"),
    ("/claude_guard/keys", "client keys"),
    ("/claude_guard/sandbox/", "tool-call sandbox"),
    ("/claude_guard/audit/", "audit record and spans"),
    ("/opentelemetry/", "audit record and spans"),
    ("/claude_guard/messages", "request walker and SSE"),
    ("/claude_guard/upstream", "forwarding (gateway)"),
    ("/claude_guard/testing/", "FakeClaude (the upstream)"),
    ("/claude_guard/", "guard core (context, body capture, middleware base, errors)"),
    ("/httpx", "httpx and httpcore (both hops, client included)"),
    ("/httpcore", "httpx and httpcore (both hops, client included)"),
    ("/anyio/", "httpx and httpcore (both hops, client included)"),
    ("/starlette/", "Starlette and FastAPI (routing)"),
    ("/fastapi/", "Starlette and FastAPI (routing)"),
    ("/pydantic", "Starlette and FastAPI (routing)"),
    ("/asyncio/", "asyncio event loop"),
    ("/json/", "json (stdlib)"),
    ("/concurrent/futures/", "PII executor hand-off (thread pool)"),
    ("/threading.py", "PII executor hand-off (thread pool)"),
    ("/re/", "regex compilation and matching"),
    ("_sre", "regex compilation and matching"),
    ("builtins", "built-ins (C functions called by every row above)"),
    ("/email/", "httpx and httpcore (both hops, client included)"),
    ("/http/", "httpx and httpcore (both hops, client included)"),
]


def group_of(filename: str) -> str:
    for needle, name in GROUPS:
        if needle in filename:
            return name
    return "other"


async def cpu_per_call(call: Callable[[], Awaitable[Any]], n: int) -> float:
    for _ in range(50):
        await call()
    start = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - start) / n


async def main() -> str:
    fake = FakeClaude(api_key=UPSTREAM_KEY)
    source = EnvSecretSource("K", {"K": UPSTREAM_KEY})
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=source,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    settings = GuardSettings(api_key_source=source, api_url="http://127.0.0.1:1", pii="on")  # type: ignore[arg-type]
    guard = ClaudeGuard(settings=settings, store=MemoryStore(), upstream=upstream)
    key = (await guard.keys.create(profile="admin", environment="development")).key
    gateway = asgi_client(create_app(guard))
    direct = asgi_client(fake)
    # The same gateway without PII redaction: the difference is what PII costs per request.
    no_pii_settings = GuardSettings(api_key_source=source, api_url="http://127.0.0.1:1", pii="off")  # type: ignore[arg-type]
    no_pii_guard = ClaudeGuard(settings=no_pii_settings, store=MemoryStore(), upstream=upstream)
    no_pii_key = (await no_pii_guard.keys.create(profile="admin", environment="development")).key
    no_pii = asgi_client(create_app(no_pii_guard))

    async def through_gateway() -> None:
        r = await gateway.post("/v1/messages", json=BODY, headers={"x-api-key": key})
        assert r.status_code == 200, r.text
        fake.reset()

    async def through_gateway_without_pii() -> None:
        r = await no_pii.post("/v1/messages", json=BODY, headers={"x-api-key": no_pii_key})
        assert r.status_code == 200, r.text
        fake.reset()

    async def fake_alone() -> None:
        r = await direct.post("/v1/messages", json=BODY, headers={"x-api-key": UPSTREAM_KEY})
        assert r.status_code == 200, r.text
        fake.reset()

    # interleaved rounds, so drift hits both alike
    gw: list[float] = []
    off: list[float] = []
    alone: list[float] = []
    for _ in range(3):
        gw.append(await cpu_per_call(through_gateway, N // 3))
        off.append(await cpu_per_call(through_gateway_without_pii, N // 3))
        alone.append(await cpu_per_call(fake_alone, N // 3))
    gw_cpu, off_cpu, alone_cpu = sorted(gw)[1], sorted(off)[1], sorted(alone)[1]

    yappi.set_clock_type("cpu")
    yappi.start(builtins=True, profile_threads=True)
    for _ in range(N // 2):
        await through_gateway()
    yappi.stop()
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    for stat in yappi.get_func_stats():
        by_group[group_of(stat.module or stat.full_name)] += stat.tsub
        total += stat.tsub
    yappi.clear_stats()
    rows = [[name, f"{100 * t / total:.1f} %"] for name, t in sorted(by_group.items(), key=lambda kv: -kv[1])]
    pii_share = sum(t for name, t in by_group.items() if name.startswith("PII")) / total
    await gateway.aclose()
    await no_pii.aclose()
    await direct.aclose()
    await guard.aclose()
    await no_pii_guard.aclose()
    return "\n".join(
        [
            "## Where a request's CPU goes",
            "",
            f"A 1 KB prompt through the reference gateway, every protection on (PII on), in-process, {N} "
            "requests. CPU per request (`process_time`, every thread):",
            "",
            table(
                ["path", "CPU µs per request"],
                [
                    ["client → gateway → FakeClaude", f"{gw_cpu * 1e6:.0f}"],
                    ["client → gateway (PII off) → FakeClaude", f"{off_cpu * 1e6:.0f}"],
                    ["client → FakeClaude alone", f"{alone_cpu * 1e6:.0f}"],
                    ["added by the gateway", f"{(gw_cpu - alone_cpu) * 1e6:.0f}"],
                    ["added by PII redaction (PII on minus PII off)", f"{(gw_cpu - off_cpu) * 1e6:.0f}"],
                ],
            ),
            "",
            f"PII's share of the profiled CPU (the PII rows below together): {100 * pii_share:.1f} %. The "
            "prompt holds times and numbers but no PII: the prefilter keeps it away from Presidio, and it is "
            "analysed inline (claude_guard's own rows only), without the pool.",
            "",
            "Self time by package, as a share of the profiled run (client, gateway and FakeClaude together):",
            "",
            table(["package", "share of CPU"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
