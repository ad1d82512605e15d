"""Fast mode cannot overspend: four gateways share one Redis ledger; fast requests are priced at their
multiplier on the way in (maximum cost per request, budget reservation) and on the way out (settlement)."""

from __future__ import annotations

import asyncio
import dataclasses
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
from claude_guard.pricing import Billing, PriceTable
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.testing import FakeClaude, Reply, UsageOverride, serve

pytestmark = [pytest.mark.redis, pytest.mark.server]

ROOT = Path(__file__).resolve().parent.parent
PRICES = PriceTable.load(environ={})
MODEL = "claude-opus-4-6"
FAST = Billing(speed="fast")
PROCESSES = 4
REQUESTS = 120
DAILY_USD = Decimal("0.60")
MAX_COST = Decimal("0.10")
# At standard rates both sizes fit MAX_COST (about $0.014 and $0.026); at fast rates only the smaller does
# (about $0.08 against $0.16), so a meter that priced fast mode at standard rates would admit the larger.
SMALL, LARGE = 500, 1_000


@pytest.fixture
def upstream() -> Iterator[tuple[FakeClaude, str]]:
    fake = FakeClaude()
    rng = random.Random(11)
    for _ in range(REQUESTS):
        fake.enqueue(
            Reply(
                "answer " * rng.randint(1, 20),
                usage=UsageOverride(
                    input_tokens=rng.randint(5, 60),
                    output_tokens=rng.randint(20, SMALL),
                    cache_read_input_tokens=rng.choice([0, 0, 40]),
                    ephemeral_1h_input_tokens=rng.choice([0, 5]),
                    # Most answers report fast mode; some fell back to standard speed (billed standard).
                    speed=rng.choice([None, None, None, "standard"]),
                ),
            )
        )
    with serve(fake) as server:
        yield fake, server.url


@pytest.fixture
def gateways(upstream: tuple[FakeClaude, str], redis_url: str, key_prefix: str) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "CG_LEDGER_UPSTREAM": upstream[1],
        "CG_LEDGER_STORAGE": redis_url,
        "CG_LEDGER_PREFIX": key_prefix,
        "CG_LEDGER_DAILY_USD": str(DAILY_USD),
        "CG_LEDGER_MAX_COST": str(MAX_COST),
    }
    with uvicorn_processes(
        "ledger_gateway:create_app",
        app_dir=ROOT / "tests" / "apps",
        env=env,
        count=PROCESSES,
        args=["--factory", "--no-access-log"],
    ) as urls:
        yield urls


async def _one(client: httpx.AsyncClient, url: str, n: int) -> tuple[int, int, str | None, Decimal]:
    await asyncio.sleep(random.Random(n).uniform(0, 1.0))
    max_tokens = LARGE if n % 4 == 0 else SMALL
    stream = n % 4 == 1
    body = {
        "model": MODEL,
        "max_tokens": max_tokens,
        "speed": "fast",
        "stream": stream,
        "messages": [{"role": "user", "content": f"request number {n}: refactor this module"}],
    }
    headers = {"x-test-key": "fast-key", "anthropic-beta": "fast-mode-2026-02-01"}
    if not stream:
        response = await client.post(f"{url}/v1/messages", json=body, headers=headers)
        if response.status_code != 200:
            return response.status_code, max_tokens, response.json()["error"].get("code"), Decimal(0)
        usage = Usage.from_dict(response.json()["usage"])
        cost = _fast_cost(usage)
        assert Decimal(response.headers["claude-guard-cost-usd"]) == cost
        return 200, max_tokens, None, cost
    async with client.stream("POST", f"{url}/v1/messages", json=body, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    if response.status_code != 200:
        return response.status_code, max_tokens, None, Decimal(0)
    parser, tracker = SSEParser(), StreamUsage()
    for event in parser.feed(raw) + parser.close():
        tracker.observe(event)
    assert tracker.finished
    return 200, max_tokens, None, _fast_cost(tracker.usage)


def _fast_cost(usage: Usage) -> Decimal:
    """What a fast request's answer costs: x6 when it reports fast mode, standard when it fell back."""
    assert usage.speed in ("fast", "standard")
    cost = PRICES.cost(MODEL, usage, billing=FAST).total
    standard = PRICES.cost(MODEL, dataclasses.replace(usage, speed="standard")).total
    assert cost == (6 * standard if usage.speed == "fast" else standard)
    return cost


async def test_fast_mode_cannot_push_requests_over_max_cost_or_a_shared_budget(
    gateways: list[str], upstream: tuple[FakeClaude, str], redis_url: str, key_prefix: str
) -> None:
    fake = upstream[0]
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(*(_one(client, gateways[n % PROCESSES], n) for n in range(REQUESTS)))
    # Every large fast request is over the maximum cost (400), and none of them reached the upstream.
    large = [(status, code) for status, size, code, _ in results if size == LARGE]
    assert large and all(status == 400 and code == "max_cost_default" for status, code in large), large
    assert all(request.json["max_tokens"] == SMALL for request in fake.messages_requests)
    assert all(request.json["speed"] == "fast" for request in fake.messages_requests)
    small = [status for status, size, _, _ in results if size == SMALL]
    assert set(small) <= {200, 402}, small
    admitted = [cost for status, _, _, cost in results if status == 200]
    assert 5 <= len(admitted) < len(small)
    # The ledger charged exactly what the answers cost at the speed they report, within the budget.
    store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
    ledger = Ledger(store)
    try:
        usage = await ledger.usage("key:fast-key")
        settled = usage.used["usd_day"]
        print(f"admitted {len(admitted)}, refused {REQUESTS - len(admitted)}, settled ${settled}")
        assert settled == sum(admitted)
        assert settled <= DAILY_USD
        assert await ledger.outstanding() == 0
    finally:
        client_ = store.client  # type: ignore[attr-defined]
        keys = [k async for k in client_.scan_iter(match=f"{key_prefix}*", count=1000)]
        if keys:
            await client_.delete(*keys)
        await store.aclose()


# Text hidden under an object typed "image" inside tool input still becomes input tokens: about 200 KB of it
# is far over MAX_COST at any rate, while the same request without it is well under.
HIDDEN = "lorem ipsum " * 17_000


async def _hidden(client: httpx.AsyncClient, url: str, n: int) -> tuple[bool, int, str | None]:
    await asyncio.sleep(random.Random(n).uniform(0, 0.5))
    hide = n % 2 == 0
    tool_input = {"type": "image", "caption": HIDDEN if hide else "a chart"}
    call = {"type": "tool_use", "id": f"toolu_{n}", "name": "show", "input": tool_input}
    result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": "shown"}
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": f"request {n}: describe the chart"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ],
    }
    response = await client.post(f"{url}/v1/messages", json=body, headers={"x-test-key": "hidden-key"})
    code = response.json()["error"].get("code") if response.status_code != 200 else None
    return hide, response.status_code, code


async def test_text_hidden_under_image_typed_objects_cannot_pass_max_cost(
    gateways: list[str], upstream: tuple[FakeClaude, str], redis_url: str, key_prefix: str
) -> None:
    fake = upstream[0]
    async with httpx.AsyncClient(timeout=60) as client:
        results = await asyncio.gather(*(_hidden(client, gateways[n % PROCESSES], n) for n in range(24)))
    hidden = [(status, code) for hide, status, code in results if hide]
    shown = [status for hide, status, _ in results if not hide]
    assert hidden and all(status == 400 and code == "max_cost_default" for status, code in hidden), hidden
    assert shown and all(status == 200 for status in shown), shown
    assert len(fake.messages_requests) == len(shown)
    assert all(b"lorem ipsum" not in request.body for request in fake.messages_requests)
    store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
    try:
        assert await Ledger(store).outstanding() == 0
    finally:
        client_ = store.client  # type: ignore[attr-defined]
        keys = [k async for k in client_.scan_iter(match=f"{key_prefix}*", count=1000)]
        if keys:
            await client_.delete(*keys)
        await store.aclose()
