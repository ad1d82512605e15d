"""A Redis master killed under load: four guard processes never over-admit, and recover without a restart.

The cluster (three masters, three replicas) and the Sentinel set are the session's own; the master that
holds the test's counter is killed with SIGKILL (no flush, no goodbye) while requests flow, and started again
at the end so the topology is whole for the other tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from _redis_topologies import RedisServer, redis_cli
from _uvicorn import uvicorn_processes
from conftest import delete_prefix, topology_url

pytestmark = [pytest.mark.redis, pytest.mark.server]

APPS = Path(__file__).parent / "apps"
LIMIT = 150
WORKERS = 12


async def _load(
    servers: list[str], run: str, kill: Callable[[], RedisServer], restore: Callable[[RedisServer], None]
) -> tuple[list[tuple[float, int]], float]:
    """Requests from WORKERS loops until the limit is reached after the failover; the master dies once
    30 requests are admitted. Returns every (time, status) and the time of the kill."""
    seen: list[tuple[float, int]] = []
    killed_at = 0.0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=WORKERS * 2, max_keepalive_connections=WORKERS * 2)

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        i = n
        while not stop.is_set():
            i += WORKERS
            try:
                response = await client.get(f"{servers[i % 4]}/failover", params={"run": run})
                status = response.status_code
            except httpx.HTTPError:
                status = -1
            seen.append((time.monotonic(), status))
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as client:
        tasks = [asyncio.ensure_future(worker(n, client)) for n in range(WORKERS)]
        victim: RedisServer | None = None
        try:
            async with asyncio.timeout(120):
                while sum(1 for _, s in seen if s == 200) < 30:  # noqa: ASYNC110 - polling the record
                    await asyncio.sleep(0.01)
                victim = await asyncio.to_thread(kill)
                killed_at = time.monotonic()
                # until it serves again and then has spent the whole limit: 20 refusals after a success
                while True:
                    await asyncio.sleep(0.05)
                    after = [s for t, s in seen if t > killed_at]
                    if 200 in after and after[after.index(200) :].count(429) >= 20:
                        break
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if victim is not None:
                await asyncio.to_thread(restore, victim)
    return seen, killed_at


def _kill_cluster_master(cluster: Any, run: str) -> Callable[[], RedisServer]:
    def kill() -> RedisServer:
        master: RedisServer = cluster.master_of(f"{{run:{run}}}")
        master.kill()
        return master

    return kill


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
async def test_killing_the_master_under_load_never_over_admits_and_recovers(
    request: pytest.FixtureRequest, topology: str, key_prefix: str
) -> None:
    url = topology_url(request, topology)
    run = uuid.uuid4().hex[:8]
    if topology == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        kill = _kill_cluster_master(cluster, run)

        def restore(node: RedisServer) -> None:
            node.start()  # its nodes.conf makes it rejoin, as a replica of the promoted one
            cluster.wait_healthy()

    else:
        sentinels = request.getfixturevalue("redis_sentinel")

        def kill() -> RedisServer:
            master: RedisServer = sentinels.current_master()
            master.kill()
            return master

        def restore(node: RedisServer) -> None:
            node.start()  # back as a master with stale data: the sentinels turn it into a replica
            sentinels.wait_healthy()

    env = {
        **os.environ,
        "CG_RL_REDIS_URL": url,
        "CG_RL_PREFIX": key_prefix,
        "CG_RL_FAILOVER_LIMIT": f"{LIMIT}/minute",
    }
    try:
        with uvicorn_processes(
            "ratelimit_app:create_app", app_dir=APPS, env=env, count=4, args=["--factory", "--no-access-log"]
        ) as servers:
            seen, killed_at = await _load(servers, run, kill, restore)
    finally:
        from claude_guard.store import StoreConfig, store_from_url

        store = store_from_url(url, config=StoreConfig(prefix=key_prefix))
        await delete_prefix(store, key_prefix)
        await store.aclose()
    statuses = [s for _, s in seen]
    admitted = statuses.count(200)
    unavailable = statuses.count(503)
    after = [s for t, s in seen if t > killed_at]
    first_503 = next((t for t, s in seen if t > killed_at and s == 503), killed_at)
    recovered = next((t for t, s in seen if t > first_503 and s == 200), first_503) - killed_at
    print(
        f"{topology}: {len(statuses)} requests, {admitted} admitted, {unavailable} answered 503, "
        f"serving again {recovered:.1f} s after the kill"
    )
    # only verdicts: admitted, refused by the limit, or unavailable while the store failed over
    assert set(statuses) <= {200, 429, 503}, set(statuses)
    # never over-admitted across the failover; at most the 503s' writes were spent without admitting
    assert admitted <= LIMIT
    assert admitted >= LIMIT - unavailable
    # the outage was seen and failed closed, then the same processes served again and counted on
    assert unavailable > 0
    assert 200 in after[after.index(503) :]


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
async def test_a_write_no_replica_acknowledged_does_not_admit(
    request: pytest.FixtureRequest, topology: str, key_prefix: str
) -> None:
    # What makes the test above hold by design rather than by luck: replication is asynchronous, so an
    # admission counts only once a replica holds it (WAIT in the same round trip). A stopped replica
    # acknowledges nothing: the admission fails closed, and succeeds again once the replica resumes.
    from claude_guard.errors import StoreUnavailableError
    from claude_guard.ratelimit import RateLimiter
    from claude_guard.ratelimit._engine import LimitCheck
    from claude_guard.store import StoreConfig, store_from_url

    url = topology_url(request, topology)
    if topology == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        replicas = [n for n in cluster.nodes if "role:slave" in redis_cli(n.port, "info", "replication")]
    else:
        sentinels = request.getfixturevalue("redis_sentinel")
        master = sentinels.current_master()
        replicas = [s for s in sentinels.servers if s is not master]
    sep = "&" if "?" in url else "?"
    store = store_from_url(url + f"{sep}wait_timeout=0.2", config=StoreConfig(prefix=key_prefix))
    limiter = RateLimiter(store)
    check = LimitCheck(
        key=store.key("ack", tag="w"), amount=10, window=60, strategy="moving_window", policy="w"
    )
    try:
        assert (await limiter.admit([check])).allowed
        for replica in replicas:
            assert replica.proc is not None
            replica.proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailableError) as info:
                await limiter.admit([check])
            assert "acknowledged" in str(info.value.__cause__)
        finally:
            for replica in replicas:
                assert replica.proc is not None
                replica.proc.send_signal(signal.SIGCONT)
        admitted = await limiter.admit([check])
        assert admitted.allowed
        # the refused one had been written on the master and stays counted: quota is lost, never doubled
        assert admitted.limits[0].remaining == 10 - 3
    finally:
        await delete_prefix(store, key_prefix)
        await store.aclose()
