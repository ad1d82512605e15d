"""Added latency of the rate-limit layer (memory storage) beside slowapi, and Redis round trips per request.

Run: ``.venv/bin/python bench/bench_ratelimit.py [--requests 2000] [--rounds 15] [--redis redis://127.0.0.1:6379/15]
[--no-cluster]``

One bare Starlette app and one limit (``1000000/minute`` by client address, never reached), the variants
measured side by side in the same run, in interleaved rounds whose order rotates: bare, claude_guard
``RateLimitMiddleware`` (memory) and slowapi (``@limiter.limit``, memory), and for reading only the same
middleware with ``headers=False`` (slowapi sends no headers by default). Twice: through
``httpx.ASGITransport`` and as direct ASGI calls (no HTTP client in the measurement). Added latency is the
variant's mean per-request time minus the bare app's in the same round; the median over rounds is shown, with
the spread of the per-round ratio. Redis round trips are counted with a wrapper around the client's
``execute_command`` (the shared Redis may serve others, so ``INFO commandstats`` deltas would not be ours
alone). Then the round trips per request on a local Redis Cluster (three masters, three replicas) and a
Sentinel set, started from ``redis-server`` by the test suite's helpers, beside the single Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from claude_guard.ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from claude_guard.store import StoreConfig, store_from_url

LIMIT = "1000000/minute"

# The latency tables' clock: wall time by default; ``--clock cpu`` (this process's CPU time) on a machine that
# others load, where being descheduled would count as latency. The loop does no I/O, so on a quiet machine the
# two agree.
clock = time.perf_counter


def bare_app() -> Starlette:
    async def home(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home)])


def guarded_app(*, headers: bool = True) -> Any:
    rule = RateLimitRule(limits=LIMIT, key="address", strategy="fixed_window")
    return RateLimitMiddleware(bare_app(), config=RateLimitConfig(rules=[rule], headers=headers))


def variants() -> dict[str, Any]:
    # The last row is for reading only: the same layer without RateLimit headers (slowapi sends none by
    # default), to show what the headers cost. The target compares the default configuration.
    return {
        "bare": bare_app(),
        "claude_guard": guarded_app(),
        "slowapi": slowapi_app(),
        "claude_guard_no_headers": guarded_app(headers=False),
        "slowapi_headers": slowapi_app(headers=True),
    }


def slowapi_app(*, headers: bool = False) -> Starlette:
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    limiter = Limiter(
        key_func=get_remote_address, storage_uri="memory://", strategy="fixed-window", headers_enabled=headers
    )

    @limiter.limit(LIMIT)
    async def home(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", home)])
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
    return app


async def per_request_seconds(client: httpx.AsyncClient, n: int) -> float:
    start = clock()
    for _ in range(n):
        response = await client.get("/")
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}")
    return (clock() - start) / n


Timer = Callable[[str, int], Awaitable[float]]


async def rounds_of(names: list[str], timer: Timer, requests: int, rounds: int) -> dict[str, list[float]]:
    """Per-request seconds of every variant, ``rounds`` times, interleaved and in a rotating order.

    Rotating the order means no variant always runs right after another (caches, the allocator, the
    collector's debt); a full collection before each block keeps one variant from paying for another's
    garbage.
    """
    for name in names:  # warm-up
        await timer(name, max(200, requests // 10))
    results: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            results[name].append(await timer(name, requests))
    return results


async def latency(requests: int, rounds: int) -> dict[str, list[float]]:
    apps = variants()
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for name, app in apps.items()
    }

    async def timer(name: str, n: int) -> float:
        return await per_request_seconds(clients[name], n)

    try:
        return await rounds_of(list(apps), timer, requests, rounds)
    finally:
        for client in clients.values():
            await client.aclose()


async def raw_latency(requests: int, rounds: int) -> dict[str, list[float]]:
    """The same three apps called directly as ASGI apps: no HTTP client in the measurement."""
    apps = variants()
    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1234),
        "server": ("bench", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def timer(name: str, n: int) -> float:
        app = apps[name]
        start = clock()
        for _ in range(n):
            await app(dict(base), receive, send)
        return (clock() - start) / n

    return await rounds_of(list(apps), timer, requests, rounds)


LABELS = {
    "claude_guard": "claude_guard RateLimitMiddleware",
    "slowapi": "slowapi @limiter.limit",
    "claude_guard_no_headers": "claude_guard RateLimitMiddleware, `headers=False` (for reading only)",
    "slowapi_headers": "slowapi @limiter.limit, `headers_enabled=True` (its X-RateLimit headers)",
}


def table(title: str, results: dict[str, list[float]]) -> float:
    bare = results["bare"]
    added = {
        name: [v - b for v, b in zip(values, bare, strict=True)]
        for name, values in results.items()
        if name != "bare"
    }
    print(f"{title}\n")
    print("| variant | per request (µs, median) | added by the rate-limit layer (µs, median) |")
    print("|---|---:|---:|")
    print(f"| bare Starlette app | {statistics.median(bare) * 1e6:.1f} | — |")
    for name, label in LABELS.items():
        total, extra = statistics.median(results[name]) * 1e6, statistics.median(added[name]) * 1e6
        print(f"| {label} | {total:.1f} | {extra:.1f} |")
    ratio = statistics.median(added["claude_guard"]) / statistics.median(added["slowapi"])
    # The spread of the ratio round by round says how much of it is noise.
    per_round = sorted(g / s for g, s in zip(added["claude_guard"], added["slowapi"], strict=True) if s > 0)
    low, high = per_round[len(per_round) // 4], per_round[(3 * len(per_round)) // 4]
    with_headers = statistics.median(added["claude_guard"]) / statistics.median(added["slowapi_headers"])
    without = statistics.median(added["claude_guard_no_headers"]) / statistics.median(added["slowapi"])
    print(
        f"\nclaude_guard's added latency is {ratio:.2f}× slowapi's (target ≤ 0.5×; "
        f"middle half of the rounds {low:.2f}–{high:.2f}×). By default they do different work: claude_guard "
        "sends RateLimit headers, slowapi none. Doing the same work, with headers on both sides: "
        f"{with_headers:.2f}×; without headers on both sides: {without:.2f}×.\n"
    )
    return ratio


async def round_trips(url: str, requests: int) -> dict[str, float]:
    prefix = f"cgbench:{uuid.uuid4().hex[:12]}"
    store = store_from_url(url, config=StoreConfig(prefix=prefix))
    client: Any = store.client  # type: ignore[attr-defined]
    counts: Counter[str] = Counter()
    original = client.execute_command

    names: dict[str, str] = {}

    async def counting(*args: Any, **kwargs: Any) -> Any:
        command = str(args[0]).upper()
        if command == "EVALSHA":
            if not names:
                for name in ("ratelimit/admit", "ratelimit/release", "ratelimit/renew"):
                    names[store.script(name).sha] = name  # type: ignore[attr-defined]
            command = names.get(str(args[1]), command)
        counts[command] += 1
        return await original(*args, **kwargs)

    client.execute_command = counting
    limiter = RateLimiter(store)
    results: dict[str, float] = {}
    try:
        for label, rule in (
            (
                "rate limits only (2 limits)",
                RateLimitRule(limits="1000000/minute;10000000/day", key="address"),
            ),
            (
                "rate limits + concurrency cap",
                RateLimitRule(limits="1000000/minute;10000000/day", key="address", concurrency=1000),
            ),
        ):
            app = RateLimitMiddleware(bare_app(), config=RateLimitConfig(rules=[rule]), limiter=limiter)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
                await http.get("/")  # loads the scripts once (SCRIPT LOAD after NOSCRIPT)
                counts.clear()
                for _ in range(requests):
                    assert (await http.get("/")).status_code == 200
            results[label] = sum(counts.values()) / requests
            results[label + " / admission"] = counts["ratelimit/admit"] / requests
            results[label + " / release"] = counts["ratelimit/release"] / requests
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await store.aclose()
    return results


async def cluster_round_trips(
    urls: dict[str, str], requests: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """Round trips (writes to any Redis socket) and mean time per request, per topology and scenario.

    Counted at the connection: every ``send`` of one command or one pipeline is one round trip, whichever
    client (single, cluster node, sentinel-managed) sent it.
    """
    from redis.asyncio.connection import AbstractConnection

    sends = [0]
    original = AbstractConnection._send_packed_command

    async def counting(self: Any, command: Any) -> None:
        sends[0] += 1
        await original(self, command)

    scenarios = {
        "one rule, 2 limits": [RateLimitRule(limits="1000000/minute;10000000/day", key="address")],
        "one rule, 2 limits + concurrency cap": [
            RateLimitRule(limits="1000000/minute;10000000/day", key="address", concurrency=1000)
        ],
        "per-client rule + global rule": [
            RateLimitRule(limits="1000000/minute", key="address", name="client"),
            RateLimitRule(limits="10000000/minute", key="global", name="everyone"),
        ],
    }
    results: dict[str, dict[str, tuple[float, float]]] = {}
    AbstractConnection._send_packed_command = counting  # type: ignore[method-assign]
    try:
        for topology, url in urls.items():
            prefix = f"cgbench:{uuid.uuid4().hex[:12]}"
            store = store_from_url(url, config=StoreConfig(prefix=prefix))
            limiter = RateLimiter(store)
            results[topology] = {}
            try:
                for label, rules in scenarios.items():
                    config = RateLimitConfig(rules=rules)
                    app = RateLimitMiddleware(bare_app(), config=config, limiter=limiter)
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
                        for _ in range(20):  # scripts loaded, topology and replicas known
                            await http.get("/")
                        sends[0] = 0
                        started = time.perf_counter()
                        for _ in range(requests):
                            assert (await http.get("/")).status_code == 200
                        elapsed = time.perf_counter() - started
                    results[topology][label] = (sends[0] / requests, elapsed / requests * 1e6)
            finally:
                client: Any = store.client  # type: ignore[attr-defined]
                async for key in client.scan_iter(match=f"{prefix}*", count=1000):
                    await client.delete(key)
                await store.aclose()
    finally:
        AbstractConnection._send_packed_command = original  # type: ignore[method-assign]
    return results


def print_cluster_table(results: dict[str, dict[str, tuple[float, float]]], requests: int) -> None:
    topologies = list(results)
    print(
        f"\nRedis round trips per admitted request by topology ({requests} requests each through "
        "httpx.ASGITransport, counted at the sockets), and the mean time per request (noisy: eight "
        "sessions shared the 2 CPU cores when this was measured; a local cluster on loopback). On the "
        "cluster and the Sentinel set a write waits for its replica (WAIT) in the same round trip; "
        "the master's connected replicas are asked (ROLE) at most once a second.\n"
    )
    print(
        "| scenario | "
        + " | ".join(f"{t}: round trips" for t in topologies)
        + " | "
        + " | ".join(f"{t}: µs/request" for t in topologies)
        + " |"
    )
    print("|---|" + "---:|" * (2 * len(topologies)))
    for label in next(iter(results.values())):
        trips = " | ".join(f"{results[t][label][0]:.2f}" for t in topologies)
        micros = " | ".join(f"{results[t][label][1]:.0f}" for t in topologies)
        print(f"| {label} | {trips} | {micros} |")
    print(
        "\nOn a cluster the keys of one identity share a hash slot, so one admission is one script; a "
        "request counted by two identities (a per-client and a global rule) has keys on two slots and "
        "takes one admission per slot."
    )


def local_topologies() -> tuple[dict[str, str], list[Any]]:
    """Start a local cluster (three masters, three replicas) and a Sentinel set with the test helpers."""
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from _redis_topologies import RedisClusterNodes, SentinelSet

    directory = Path(tempfile.mkdtemp(prefix="cg-bench-redis-"))
    cluster, sentinels = RedisClusterNodes(directory / "cluster"), SentinelSet(directory / "sentinel")
    started: list[Any] = []
    for topology in (cluster, sentinels):
        topology.start()
        started.append(topology)
    return {"redis+cluster": cluster.url, "redis+sentinel": sentinels.url}, started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--redis", default=os.environ.get("CLAUDE_GUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument(
        "--no-cluster", action="store_true", help="skip the round trips on a local cluster and sentinel set"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time the latency tables by wall clock or by this process's CPU time (on a loaded machine)",
    )
    args = parser.parse_args()
    global clock
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    print("## Rate limits\n")
    print(
        "Added latency per request of the rate-limit layer (memory storage) beside slowapi on the same bare "
        f"Starlette app and the same limit ({LIMIT} by client address, fixed window, never reached). "
        "Each round times every variant once, in a rotating order; the added latency of a round is the "
        "variant minus the bare app of that round; figures are medians over the rounds. Clock: "
        f"{'wall time' if args.clock == 'wall' else 'CPU time of the process'}.\n"
    )
    table(
        f"Through httpx.ASGITransport ({args.rounds} rounds × {args.requests} requests, memory storage)",
        await latency(args.requests, args.rounds),
    )
    table(
        f"Direct ASGI calls ({args.rounds} rounds × {args.requests} requests, memory storage)",
        await raw_latency(args.requests, args.rounds),
    )

    try:
        trips = await round_trips(args.redis, 500)
    except Exception as exc:  # Redis absent: the latency table still stands
        print(f"Redis round trips not measured: {type(exc).__name__}")
        return
    print("| Redis, per admitted request | round trips (all commands) | admission script | release script |")
    print("|---|---:|---:|---:|")
    for label in ("rate limits only (2 limits)", "rate limits + concurrency cap"):
        admission, release = trips[label + " / admission"], trips[label + " / release"]
        print(f"| {label} | {trips[label]:.2f} | {admission:.2f} | {release:.2f} |")
    if args.no_cluster:
        return
    urls, started = local_topologies()
    try:
        requests = 500
        print_cluster_table(await cluster_round_trips({"redis": args.redis, **urls}, requests), requests)
    finally:
        for topology in started:
            topology.stop()


if __name__ == "__main__":
    asyncio.run(main())
