"""Where a guarded request's CPU goes: the reference gateway in-process under yappi (CPU clock, every
thread, so the PII pool's analysis is counted), self time grouped by protection.

Run: ``.venv/bin/python bench/bench_profile.py`` — a 1 KB prompt through the gateway with every protection
(PII on) to FakeClaude, both hops through httpx's ASGITransport. CPU per request is ``process_time`` (all
threads, so the PII pool counts) for the gateway path minus the same client calling FakeClaude alone; the
breakdown is each function's own CPU time (yappi ``tsub``) summed by the package it lives in, as a share
of the profiled total (the profiler's overhead inflates every row alike, so read the shares). yappi, not
cProfile: cProfile sees only the thread it runs in and times wall-clock, so the PII pool's work would show
as the event loop waiting. A built-in's time is charged to its caller's package. Measured with PII on and
off; ``BENCH_BASELINE_SRC=/tmp/old/src`` (a tree from ``git archive <commit> src``) runs the same
measurement on that tree first and adds its figures as "before" columns.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
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


def baseline() -> dict[str, Any] | None:
    """The same measurement on an earlier tree (``BENCH_BASELINE_SRC``: its ``src`` directory, e.g. from
    ``git archive <commit> src``), run in a child process, for the before/after columns."""
    src = os.environ.get("BENCH_BASELINE_SRC")
    if not src:
        return None
    env = {**os.environ, "PYTHONPATH": src, "BENCH_PROFILE_JSON": "1", "BENCH_BASELINE_SRC": ""}
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__)], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def main() -> str:
    if os.environ.get("BENCH_PROFILE_JSON"):
        return json.dumps({pii: await profile(pii) for pii in ("on", "off")})
    before = baseline()
    results = {pii: await profile(pii) for pii in ("on", "off")}
    on = shares(results["on"][2], results["on"][0] * 1e6)
    off = shares(results["off"][2], results["off"][0] * 1e6)
    was_on = shares(before["on"][2], before["on"][0] * 1e6) if before else {}
    was_off = shares(before["off"][2], before["off"][0] * 1e6) if before else {}
    none = (0.0, 0.0)
    rows = []
    for name in sorted(on.keys() | off.keys(), key=lambda n: -on.get(n, none)[0]):
        a, b = on.get(name, none), off.get(name, none)
        row = [name, f"{a[0]:.1f} %", f"{a[1]:.0f}"]
        row += [f"{was_on.get(name, none)[1]:.0f}"] if before else []
        row += [f"{b[0]:.1f} %", f"{b[1]:.0f}"]
        row += [f"{was_off.get(name, none)[1]:.0f}"] if before else []
        rows.append(row)
    header = ["package", "PII on: share", "µs"] + (["µs before"] if before else [])
    header += ["PII off: share", "µs"] + (["µs before"] if before else [])

    def cpu_rows(data: dict[str, Any], label: str) -> list[list[str]]:
        on_gw, on_alone, off_gw, off_alone = data["on"][0], data["on"][1], data["off"][0], data["off"][1]
        return [
            [f"client → gateway → FakeClaude{label}", f"{on_gw * 1e6:.0f}", f"{off_gw * 1e6:.0f}"],
            [f"client → FakeClaude alone{label}", f"{on_alone * 1e6:.0f}", f"{off_alone * 1e6:.0f}"],
            [
                f"added by the gateway{label}",
                f"{(on_gw - on_alone) * 1e6:.0f}",
                f"{(off_gw - off_alone) * 1e6:.0f}",
            ],
        ]

    cpu_table = cpu_rows(results, "")
    if before:
        cpu_table += cpu_rows(before, " (before)")
    note = (
        [
            "'Before' is the same run, in the same session, on the tree of `BENCH_BASELINE_SRC` "
            f"({os.environ['BENCH_BASELINE_SRC']!s}). The in-process upstream hop is httpx's ASGITransport "
            "on both sides, so the upstream client change is not in these rows (see the gateway section).",
            "",
        ]
        if before
        else []
    )
    return "\n".join(
        [
            "## Where a request's CPU goes",
            "",
            "A 1 KB prompt through the reference gateway, every protection on, with PII on and off, "
            f"in-process, {N} requests. CPU per request (`process_time`, every thread):",
            "",
            table(["path", "PII on: CPU µs per request", "PII off: CPU µs per request"], cpu_table),
            "",
            *note,
            "Self time by package (a built-in charged to its caller's package), as a share of the profiled "
            "run (client, gateway and FakeClaude together) and that share of the measured CPU per request:",
            "",
            table(header, rows),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
