"""Added latency of the rate-limit layer (memory storage) beside slowapi, and Redis round trips per request.

Run: ``.venv/bin/python bench/bench_ratelimit.py [--requests 2000] [--rounds 31] [--chunk 200]
[--instructions 2000] [--redis redis://127.0.0.1:6379/15] [--no-redis] [--no-cluster]``

One bare Starlette app and one limit (``1000000/minute`` by client address, never reached), the variants
measured side by side in the same run: bare, claude_guard ``RateLimitMiddleware`` (memory) and slowapi
(``@limiter.limit``, memory), and for reading only the same middleware with ``headers=False`` and slowapi with
``headers_enabled=True`` (by default slowapi sends no headers, claude_guard two). Twice: through
``httpx.ASGITransport`` and as direct ASGI calls (no HTTP client in the measurement). Within a round the
variants take turns in blocks of ``--chunk`` requests in a rotating order, each block timed by the wall clock
and by the process's CPU time at once. Added latency is the variant's per-request time minus the bare app's in
the same round; the median over rounds is shown, with the middle half of the per-round ratio.

``--instructions N`` also counts the instructions of one request of each variant under valgrind: the same
on a loaded machine as on a quiet one. With ``BENCH_BASELINE_SRC=/tmp/old/src`` (a tree from ``git archive
<commit> src``) the claude_guard rows are counted on that tree too, beside this one.

Redis round trips are counted with a wrapper around the client's ``execute_command`` (the shared Redis may
serve others, so ``INFO commandstats`` deltas would not be ours alone). Then the round trips per request on a
local Redis Cluster (three masters, three replicas) and a Sentinel set, started from ``redis-server`` by the
test suite's helpers, beside the single Redis.
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


Timing = tuple[float, float]
"""Seconds (wall clock, this process's CPU time) a block of requests took."""

Timer = Callable[[str, int], Awaitable[Timing]]


async def timed(call: Callable[[], Awaitable[None]], n: int) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return time.perf_counter() - wall, time.process_time() - cpu


async def rounds_of(
    names: list[str], timer: Timer, requests: int, rounds: int, chunk: int
) -> dict[str, list[Timing]]:
    """Per-request seconds (wall, CPU) of every variant, ``rounds`` times.

    Within a round the variants take turns in blocks of ``chunk`` requests, in an order that rotates block by
    block, so a burst of load from others lands on every variant alike rather than on one variant's whole
    share of the round. A collection before each block keeps one variant from paying for another's garbage;
    what was built before the measurement is frozen, so those collections stay cheap.
    """
    for name in names:  # warm-up
        await timer(name, max(200, chunk))
    gc.collect()
    gc.freeze()
    results: dict[str, list[Timing]] = {name: [] for name in names}
    blocks = max(1, requests // chunk)
    turn = 0
    for _ in range(rounds):
        wall = dict.fromkeys(names, 0.0)
        cpu = dict.fromkeys(names, 0.0)
        for _ in range(blocks):
            shift = turn % len(names)
            turn += 1
            for name in names[shift:] + names[:shift]:
                gc.collect()
                block_wall, block_cpu = await timer(name, chunk)
                wall[name] += block_wall
                cpu[name] += block_cpu
        for name in names:
            results[name].append((wall[name] / (blocks * chunk), cpu[name] / (blocks * chunk)))
    gc.unfreeze()
    return results


def client_call(client: httpx.AsyncClient) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        response = await client.get("/")
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}")

    return call


def direct_call(app: Any) -> Callable[[], Awaitable[None]]:
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

    async def call() -> None:
        await app(dict(base), receive, send)

    return call


async def latency(requests: int, rounds: int, chunk: int) -> dict[str, list[Timing]]:
    apps = variants()
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for name, app in apps.items()
    }
    calls = {name: client_call(client) for name, client in clients.items()}

    async def timer(name: str, n: int) -> Timing:
        return await timed(calls[name], n)

    try:
        return await rounds_of(list(apps), timer, requests, rounds, chunk)
    finally:
        for client in clients.values():
            await client.aclose()


async def raw_latency(requests: int, rounds: int, chunk: int) -> dict[str, list[Timing]]:
    """The same apps called directly as ASGI apps: no HTTP client in the measurement."""
    calls = {name: direct_call(app) for name, app in variants().items()}

    async def timer(name: str, n: int) -> Timing:
        return await timed(calls[name], n)

    return await rounds_of(list(calls), timer, requests, rounds, chunk)


LABELS = {
    "claude_guard": "claude_guard RateLimitMiddleware",
    "slowapi": "slowapi @limiter.limit",
    "claude_guard_no_headers": "claude_guard RateLimitMiddleware, `headers=False` (for reading only)",
    "slowapi_headers": "slowapi @limiter.limit, `headers_enabled=True` (its X-RateLimit headers)",
}


def quartiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]


def ratio_of(added: dict[str, list[float]], ours: str, theirs: str) -> tuple[float, float, float]:
    """The ratio of the median added latencies, and the middle half of the round-by-round ratios."""
    ratio = statistics.median(added[ours]) / statistics.median(added[theirs])
    low, high = quartiles([g / s for g, s in zip(added[ours], added[theirs], strict=True) if s > 0])
    return ratio, low, high


def table(title: str, results: dict[str, list[Timing]]) -> dict[str, tuple[float, float, float]]:
    clocks = {"wall": 0, "CPU": 1}
    per = {
        clock: {name: [t[i] for t in values] for name, values in results.items()}
        for clock, i in clocks.items()
    }
    added = {
        clock: {name: [v - b for v, b in zip(values, ps["bare"], strict=True)] for name, values in ps.items()}
        for clock, ps in per.items()
    }
    print(f"{title}\n")
    print(
        "| variant | wall µs per request | added (wall µs) | CPU µs per request | added (CPU µs) |\n"
        "|---|---:|---:|---:|---:|"
    )
    bare = {clock: statistics.median(ps["bare"]) * 1e6 for clock, ps in per.items()}
    print(f"| bare Starlette app | {bare['wall']:.1f} | — | {bare['CPU']:.1f} | — |")
    for name, label in LABELS.items():
        cells = " | ".join(
            f"{statistics.median(per[c][name]) * 1e6:.1f} | {statistics.median(added[c][name]) * 1e6:.1f}"
            for c in clocks
        )
        print(f"| {label} | {cells} |")
    ratios: dict[str, tuple[float, float, float]] = {}
    print()
    for clock in clocks:
        ratio, low, high = ratios[clock] = ratio_of(added[clock], "claude_guard", "slowapi")
        same_headers = ratio_of(added[clock], "claude_guard", "slowapi_headers")[0]
        no_headers = ratio_of(added[clock], "claude_guard_no_headers", "slowapi")[0]
        print(
            f"- {clock}: claude_guard's added latency is **{ratio:.2f}×** slowapi's (target ≤ 0.5×; "
            f"middle half of the rounds {low:.2f}–{high:.2f}×); with headers on both sides "
            f"{same_headers:.2f}×, without headers on both sides {no_headers:.2f}×."
        )
    print("\nBy default they do different work: claude_guard sends two RateLimit headers, slowapi none.\n")
    return ratios


# -- instruction counts --------------------------------------------------------------------------------------


async def child(name: str, mode: str, n: int) -> None:
    """Run one variant ``n`` times after a fixed warm-up: what ``instructions`` counts under valgrind."""
    app = variants()[name]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    call = client_call(client) if mode == "asgi" else direct_call(app)
    for _ in range(300 + n):
        await call()
    await client.aclose()


def instructions(names: list[str], mode: str, n: int, src: str | None = None) -> dict[str, float]:
    """Instructions per request of each variant, counted by valgrind (cachegrind without its cache model).

    Each variant runs in a process of its own twice, with a warm-up only and with ``n`` more requests; the
    difference over ``n`` is the instructions of one request. Unlike a clock, the count does not depend on
    what else the machine runs: it is the work itself.
    """
    import re
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if src is not None:
        env["PYTHONPATH"] = src
    counts: dict[str, float] = {}
    for name in names:
        totals = []
        for requests in (0, n):
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=cachegrind",
                    "--cache-sim=no",
                    "--cachegrind-out-file=/dev/null",
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    mode,
                    str(requests),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
            if found is None:
                raise RuntimeError(f"no instruction count from valgrind: {done.stderr[-500:]}")
            totals.append(int(found.group(1).replace(",", "")))
        counts[name] = (totals[1] - totals[0]) / n
    return counts


def instruction_table(n: int) -> None:
    names = ["bare", "claude_guard", "slowapi", "claude_guard_no_headers", "slowapi_headers"]
    print(
        f"Instructions per request, counted by valgrind ({n} requests after a warm-up, each variant in a "
        "process of its own; the same on a loaded machine as on a quiet one):\n"
    )
    print(
        "| variant | through httpx.ASGITransport | added | direct ASGI call | added |\n"
        "|---|---:|---:|---:|---:|"
    )
    through, direct = instructions(names, "asgi", n), instructions(names, "direct", n)
    labels = dict(LABELS)
    baseline = os.environ.get("BENCH_BASELINE_SRC")
    if baseline:
        ours = ["claude_guard", "claude_guard_no_headers"]
        for counts, mode in ((through, "asgi"), (direct, "direct")):
            before = instructions(["bare", *ours], mode, n, src=baseline)
            for name in ours:  # the bare app's count on that tree, so the rows add up
                counts[f"{name}_before"] = before[name] - before["bare"] + counts["bare"]
        for name in ours:
            labels[f"{name}_before"] = f"{LABELS[name]}, before (`BENCH_BASELINE_SRC`)"
    print(f"| bare Starlette app | {through['bare']:,.0f} | — | {direct['bare']:,.0f} | — |")
    for name, label in labels.items():
        print(
            f"| {label} | {through[name]:,.0f} | {through[name] - through['bare']:,.0f} | "
            f"{direct[name]:,.0f} | {direct[name] - direct['bare']:,.0f} |"
        )

    def ratio(counts: dict[str, float], ours: str, theirs: str = "slowapi") -> float:
        return (counts[ours] - counts["bare"]) / (counts[theirs] - counts["bare"])

    headers = through["claude_guard"] - through["claude_guard_no_headers"]
    before = ""
    if baseline:
        old = "claude_guard_before"
        before = f" (before: {ratio(through, old):.2f}× and {ratio(direct, old):.2f}×)"
    print(
        f"\nBy instructions claude_guard's layer is **{ratio(through, 'claude_guard'):.2f}×** slowapi's "
        f"through httpx.ASGITransport and **{ratio(direct, 'claude_guard'):.2f}×** direct{before}"
        f". Its two RateLimit headers cost {headers:,.0f} instructions through the client and "
        f"{direct['claude_guard'] - direct['claude_guard_no_headers']:,.0f} direct: the difference is httpx "
        "reading two more response headers.\n"
    )


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
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--chunk", type=int, default=200, help="requests per block within a round")
    parser.add_argument(
        "--redis", default=os.environ.get("CLAUDE_GUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument(
        "--no-cluster", action="store_true", help="skip the round trips on a local cluster and sentinel set"
    )
    parser.add_argument(
        "--no-redis", action="store_true", help="skip the Redis round trips (the latency tables only)"
    )
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions per request under valgrind, over N requests (e.g. 2000)",
    )
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, mode, n = args.child
        await child(name, mode, int(n))
        return

    print("## Rate limits\n")
    print(
        "Added latency per request of the rate-limit layer (memory storage) beside slowapi on the same bare "
        f"Starlette app and the same limit ({LIMIT} by client address, fixed window, never reached). "
        f"Within each round the variants take turns in blocks of {args.chunk} requests, in an order that "
        "rotates block by block; the added latency of a round is the variant minus the bare app of that "
        "round; figures are medians over the rounds, timed by the wall clock and by the process's CPU time "
        "in the same blocks (CPU time does not count the time another process held the core).\n"
    )
    for title, results in (
        (
            f"Through httpx.ASGITransport ({args.rounds} rounds × {args.requests} requests, memory storage)",
            latency,
        ),
        (f"Direct ASGI calls ({args.rounds} rounds × {args.requests} requests, memory storage)", raw_latency),
    ):
        table(title, await results(args.requests, args.rounds, args.chunk))
    if args.instructions:
        instruction_table(args.instructions)
    if args.no_redis:
        return

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
