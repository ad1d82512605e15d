"""No overspend across processes: four gateways share one Redis ledger under 200 concurrent requests."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from _uvicorn import uvicorn_processes
from claude_guard.ledger import Ledger
from claude_guard.messages import Usage
from claude_guard.messages._sse import SSEParser, StreamUsage
from claude_guard.pricing import PriceTable
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.testing import FakeClaude, Reply, UsageOverride, serve
from conftest import TOPOLOGIES, delete_prefix, topology_url

pytestmark = [pytest.mark.redis, pytest.mark.server]

ROOT = Path(__file__).resolve().parent.parent
PRICES = PriceTable.load(environ={})
MODEL = "claude-haiku-4-5"
PROCESSES = 4
REQUESTS = 200
DAILY_USD = Decimal("0.02")
MAX_TOKENS = 1_000


@pytest.fixture
def upstream() -> Iterator[tuple[FakeClaude, str]]:
    fake = FakeClaude()
    rng = random.Random(5)
    for _ in range(REQUESTS):
        fake.enqueue(
            Reply(
                "answer " * rng.randint(1, 20),
                usage=UsageOverride(
                    input_tokens=rng.randint(5, 60),
                    output_tokens=rng.randint(20, 400),
                    cache_read_input_tokens=rng.choice([0, 0, 40]),
                    ephemeral_5m_input_tokens=rng.choice([0, 0, 10]),
                    ephemeral_1h_input_tokens=rng.choice([0, 5]),
                ),
            )
        )
    with serve(fake) as server:
        yield fake, server.url


@pytest.fixture(params=TOPOLOGIES)
def store_url(request: pytest.FixtureRequest) -> str:
    """The shared Redis, a Redis Cluster, a Sentinel set: the same guarantee on each."""
    return topology_url(request, request.param)


@pytest.fixture
def gateways(upstream: tuple[FakeClaude, str], store_url: str, key_prefix: str) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "CG_LEDGER_UPSTREAM": upstream[1],
        "CG_LEDGER_STORAGE": store_url,
        "CG_LEDGER_PREFIX": key_prefix,
        "CG_LEDGER_DAILY_USD": str(DAILY_USD),
        "CG_LEDGER_MAX_COST": "1",
    }
    with uvicorn_processes(
        "ledger_gateway:create_app",
        app_dir=ROOT / "tests" / "apps",
        env=env,
        count=PROCESSES,
        args=["--factory", "--no-access-log"],
    ) as urls:
        yield urls


async def _one(client: httpx.AsyncClient, url: str, n: int) -> tuple[int, Decimal]:
    # Arrivals spread over about a second, so settlements free budget for later requests while others
    # are in flight: admissions race refunds, not just each other.
    await asyncio.sleep(random.Random(n).uniform(0, 1.0))
    stream = n % 3 == 0
    body = {
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "stream": stream,
        "messages": [{"role": "user", "content": f"request number {n}: say something"}],
    }
    headers = {"x-test-key": "shared-key"}
    if not stream:
        response = await client.post(f"{url}/v1/messages", json=body, headers=headers)
        if response.status_code != 200:
            return response.status_code, Decimal(0)
        cost = PRICES.cost(MODEL, Usage.from_dict(response.json()["usage"])).total
        assert Decimal(response.headers["claude-guard-cost-usd"]) == cost
        return 200, cost
    async with client.stream("POST", f"{url}/v1/messages", json=body, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    if response.status_code != 200:
        return response.status_code, Decimal(0)
    parser, tracker = SSEParser(), StreamUsage()
    for event in parser.feed(raw) + parser.close():
        tracker.observe(event)
    assert tracker.finished
    return 200, PRICES.cost(MODEL, tracker.usage).total


async def test_four_processes_never_overspend_a_shared_budget(
    gateways: list[str], store_url: str, key_prefix: str
) -> None:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(*(_one(client, gateways[n % PROCESSES], n) for n in range(REQUESTS)))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 402}, statuses
    admitted = [cost for status, cost in results if status == 200]
    assert 5 <= len(admitted) < REQUESTS
    # the worst case (about $0.0051) fits the budget only a few times over
    store = store_from_url(store_url, config=StoreConfig(prefix=key_prefix))
    ledger = Ledger(store)
    try:
        usage = await ledger.usage("key:shared-key")
        # every admitted request settled exactly once, with exactly its reported usage
        settled = usage.used["usd_day"]
        print(f"admitted {len(admitted)}, refused {REQUESTS - len(admitted)}, settled ${settled}")
        assert usage.used["usd_day"] == sum(admitted)
        assert usage.used["usd_day"] <= DAILY_USD
        assert await ledger.outstanding() == 0
    finally:
        await delete_prefix(store, key_prefix)
        await store.aclose()
