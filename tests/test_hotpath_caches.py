"""The memos on the metered request path (ledger, pricing, client keys, allow-lists, rate-limit plans) never
serve a stale or another tenant's answer: each is crossed over its invalidating event (a period boundary on
a fake clock, a key revoked, rotated or moved, a profile replaced) and must give what a fresh computation
gives. No timing is measured here; docs/benchmarks.md and bench/callgrind_layers.py count the CPU."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from claude_guard.errors import AuthenticationError, BudgetExceededError, RateLimitedError, UnknownModelError
from claude_guard.keys import APIKeyMiddleware
from claude_guard.keys import _keys as keys_module
from claude_guard.keys._authenticator import KeyAuthenticator
from claude_guard.keys._store import KeyStore
from claude_guard.ledger import CostMeter, Ledger
from claude_guard.ledger._estimate import estimate_request
from claude_guard.ledger._ledger import BudgetScope
from claude_guard.ledger._memory import period
from claude_guard.ledger._meter import Metered
from claude_guard.messages import Usage
from claude_guard.pricing import PriceTable
from claude_guard.profiles import Budgets, Profile
from claude_guard.ratelimit import RateLimiter, RateLimitMiddleware
from claude_guard.ratelimit._policy import RateLimitState
from claude_guard.store import MemoryStore, Store

MINUTE_END = 1_800_000_000.0 - 1_800_000_000.0 % 60 + 60  # a minute boundary
DAY_END = 1_800_000_000.0 - 1_800_000_000.0 % 86400 + 86400  # a day (and minute) boundary


def tokens(limit: int) -> BudgetScope:
    return BudgetScope(name="key:k1", budgets=Budgets(input_tokens_per_minute=limit))


# ---- ledger: counter keys and period ids per minute ----


async def test_a_tokens_per_minute_budget_refills_across_the_minute_boundary(store: Store) -> None:
    ledger = Ledger(store)
    await ledger.reserve(
        [tokens(100)], usd=Decimal(0), input_tokens=100, output_tokens=0, now=MINUTE_END - 0.5
    )
    with pytest.raises(RateLimitedError):
        await ledger.reserve(
            [tokens(100)], usd=Decimal(0), input_tokens=1, output_tokens=0, now=MINUTE_END - 0.1
        )
    # The next minute is a new period: the memoised keys of the last minute must not be reused.
    await ledger.reserve(
        [tokens(100)], usd=Decimal(0), input_tokens=100, output_tokens=0, now=MINUTE_END + 0.1
    )
    assert (await ledger.usage("key:k1", now=MINUTE_END + 0.2)).used["in_min"] == 100
    assert (await ledger.usage("key:k1", now=MINUTE_END - 0.2)).used["in_min"] == 100


async def test_a_daily_budget_refills_across_midnight_and_the_month_keeps_counting() -> None:
    ledger = Ledger(MemoryStore())
    scope = BudgetScope(name="key:k1", budgets=Budgets(usd_per_day=Decimal(1), usd_per_month=Decimal(10)))
    await ledger.reserve([scope], usd=Decimal(1), input_tokens=0, output_tokens=0, now=DAY_END - 1)
    with pytest.raises(BudgetExceededError):
        await ledger.reserve([scope], usd=Decimal("0.5"), input_tokens=0, output_tokens=0, now=DAY_END - 0.5)
    await ledger.reserve([scope], usd=Decimal(1), input_tokens=0, output_tokens=0, now=DAY_END + 0.5)
    usage = await ledger.usage("key:k1", now=DAY_END + 1)
    assert usage.used["usd_day"] == Decimal(1)
    same_month = period("usd_month", DAY_END - 1)[0] == period("usd_month", DAY_END + 1)[0]
    assert usage.used["usd_month"] == (Decimal(2) if same_month else Decimal(1))


async def test_the_counter_keys_are_the_period_ids_of_each_scope() -> None:
    store = MemoryStore()
    ledger = Ledger(store)
    for t, name in ((MINUTE_END - 1, "key:a"), (MINUTE_END - 1, "key:b"), (DAY_END + 61, "key:a")):
        scope = BudgetScope(name=name)
        reservation = await ledger.reserve([scope], usd=Decimal(0), input_tokens=7, output_tokens=3, now=t)
        record = store.data["ledger"].records[reservation.id]
        base = ledger._keys.base(name)
        assert [e.key for e in record.entries] == [
            f"{base}:{dim}:{period(dim, t)[0]}" for dim in ("usd_day", "usd_month", "in_min", "out_min")
        ]


async def test_one_scopes_full_budget_does_not_refuse_another_scope() -> None:
    ledger = Ledger(MemoryStore())
    full = BudgetScope(name="key:a", budgets=Budgets(input_tokens_per_minute=10))
    other = BudgetScope(name="key:b", budgets=Budgets(input_tokens_per_minute=10))
    await ledger.reserve([full], usd=Decimal(0), input_tokens=10, output_tokens=0, now=MINUTE_END - 5)
    await ledger.reserve([other], usd=Decimal(0), input_tokens=10, output_tokens=0, now=MINUTE_END - 5)
    with pytest.raises(RateLimitedError):
        await ledger.reserve([full], usd=Decimal(0), input_tokens=1, output_tokens=0, now=MINUTE_END - 4)


async def test_changed_budgets_of_a_scope_apply_at_once() -> None:
    ledger = Ledger(MemoryStore())
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=50, output_tokens=0, now=MINUTE_END - 9)
    with pytest.raises(RateLimitedError):
        await ledger.reserve(
            [tokens(60)], usd=Decimal(0), input_tokens=20, output_tokens=0, now=MINUTE_END - 8
        )
    await ledger.set_budget("key:k1", Budgets(input_tokens_per_minute=1000))
    await ledger.reserve([tokens(60)], usd=Decimal(0), input_tokens=20, output_tokens=0, now=MINUTE_END - 7)


# ---- ledger: the expired-reservation sweep ----


async def test_an_expired_reservation_is_released_after_the_earliest_was_settled() -> None:
    ledger = Ledger(MemoryStore(), reservation_ttl=10)
    first = await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=30, output_tokens=0, now=0.0)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=40, output_tokens=0, now=5.0)
    await ledger.settle(first, usd=Decimal(0), input_tokens=30, output_tokens=0, now=6.0)
    assert await ledger.outstanding() == 1
    # At 16 the second (never settled) has expired: its 40 tokens are released before this one counts.
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=60, output_tokens=0, now=16.0)
    assert (await ledger.usage("key:k1", now=16.5)).used["in_min"] == 30 + 60
    assert await ledger.outstanding() == 1


async def test_a_sweep_that_leaves_reservations_open_still_releases_them_later() -> None:
    ledger = Ledger(MemoryStore(), reservation_ttl=10)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=30, output_tokens=0, now=0.0)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=40, output_tokens=0, now=5.0)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=1, output_tokens=0, now=11.0)
    assert (await ledger.usage("key:k1", now=11.5)).used["in_min"] == 41  # the first released, not the second
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=2, output_tokens=0, now=16.0)
    assert (await ledger.usage("key:k1", now=16.5)).used["in_min"] == 3
    assert await ledger.outstanding() == 2


async def test_nothing_is_released_before_its_expiry() -> None:
    ledger = Ledger(MemoryStore(), reservation_ttl=10)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=30, output_tokens=0, now=0.0)
    await ledger.reserve([tokens(100)], usd=Decimal(0), input_tokens=5, output_tokens=0, now=9.9)
    assert (await ledger.usage("key:k1", now=9.95)).used["in_min"] == 35
    assert await ledger.outstanding() == 2


# ---- cost meter: settling inline on memory storage ----


def _meter(ledger: Ledger) -> CostMeter:
    return CostMeter(ledger=ledger, prices=PriceTable.load(environ={}))


async def _admitted(meter: CostMeter) -> Metered:
    body = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    estimate = estimate_request(body, b"x" * 100, meter.prices)
    scope = BudgetScope(name="key:k1", budgets=Budgets(usd_per_day=Decimal("0.001")))
    reservation = await meter.ledger.reserve(
        [scope], usd=estimate.worst_case_usd, input_tokens=estimate.input_tokens, output_tokens=10
    )
    return Metered(estimate=estimate, reservation=reservation)


async def test_memory_settles_inline_without_a_task_and_exactly_once() -> None:
    meter = _meter(Ledger(MemoryStore()))
    assert meter.ledger.settles_inline
    metered = await _admitted(meter)
    loop = asyncio.get_running_loop()
    made: list[Any] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        cost = await meter.settle_safely(None, metered, Usage(input_tokens=5, output_tokens=5))
        again = await meter.settle_safely(None, metered, Usage(input_tokens=50, output_tokens=50))
    finally:
        loop.set_task_factory(factory)
    assert [getattr(c, "__qualname__", c) for c in made] == []
    assert cost is not None and again is cost
    assert (await meter.ledger.usage("key:k1")).used["usd_day"] == cost.total
    assert await meter.ledger.outstanding() == 0


async def test_an_alert_callback_still_runs_through_settle_safely() -> None:
    alerts: list[Any] = []

    async def on_alert(alert: Any) -> None:
        await asyncio.sleep(0)
        alerts.append(alert)

    meter = _meter(Ledger(MemoryStore(), on_alert=on_alert, alert_threshold=Decimal("0.01")))
    assert not meter.ledger.settles_inline
    assert (
        meter.ledger.settle_nowait(
            (await _admitted(meter)).reservation, usd=Decimal(0), input_tokens=0, output_tokens=0
        )
        is None
    )
    metered = await _admitted(meter)
    await meter.settle_safely(None, metered, Usage(input_tokens=5, output_tokens=5))
    assert [a.scope for a in alerts] == ["key:k1"]


# ---- pricing: the row of a model ----


def test_a_remembered_price_row_follows_replaced_rows_fallback_and_strictness() -> None:
    table = PriceTable.load(environ={})
    haiku = table.price("claude-haiku-4-5")
    assert table.price("claude-haiku-4-5") is haiku
    with pytest.raises(UnknownModelError):
        table.price("claude-nonesuch-1")
    table.fallback = "claude-haiku-4-5"
    assert table.price("claude-nonesuch-1") is haiku  # a refusal was not remembered
    table.fallback = None
    with pytest.raises(UnknownModelError):
        table.price("claude-nonesuch-1")  # nor the fallback's answer once the fallback is gone
    dearer = dataclasses.replace(haiku, input=haiku.input * 2)
    table.rows = {**table.rows, haiku.model: dearer}
    assert table.price("claude-haiku-4-5") is dearer
    table.strict = True
    table.rows = {**table.rows, haiku.model: dataclasses.replace(dearer, confirmed=False)}
    with pytest.raises(UnknownModelError):
        table.price("claude-haiku-4-5")


def test_a_copied_table_does_not_share_remembered_rows() -> None:
    table = PriceTable.load(environ={})
    haiku = table.price("claude-haiku-4-5")
    other = dataclasses.replace(haiku, output=haiku.output * 3)
    copy = dataclasses.replace(table, rows={**table.rows, haiku.model: other})
    assert copy.price("claude-haiku-4-5") is other
    assert table.price("claude-haiku-4-5") is haiku


# ---- client keys: the per-record verification setup ----


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_800_000_000.0]
    monkeypatch.setattr(keys_module, "_now", lambda: now[0])
    return now


PROFILES = {"analysis": Profile(name="analysis"), "generation": Profile(name="generation")}


async def test_revocation_rotation_and_a_moved_key_take_effect_on_the_next_request(
    store: Store, clock: list[float]
) -> None:
    keys = KeyStore(store)
    auth = KeyAuthenticator(keys, environment="development", profiles=PROFILES)
    issued = await keys.create(profile="analysis", environment="development")
    assert (await auth.check(issued.key)).profile.name == "analysis"
    await keys.set_profile(issued.key_id, "generation")
    assert (await auth.check(issued.key)).profile.name == "generation"
    successor = await keys.rotate(issued.key_id, grace=60)
    assert (await auth.check(successor.key)).principal.key_id == successor.key_id
    clock[0] += 61
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.check(issued.key)
    await keys.revoke(successor.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.check(successor.key)


async def test_a_known_key_id_with_another_secret_is_refused_every_time(clock: list[float]) -> None:
    keys = KeyStore(MemoryStore())
    auth = KeyAuthenticator(keys, environment="development", profiles=PROFILES)
    issued = await keys.create(profile="analysis", environment="development")
    await auth.check(issued.key)
    forged = issued.key[:-4] + ("AAAA" if not issued.key.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="Invalid"):
            await auth.check(forged)
    assert (await auth.check(issued.key)).principal.key_id == issued.key_id


async def test_a_keys_file_revocation_by_another_process_is_seen_on_reload(
    tmp_path: Path, clock: list[float]
) -> None:
    path = tmp_path / "keys.json"
    server = KeyStore(MemoryStore(), keys_file=path, keys_recheck=0)
    cli = KeyStore(MemoryStore(), keys_file=path)
    auth = KeyAuthenticator(server, environment="development", profiles=PROFILES)
    issued = await cli.create(profile="analysis", environment="development")
    assert (await auth.check(issued.key)).principal.key_id == issued.key_id
    await cli.set_profile(issued.key_id, "generation")
    assert (await auth.check(issued.key)).profile.name == "generation"
    await cli.revoke(issued.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.check(issued.key)


async def test_a_replaced_profile_definition_is_used_at_once(clock: list[float]) -> None:
    keys = KeyStore(MemoryStore())
    auth = KeyAuthenticator(keys, environment="development", profiles=PROFILES)
    issued = await keys.create(profile="analysis", environment="development")
    assert (await auth.check(issued.key)).profile.max_tokens is None
    auth.profiles["analysis"] = Profile(name="analysis", max_tokens=99)
    assert (await auth.check(issued.key)).profile.max_tokens == 99


# ---- profiles: allow-list verdicts ----


def test_allow_list_verdicts_are_per_profile_object_never_shared() -> None:
    open_one = Profile(
        name="team", models=("claude-haiku-*",), betas=("pdfs-*",), server_tools=("web_search",)
    )
    closed = Profile(name="team", models=("claude-opus-*",), betas=(), server_tools=())
    for _ in range(2):
        assert open_one.allows_model("claude-haiku-4-5")
        assert not closed.allows_model("claude-haiku-4-5")
        assert open_one.allows_beta("pdfs-2024-09-25") and not closed.allows_beta("pdfs-2024-09-25")
        assert open_one.allows_server_tool("web_search_20250305")
        assert not closed.allows_server_tool("web_search_20250305")
    assert not open_one.allows_model("claude-opus-4-6") and closed.allows_model("claude-opus-4-6")
    narrowed = dataclasses.replace(open_one, models=("claude-sonnet-*",))
    assert not narrowed.allows_model("claude-haiku-4-5")


def test_allow_list_verdicts_stay_bounded() -> None:
    from claude_guard import profiles

    profile = Profile(name="team", models=("claude-haiku-*",))
    for i in range(profiles._MAX_VERDICTS + 10):
        profile.allows_model(f"claude-x-{i}")
    assert len(profiles._verdicts) <= profiles._MAX_VERDICTS


# ---- rate limits: the per-profile plan and upstream headers ----


async def test_a_replaced_profiles_rate_limits_apply_on_the_next_request(clock: list[float]) -> None:
    store = MemoryStore()
    keys = KeyStore(store)
    auth = KeyAuthenticator(
        keys, environment="development", profiles={"team": Profile(name="team", rate_limits="5/minute")}
    )
    issued = await keys.create(profile="team", environment="development")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guarded = APIKeyMiddleware(RateLimitMiddleware(app, limiter=RateLimiter(store)), authenticator=auth)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://gw") as client:
        first = await client.get("/v1/models", headers={"x-api-key": issued.key})
        assert first.headers["ratelimit-policy"] == '"profile-60s";q=5;w=60'
        auth.profiles["team"] = Profile(name="team", rate_limits="7/minute;100/day")
        second = await client.get("/v1/models", headers={"x-api-key": issued.key})
        assert second.headers["ratelimit-policy"] == '"profile-60s";q=7;w=60, "profile-86400s";q=100;w=86400'
        other = await keys.create(profile="team", environment="development")
        third = await client.get("/v1/models", headers={"x-api-key": other.key})
        assert third.headers["ratelimit"].startswith(
            '"profile-60s";r=6;'
        )  # its own counters, not the first key's


def test_upstream_rate_limits_are_read_from_their_sources_when_asked() -> None:
    state = RateLimitState()
    assert state.upstream_limits is None
    state.upstream_sources = (None, [(b"Anthropic-RateLimit-Requests-Remaining", b"5"), (b"other", b"x")])
    assert state.upstream_limits == {"anthropic-ratelimit-requests-remaining": "5"}
    state.upstream_sources = ({"anthropic-ratelimit-tokens-limit": "9"}, [])
    state._upstream_limits = None
    assert state.upstream_limits == {"anthropic-ratelimit-tokens-limit": "9"}
    state.upstream_limits = {"x": "1"}
    assert state.upstream_limits == {"x": "1"}
    state.upstream_sources = (None, [(b"content-type", b"application/json")])
    state._upstream_limits = None
    assert state.upstream_limits is None


# ---- cost meter: telemetry only for a provider ----


async def test_the_cost_counter_is_fed_only_once_a_meter_provider_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry import trace

    from claude_guard.ledger import _meter

    class Idle:
        pass

    class Counter:
        def __init__(self) -> None:
            self.added: list[tuple[float, dict[str, str]]] = []

        def add(self, value: float, attributes: dict[str, str]) -> None:
            self.added.append((value, attributes))

    counter = Counter()

    class Metrics:
        provider: object = Idle()

        def get_meter_provider(self) -> object:
            return self.provider

        def get_meter(self, name: str) -> Any:
            return type("Meter", (), {"create_counter": lambda *_, **__: counter})()

    metrics = Metrics()
    monkeypatch.setattr(_meter, "_otel", (trace, metrics, (Idle,)))
    monkeypatch.setattr(_meter, "_cost_counter", None)
    meter = _meter_for_telemetry()
    await meter.settle_safely(None, await _admitted(meter), Usage(input_tokens=5, output_tokens=5))
    assert counter.added == []
    metrics.provider = object()  # an app sets its provider later: used from the next settlement on
    metered = await _admitted(meter)
    cost = await meter.settle_safely(None, metered, Usage(input_tokens=5, output_tokens=5))
    assert cost is not None
    assert counter.added == [(float(cost.total), {"gen_ai.request.model": "claude-haiku-4-5"})]


def _meter_for_telemetry() -> CostMeter:
    return _meter(Ledger(MemoryStore()))
