"""CostMeterMiddleware in front of the gateway proxy and FakeClaude: maximum cost, budgets, exact metering."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from apps.ledger_gateway import create_app
from claude_guard.ledger import Ledger
from claude_guard.messages import Usage
from claude_guard.messages._sse import SSEParser, StreamUsage
from claude_guard.pricing import PriceTable
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.testing import (
    ErrorResponse,
    FakeClaude,
    Hold,
    Reply,
    StreamError,
    UsageOverride,
    count_input_tokens,
    serve,
)

PRICES = PriceTable.load(environ={})
MODEL = "claude-haiku-4-5"


def body(
    text: str = "Hello there", *, max_tokens: int = 256, stream: bool = False, **extra: Any
) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **extra,
    }


@pytest.fixture
def fake() -> Iterator[tuple[FakeClaude, str]]:
    fake = FakeClaude()
    with serve(fake) as server:
        yield fake, server.url


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, redis_url: str) -> str:
    return "memory://" if request.param == "memory" else redis_url


@pytest.fixture
async def gateway(
    fake: tuple[FakeClaude, str], storage: str, key_prefix: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Ledger, FakeClaude]]:
    env = {
        "CG_LEDGER_UPSTREAM": fake[1],
        "CG_LEDGER_STORAGE": storage,
        "CG_LEDGER_PREFIX": key_prefix,
        "CG_LEDGER_DAILY_USD": "0.05",
        "CG_LEDGER_MAX_COST": "0.02",
    }
    app = create_app(env)
    ledger: Ledger = app.app.app.app.state.ledger
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers={"x-test-key": "k1"}
    ) as c:
        yield c, ledger, fake[0]
    await app.app.app.app.state.upstream.aclose()
    if ledger.store.kind == "redis":
        client = ledger.store.client  # type: ignore[attr-defined]
        keys = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    await ledger.store.aclose()


def stream_usage(raw: bytes) -> tuple[Usage, str | None]:
    parser, tracker = SSEParser(), StreamUsage()
    for event in parser.feed(raw) + parser.close():
        tracker.observe(event)
    return tracker.usage, tracker.model


async def spent(ledger: Ledger, key: str = "k1") -> Decimal:
    value = (await ledger.usage(f"key:{key}")).used["usd_day"]
    assert isinstance(value, Decimal)
    return value


async def test_json_response_carries_its_exact_cost(gateway: Any) -> None:
    client, ledger, fake = gateway
    override = UsageOverride(
        input_tokens=120,
        output_tokens=40,
        cache_read_input_tokens=1000,
        ephemeral_5m_input_tokens=200,
        ephemeral_1h_input_tokens=300,
    )
    fake.enqueue(Reply("hi", usage=override))
    response = await client.post("/v1/messages", json=body())
    assert response.status_code == 200
    expected = PRICES.cost(MODEL, Usage.from_dict(response.json()["usage"])).total
    # 120*1 + 40*5 + 200*1.25 + 300*2 + 1000*0.1 = 1270 micro-dollars
    assert expected == Decimal("0.00127")
    assert Decimal(response.headers["claude-guard-cost-usd"]) == expected
    assert await spent(ledger) == expected
    assert await ledger.outstanding() == 0


async def test_stream_is_charged_its_final_cumulative_usage(gateway: Any) -> None:
    client, ledger, fake = gateway
    fake.enqueue(Reply("a streamed answer of some length", usage=UsageOverride(output_tokens=77)))
    async with client.stream("POST", "/v1/messages", json=body(stream=True)) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert "claude-guard-cost-usd" not in response.headers
    usage, _ = stream_usage(raw)
    assert usage.output_tokens == 77  # replaced by message_delta, not 1 + 77
    assert await spent(ledger) == PRICES.cost(MODEL, usage).total


async def test_worst_case_over_the_maximum_is_refused_before_sending(gateway: Any) -> None:
    client, ledger, fake = gateway
    # 5,000 output tokens at $5/MTok = $0.025 > the $0.02 maximum
    response = await client.post("/v1/messages", json=body(max_tokens=5_000))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "default maximum cost of $0.02" in error["message"]
    assert "by $0.005" in error["message"]
    assert fake.messages_requests == []
    assert await spent(ledger) == 0


async def test_unknown_model_is_refused_not_free(gateway: Any) -> None:
    client, _, fake = gateway
    response = await client.post("/v1/messages", json={**body(), "model": "claude-unknown-1"})
    assert response.status_code == 400
    assert fake.messages_requests == []


async def test_spent_budget_is_402_never_retried(gateway: Any) -> None:
    client, ledger, fake = gateway
    fake.always(Reply("x", usage=UsageOverride(input_tokens=1_000, output_tokens=3_000)))  # $0.016 each
    statuses = []
    for _ in range(5):
        response = await client.post("/v1/messages", json=body(max_tokens=3_000))
        statuses.append(response.status_code)
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [402, 402]
    assert response.json()["error"]["type"] == "billing_error"
    assert response.headers["x-should-retry"] == "false"
    assert await spent(ledger) == Decimal("0.048")
    # another key has its own budget
    other = await client.post("/v1/messages", json=body(), headers={"x-test-key": "k2"})
    assert other.status_code == 200


async def test_upstream_error_refunds_the_reservation(gateway: Any) -> None:
    client, ledger, fake = gateway
    fake.enqueue(ErrorResponse(529))
    response = await client.post("/v1/messages", json=body())
    assert response.status_code == 529
    assert await spent(ledger) == 0
    assert await ledger.outstanding() == 0


async def test_error_event_mid_stream_charges_what_was_reported(gateway: Any) -> None:
    client, ledger, fake = gateway
    fake.enqueue(StreamError(after_deltas=1, reply=Reply("abcdefghijklmnopqrstuvwxyz")))
    request = body("count me", stream=True)
    async with client.stream("POST", "/v1/messages", json=request) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    usage, _ = stream_usage(raw)
    assert usage.input_tokens == count_input_tokens(request) and usage.output_tokens == 1
    assert await spent(ledger) == PRICES.cost(MODEL, usage).total
    assert await ledger.outstanding() == 0


async def test_concurrent_requests_each_get_their_own_cost(gateway: Any) -> None:
    client, ledger, fake = gateway
    for n in range(20):
        fake.enqueue(Reply("x", usage=UsageOverride(input_tokens=10 + n, output_tokens=10 + n)))
    responses = await asyncio.gather(*(client.post("/v1/messages", json=body()) for _ in range(20)))
    costs = []
    for response in responses:
        assert response.status_code == 200
        own = PRICES.cost(MODEL, Usage.from_dict(response.json()["usage"])).total
        assert Decimal(response.headers["claude-guard-cost-usd"]) == own
        costs.append(own)
    assert await spent(ledger) == sum(costs)
    assert await ledger.outstanding() == 0


@pytest.mark.server
async def test_client_disconnect_mid_stream_is_charged_what_was_produced(
    fake: tuple[FakeClaude, str], storage: str, key_prefix: str
) -> None:
    fake_claude, upstream = fake
    release = threading.Event()  # never set: the upstream holds after two deltas until the client leaves
    fake_claude.enqueue(Hold(release, after_deltas=2, timeout=20, reply=Reply("x" * 400)))
    env = {"CG_LEDGER_UPSTREAM": upstream, "CG_LEDGER_STORAGE": storage, "CG_LEDGER_PREFIX": key_prefix}
    app = create_app(env)
    served: Ledger = app.app.app.app.state.ledger
    # The served app's Redis connections belong to the server thread's loop: read through our own.
    ledger = (
        served
        if served.store.kind == "memory"
        else Ledger(store_from_url(storage, config=StoreConfig(prefix=key_prefix)))
    )
    request = body("tell me a long story", max_tokens=1_000, stream=True)
    try:
        with serve(app) as gateway:
            seen = b""
            async with (
                httpx.AsyncClient(base_url=gateway.url, timeout=10) as client,
                client.stream(
                    "POST", "/v1/messages", json=request, headers={"x-test-key": "gone"}
                ) as response,
            ):
                async for chunk in response.aiter_raw():
                    seen += chunk
                    if seen.count(b"content_block_delta") >= 2 * 2:  # event: line + data type, per delta
                        break
            # the client has gone; wait (bounded) for the gateway to settle
            for _ in range(500):
                if await ledger.outstanding() == 0 and await spent(ledger, "gone") > 0:
                    break
                await asyncio.sleep(0.01)
        usage, _ = stream_usage(seen)
        # what FakeClaude reported for what it produced before the cut: message_start's usage
        assert usage == Usage.from_dict(
            {
                "input_tokens": count_input_tokens(request),
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "service_tier": "standard",
            }
        )
        assert await spent(ledger, "gone") == PRICES.cost(MODEL, usage).total
        assert await ledger.outstanding() == 0
    finally:
        release.set()
        if ledger.store.kind == "redis":
            client_ = ledger.store.client  # type: ignore[attr-defined]
            keys = [k async for k in client_.scan_iter(match=f"{key_prefix}*", count=1000)]
            if keys:
                await client_.delete(*keys)
        await ledger.store.aclose()


def test_body_helper_is_valid_json() -> None:
    assert json.loads(json.dumps(body()))["model"] == MODEL
    assert uuid.uuid4()


# --- prices that follow the request ----------------------------------------------------------------------


async def test_an_unknown_speed_is_refused_before_anything_is_reserved(gateway: Any) -> None:
    client, ledger, fake = gateway
    for speed in ("turbo", ["fast"], 2):
        response = await client.post("/v1/messages", json=body(speed=speed))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "unknown_speed"
    assert fake.messages_requests == []
    assert await spent(ledger) == 0
    assert await ledger.outstanding() == 0


async def test_fast_mode_is_reserved_and_settled_at_its_multiplier(gateway: Any) -> None:
    client, ledger, fake = gateway
    # 600 output tokens: $0.003 standard fits the $0.02 maximum, $0.018 fast does too, 800 fast does not.
    over = await client.post("/v1/messages", json=body(max_tokens=800, speed="fast"))
    assert over.status_code == 400
    assert over.json()["error"]["code"] == "max_cost_default"
    assert fake.messages_requests == []
    fake.enqueue(Reply("quick", usage=UsageOverride(input_tokens=10, output_tokens=100)))
    response = await client.post(
        "/v1/messages",
        json=body(max_tokens=600, speed="fast"),
        headers={"anthropic-beta": "fast-mode-2026-02-01"},
    )
    assert response.status_code == 200
    assert response.json()["usage"]["speed"] == "fast"
    # (10 x $1 + 100 x $5) per MTok x 6
    assert Decimal(response.headers["claude-guard-cost-usd"]) == Decimal("0.00306")
    assert await spent(ledger) == Decimal("0.00306")


async def test_an_unpriced_beta_is_reserved_at_the_worst_case(gateway: Any) -> None:
    client, _, fake = gateway
    # 1,000 output tokens: $0.005 at standard rates, $0.033 at the worst case (x6 fast, x1.1 geography).
    priced = await client.post(
        "/v1/messages", json=body(max_tokens=1_000), headers={"anthropic-beta": "prompt-caching-2024-07-31"}
    )
    assert priced.status_code == 200
    unpriced = await client.post(
        "/v1/messages",
        json=body(max_tokens=1_000),
        headers={"anthropic-beta": "prompt-caching-2024-07-31, server-side-fallback-2026-07-01"},
    )
    assert unpriced.status_code == 400
    assert unpriced.json()["error"]["code"] == "max_cost_default"
    assert len(fake.messages_requests) == 1


async def test_server_tool_fees_count_toward_the_maximum(gateway: Any) -> None:
    client, _, fake = gateway
    # one search ($0.01) and the tokens fit the $0.02 maximum; two searches with the tokens do not
    one = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]
    assert (await client.post("/v1/messages", json=body(tools=one))).status_code == 200
    two = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]
    # an hour of code execution ($0.05) alone is over the maximum
    code = [{"type": "code_execution_20250825", "name": "code_execution"}]
    for tools in (two, code):
        response = await client.post("/v1/messages", json=body(tools=tools))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "max_cost_default"
    assert len(fake.messages_requests) == 1
