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
    ("builtins", "built-ins"),
    ("/email/", "httpx and httpcore (both hops, client included)"),
    ("/http/", "httpx and httpcore (both hops, client included)"),
]


BUILTINS = "built-ins"


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


async def profile(pii: str) -> tuple[float, float, dict[str, float]]:
    """CPU per request through the gateway and to FakeClaude alone, and the gateway run's CPU by group."""
    fake = FakeClaude(api_key=UPSTREAM_KEY)
    source = EnvSecretSource("K", {"K": UPSTREAM_KEY})
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=source,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    settings = GuardSettings(api_key_source=source, api_url="http://127.0.0.1:1", pii=pii)  # type: ignore[arg-type]
    guard = ClaudeGuard(settings=settings, store=MemoryStore(), upstream=upstream)
    key = (await guard.keys.create(profile="admin", environment="development")).key
    gateway = asgi_client(create_app(guard))
    direct = asgi_client(fake)

    async def through_gateway() -> None:
        r = await gateway.post("/v1/messages", json=BODY, headers={"x-api-key": key})
        assert r.status_code == 200, r.text
        fake.reset()

    async def fake_alone() -> None:
        r = await direct.post("/v1/messages", json=BODY, headers={"x-api-key": UPSTREAM_KEY})
        assert r.status_code == 200, r.text
        fake.reset()

    # interleaved rounds, so drift hits both alike
    gw: list[float] = []
    alone: list[float] = []
    for _ in range(3):
        gw.append(await cpu_per_call(through_gateway, N // 3))
        alone.append(await cpu_per_call(fake_alone, N // 3))
    gw_cpu, alone_cpu = sorted(gw)[1], sorted(alone)[1]

    yappi.set_clock_type("cpu")
    yappi.start(builtins=True, profile_threads=True)
    for _ in range(N // 2):
        await through_gateway()
    yappi.stop()
    by_group = grouped(yappi.get_func_stats())
    yappi.clear_stats()
    await gateway.aclose()
    await direct.aclose()
    await guard.aclose()
    return gw_cpu, alone_cpu, by_group


def grouped(stats: Any) -> dict[str, float]:
    """Each function's own CPU time summed by group, a built-in's time charged to the group of its caller
    (``json.dumps``'s C encoder to whoever serializes, ``dict.get`` to whoever looks up), so the built-ins
    are not a row of their own."""
    by_group: dict[str, float] = defaultdict(float)
    for stat in stats:
        group = group_of(stat.module or stat.full_name)
        if group == BUILTINS:
            continue
        by_group[group] += stat.tsub
        for child in stat.children:
            if group_of(child.module or child.full_name) == BUILTINS:
                by_group[group] += child.tsub
    return by_group


def shares(by_group: dict[str, float], cpu_us: float) -> dict[str, tuple[float, float]]:
    total = sum(by_group.values()) or 1.0
    return {name: (100 * t / total, cpu_us * t / total) for name, t in by_group.items()}


async def main() -> str:
    results = {pii: await profile(pii) for pii in ("on", "off")}
    on = shares(results["on"][2], results["on"][0] * 1e6)
    off = shares(results["off"][2], results["off"][0] * 1e6)
    rows = []
    for name in sorted(on.keys() | off.keys(), key=lambda n: -on.get(n, (0.0, 0.0))[0]):
        a, b = on.get(name, (0.0, 0.0)), off.get(name, (0.0, 0.0))
        rows.append([name, f"{a[0]:.1f} %", f"{a[1]:.0f}", f"{b[0]:.1f} %", f"{b[1]:.0f}"])
    return "\n".join(
        [
            "## Where a request's CPU goes",
            "",
            "A 1 KB prompt through the reference gateway, every protection on, with PII on and off, "
            f"in-process, {N} requests. CPU per request (`process_time`, every thread):",
            "",
            table(
                ["path", "PII on: CPU µs per request", "PII off: CPU µs per request"],
                [
                    [
                        "client → gateway → FakeClaude",
                        f"{results['on'][0] * 1e6:.0f}",
                        f"{results['off'][0] * 1e6:.0f}",
                    ],
                    [
                        "client → FakeClaude alone",
                        f"{results['on'][1] * 1e6:.0f}",
                        f"{results['off'][1] * 1e6:.0f}",
                    ],
                    [
                        "added by the gateway",
                        f"{(results['on'][0] - results['on'][1]) * 1e6:.0f}",
                        f"{(results['off'][0] - results['off'][1]) * 1e6:.0f}",
                    ],
                ],
            ),
            "",
            "Self time by package (a built-in charged to its caller's package), as a share of the profiled "
            "run (client, gateway and FakeClaude together) and that share of the measured CPU per request:",
            "",
            table(["package", "PII on: share", "µs", "PII off: share", "µs"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
