"""Ledger benchmark: reserve + settle latency (memory and Redis storage) and Redis round trips per request.

Run: ``.venv/bin/python bench/bench_ledger.py [--redis redis://127.0.0.1:6379/15] [-n 2000]``.
Prints a markdown table. Round trips are counted by wrapping the Redis client's ``execute_command`` (every
command and every EVALSHA passes through it), so other users of a shared Redis do not skew the count.
Keys use a unique prefix and are deleted at the end; nothing is flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from decimal import Decimal
from typing import Any

from claude_guard.ledger import Ledger
from claude_guard.ledger._ledger import BudgetScope
from claude_guard.profiles import Budgets
from claude_guard.store import Store, StoreConfig, store_from_url

SCOPES = [
    BudgetScope(
        name="key:bench",
        budgets=Budgets(
            usd_per_day=Decimal(10**9),
            usd_per_month=Decimal(10**9),
            input_tokens_per_minute=10**12,
            output_tokens_per_minute=10**12,
        ),
    ),
    BudgetScope(name="profile:bench", budgets=Budgets(usd_per_month=Decimal(10**9))),
]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class _Counter:
    def __init__(self, client: Any) -> None:
        self.calls = 0
        original = client.execute_command

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await original(*args, **kwargs)

        client.execute_command = counting


async def _measure(store: Store, n: int) -> dict[str, float]:
    ledger = Ledger(store)
    counter = _Counter(store.client) if store.kind == "redis" else None  # type: ignore[attr-defined]
    # warm up: script loading (SCRIPT LOAD / EVALSHA fallback) and connections
    for _ in range(20):
        r = await ledger.reserve(SCOPES, usd=Decimal("0.01"), input_tokens=100, output_tokens=100)
        await ledger.settle(r, usd=Decimal("0.005"), input_tokens=90, output_tokens=50)
    reserve_calls = settle_calls = 0
    totals: list[float] = []
    reserves: list[float] = []
    settles: list[float] = []
    for _ in range(n):
        before = counter.calls if counter else 0
        t0 = time.perf_counter()
        r = await ledger.reserve(SCOPES, usd=Decimal("0.01"), input_tokens=100, output_tokens=100)
        t1 = time.perf_counter()
        middle = counter.calls if counter else 0
        await ledger.settle(r, usd=Decimal("0.005"), input_tokens=90, output_tokens=50)
        t2 = time.perf_counter()
        if counter:
            reserve_calls += middle - before
            settle_calls += counter.calls - middle
        reserves.append(t1 - t0)
        settles.append(t2 - t1)
        totals.append(t2 - t0)
    totals.sort()
    return {
        "reserve_p50": statistics.median(reserves) * 1e6,
        "settle_p50": statistics.median(settles) * 1e6,
        "total_p50": statistics.median(totals) * 1e6,
        "total_p99": totals[int(len(totals) * 0.99) - 1] * 1e6,
        "total_mean": statistics.fmean(totals) * 1e6,
        "reserve_round_trips": reserve_calls / n if counter else 0.0,
        "settle_round_trips": settle_calls / n if counter else 0.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--redis", default=os.environ.get("CLAUDE_GUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    prefix = f"cgbench:{uuid.uuid4().hex[:10]}"
    rows = []
    memory = store_from_url("memory://", config=StoreConfig(prefix=prefix))
    rows.append(("memory", await _measure(memory, args.n)))
    redis_store = store_from_url(args.redis, config=StoreConfig(prefix=prefix))
    try:
        rows.append(("redis (loopback)", await _measure(redis_store, args.n)))
    finally:
        client = redis_store.client  # type: ignore[attr-defined]
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await redis_store.aclose()
    print(f"Ledger reserve + settle, {args.n} sequential requests, 2 scopes x 4 budgets each")
    print(f"machine: {os.cpu_count()} CPUs, {_cpu()}, Python {platform.python_version()}")
    print()
    print(
        "| storage | reserve p50 (µs) | settle p50 (µs) | reserve+settle p50 (µs) | p99 (µs) | mean (µs) "
        "| Redis round trips: reserve / settle |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        trips = "-" if name == "memory" else f"{r['reserve_round_trips']:.2f} / {r['settle_round_trips']:.2f}"
        print(
            f"| {name} | {r['reserve_p50']:.0f} | {r['settle_p50']:.0f} | {r['total_p50']:.0f} "
            f"| {r['total_p99']:.0f} | {r['total_mean']:.0f} | {trips} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
