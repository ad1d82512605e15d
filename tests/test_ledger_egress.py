"""The SDK path: an app route's own calls to Claude, metered on egress and charged to the caller's key."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from fastapi import Depends, FastAPI

from apps.ledger_gateway import HeaderKeyMiddleware
from claude_guard.context import current_context
from claude_guard.egress import GuardAnthropicMiddleware
from claude_guard.fastapi import max_cost
from claude_guard.ledger import (
    CostMeter,
    CostMeterMiddleware,
    Ledger,
    MeteringHook,
    SyncMeteringMiddleware,
)
from claude_guard.messages import Usage
from claude_guard.pricing import PriceTable
from claude_guard.profiles import Budgets, Profile
from claude_guard.store import Store
from claude_guard.testing import DropConnection, FakeClaude, Hold, Reply, UsageOverride, serve

PRICES = PriceTable.load(environ={})
MODEL = "claude-haiku-4-5"


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeClaude, str]]:
    fake = FakeClaude()
    with serve(fake) as server:
        yield fake, server.url


def build(
    store: Store, fake: FakeClaude, fake_url: str, *, daily: str | None = None, over_http: bool = False
) -> tuple[Any, Ledger]:
    ledger = Ledger(store)
    meter = CostMeter(ledger=ledger, prices=PRICES, max_cost=Decimal("0.5"))
    transport = None if over_http else httpx2.ASGITransport(app=fake)
    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-fake",
        base_url=fake_url if over_http else "http://fake",
        http_client=httpx2.AsyncClient(transport=transport),
        middleware=[GuardAnthropicMiddleware([MeteringHook(meter)])],
        max_retries=0,
    )
    sync_client = anthropic.Anthropic(
        api_key="sk-ant-fake", base_url=fake_url, middleware=[SyncMeteringMiddleware(meter)], max_retries=0
    )
    app = FastAPI()

    @app.post("/analyze", dependencies=[Depends(max_cost(5.0))])
    async def analyze() -> dict[str, Any]:
        first = await client.messages.create(
            model=MODEL, max_tokens=512, messages=[{"role": "user", "content": "first question"}]
        )
        streamed: list[str] = []
        stream = await client.messages.create(
            model=MODEL, max_tokens=512, stream=True, messages=[{"role": "user", "content": "second"}]
        )
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                streamed.append(event.delta.text)
        ctx = current_context()
        assert ctx is not None
        return {
            "first": first.usage.model_dump(),
            "text": "".join(streamed),
            "cost_usd": str(ctx.cost_usd),
        }

    @app.post("/cheap", dependencies=[Depends(max_cost(0.001))])
    async def cheap() -> dict[str, Any]:
        await client.messages.create(
            model=MODEL, max_tokens=4_000, messages=[{"role": "user", "content": "too dear"}]
        )
        return {}

    @app.post("/dropped")
    async def dropped() -> dict[str, Any]:
        try:
            await client.messages.create(
                model=MODEL, max_tokens=512, messages=[{"role": "user", "content": "connection drops"}]
            )
        except anthropic.APIConnectionError:
            return {"dropped": True}
        return {"dropped": False}

    @app.post("/abandon")
    async def abandon() -> dict[str, Any]:
        stream = await client.messages.create(
            model=MODEL, max_tokens=512, stream=True, messages=[{"role": "user", "content": "left open"}]
        )
        async for _event in stream:
            break  # read message_start, then leave the stream open
        app.state.abandoned = stream
        return {}

    @app.post("/sync")
    def sync_route() -> dict[str, Any]:
        message = sync_client.messages.create(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "from a thread"}]
        )
        with sync_client.messages.stream(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "streamed from a thread"}]
        ) as stream:
            final = stream.get_final_message()
        return {"usages": [message.usage.model_dump(), final.usage.model_dump()]}

    profile = Profile(name="tenant", budgets=Budgets(usd_per_day=Decimal(daily) if daily else None))
    # Inside the framework's error boundary, as ClaudeGuard.install puts them (outermost added last).
    app.add_middleware(CostMeterMiddleware, meter=meter)
    app.add_middleware(HeaderKeyMiddleware, profile=profile)
    return app, ledger


@pytest.fixture
async def http() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(app: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://app", headers={"x-test-key": "caller"}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_two_calls_one_streamed_are_both_charged_to_the_caller(
    store: Store, served_fake: tuple[FakeClaude, str], http: Any
) -> None:
    fake, url = served_fake
    fake.enqueue(
        Reply("one", usage=UsageOverride(input_tokens=30, output_tokens=11, cache_read_input_tokens=100)),
        Reply("a streamed two", usage=UsageOverride(input_tokens=12, output_tokens=345)),
    )
    app, ledger = build(store, fake, url)
    response = await http(app).post("/analyze")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["text"] == "a streamed two"
    first = PRICES.cost(MODEL, Usage.from_dict(data["first"])).total
    second = PRICES.cost(MODEL, Usage(input_tokens=12, output_tokens=345, service_tier="standard")).total
    assert Decimal(data["cost_usd"]) == first + second
    assert (await ledger.usage("key:caller")).used["usd_day"] == first + second
    assert (await ledger.usage("key:caller")).used["out_min"] == 11 + 345
    assert await ledger.outstanding() == 0


async def test_route_maximum_refuses_a_call_before_it_is_sent(
    store: Store, served_fake: tuple[FakeClaude, str], http: Any
) -> None:
    fake, url = served_fake
    app, ledger = build(store, fake, url)
    response = await http(app).post("/cheap")
    assert response.status_code == 400
    assert "route maximum cost of $0.001" in response.json()["error"]["message"]
    assert fake.messages_requests == []
    assert await ledger.outstanding() == 0


async def test_egress_budget_is_402(store: Store, served_fake: tuple[FakeClaude, str], http: Any) -> None:
    fake, url = served_fake
    app, _ = build(store, fake, url, daily="0.001")  # less than one worst case of /analyze
    response = await http(app).post("/analyze")
    assert response.status_code == 402
    assert response.headers["x-should-retry"] == "false"
    assert fake.messages_requests == []


@pytest.mark.server
async def test_sync_client_in_a_worker_thread_is_metered(
    store: Store, served_fake: tuple[FakeClaude, str], http: Any
) -> None:
    fake, url = served_fake
    fake.enqueue(
        Reply("sync one", usage=UsageOverride(input_tokens=7, output_tokens=9)),
        Reply("sync two", usage=UsageOverride(input_tokens=8, output_tokens=21)),
    )
    app, ledger = build(store, fake, url)
    response = await http(app).post("/sync")
    assert response.status_code == 200, response.text
    expected = sum(PRICES.cost(MODEL, Usage.from_dict(u)).total for u in response.json()["usages"])
    assert (await ledger.usage("key:caller")).used["usd_day"] == expected
    assert await ledger.outstanding() == 0


async def test_a_stream_left_open_is_settled_at_the_end_of_the_request(
    store: Store, served_fake: tuple[FakeClaude, str], http: Any
) -> None:
    fake, url = served_fake
    release = threading.Event()
    reply = Reply("a long answer " * 20, usage=UsageOverride(input_tokens=40, output_tokens=300))
    fake.enqueue(Hold(release, after_deltas=1, timeout=20, reply=reply))
    app, ledger = build(store, fake, url, over_http=True)
    try:
        response = await http(app).post("/abandon")
        assert response.status_code == 200
        # what was reported before the app stopped reading: message_start (40 in, 1 out)
        expected = PRICES.cost(MODEL, Usage(input_tokens=40, output_tokens=1, service_tier="standard")).total
        assert (await ledger.usage("key:caller")).used["usd_day"] == expected
        assert await ledger.outstanding() == 0
    finally:
        release.set()
    await app.state.abandoned.response.aclose()
    assert (await ledger.usage("key:caller")).used["usd_day"] == expected  # settled once only


async def test_a_failed_attempt_releases_its_reservation(
    store: Store, served_fake: tuple[FakeClaude, str], http: Any
) -> None:
    fake, url = served_fake
    fake.enqueue(DropConnection())
    app, ledger = build(store, fake, url)
    response = await http(app).post("/dropped")
    assert response.json() == {"dropped": True}
    assert (await ledger.usage("key:caller")).used["usd_day"] == 0
    assert await ledger.outstanding() == 0
