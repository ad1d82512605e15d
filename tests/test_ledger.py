"""The ledger over every storage: atomic reservation, exact settlement once, expiry, periods, alerts."""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
from decimal import Decimal

import pytest

from claude_guard.errors import BadRequestError, BudgetExceededError, RateLimitedError
from claude_guard.ledger import Ledger
from claude_guard.ledger._ledger import BudgetAlert, BudgetScope, Reservation
from claude_guard.profiles import Budgets
from claude_guard.store import Store

NOW = dt.datetime(2026, 11, 29, 12, 0, 30, tzinfo=dt.UTC).timestamp()


def key_scope(budgets: Budgets | None = None, name: str = "key:k1") -> BudgetScope:
    return BudgetScope(name=name, budgets=budgets or Budgets())


async def test_reserve_then_settle_charges_the_actual_amount(store: Store) -> None:
    ledger = Ledger(store)
    scope = key_scope(Budgets(usd_per_day=Decimal(1)))
    r = await ledger.reserve([scope], usd=Decimal("0.6"), input_tokens=100, output_tokens=50, now=NOW)
    assert (await ledger.usage("key:k1", now=NOW)).used["usd_day"] == Decimal("0.6")
    settlement = await ledger.settle(r, usd=Decimal("0.000123"), input_tokens=90, output_tokens=7, now=NOW)
    assert settlement.status == "settled"
    usage = await ledger.usage("key:k1", now=NOW)
    assert usage.used == {
        "usd_day": Decimal("0.000123"),
        "usd_month": Decimal("0.000123"),
        "in_min": 90,
        "out_min": 7,
    }
    assert await ledger.outstanding() == 0


async def test_settle_is_exactly_once(store: Store) -> None:
    ledger = Ledger(store)
    r = await ledger.reserve([key_scope()], usd=Decimal("0.5"), input_tokens=1, output_tokens=1, now=NOW)
    first = await ledger.settle(r, usd=Decimal("0.1"), input_tokens=1, output_tokens=1, now=NOW)
    second = await ledger.settle(r, usd=Decimal("0.1"), input_tokens=1, output_tokens=1, now=NOW)
    assert (first.status, second.status) == ("settled", "missing")
    assert (await ledger.usage("key:k1", now=NOW)).used["usd_day"] == Decimal("0.1")


async def test_a_spent_dollar_budget_is_402_and_changes_nothing(store: Store) -> None:
    ledger = Ledger(store)
    key = key_scope(Budgets(usd_per_day=Decimal(1)))
    profile = BudgetScope(name="profile:p", budgets=Budgets(usd_per_month=Decimal("100")))
    await ledger.reserve([profile, key], usd=Decimal("0.7"), input_tokens=10, output_tokens=10, now=NOW)
    with pytest.raises(BudgetExceededError) as info:
        await ledger.reserve([profile, key], usd=Decimal("0.4"), input_tokens=10, output_tokens=10, now=NOW)
    err = info.value
    assert (err.status, err.error_type, err.should_retry) == (402, "billing_error", False)
    assert err.code == "budget_usd_day"
    assert "key:k1" in err.message and "$1.0000" in err.message
    # all or nothing: the profile's month counter did not keep the refused amount
    assert (await ledger.usage("profile:p", now=NOW)).used["usd_month"] == Decimal("0.7")
    assert (await ledger.usage("key:k1", now=NOW)).used["usd_day"] == Decimal("0.7")


async def test_token_budgets_per_minute_are_429_with_retry_after(store: Store) -> None:
    ledger = Ledger(store)
    scope = key_scope(Budgets(output_tokens_per_minute=1_000))
    await ledger.reserve([scope], usd=Decimal(0), input_tokens=10, output_tokens=800, now=NOW)
    with pytest.raises(RateLimitedError) as info:
        await ledger.reserve([scope], usd=Decimal(0), input_tokens=10, output_tokens=300, now=NOW)
    assert info.value.headers["retry-after"] == "30"
    # the next minute is a new window
    await ledger.reserve([scope], usd=Decimal(0), input_tokens=10, output_tokens=300, now=NOW + 60)
    with pytest.raises(BadRequestError):
        await ledger.reserve([scope], usd=Decimal(0), input_tokens=10, output_tokens=5_000, now=NOW + 60)


async def test_stored_budgets_replace_configured_ones(store: Store) -> None:
    ledger = Ledger(store)
    scope = key_scope(Budgets(usd_per_day=Decimal(100)))
    await ledger.set_budget("key:k1", Budgets(usd_per_day=Decimal("0.5"), usd_per_month=Decimal(10)))
    with pytest.raises(BudgetExceededError):
        await ledger.reserve([scope], usd=Decimal("0.6"), input_tokens=1, output_tokens=1, now=NOW)
    shown = await ledger.usage("key:k1", now=NOW)
    assert shown.limits == {"usd_day": Decimal("0.5"), "usd_month": Decimal(10)}
    assert shown.remaining()["usd_day"] == Decimal("0.5")
    await ledger.set_budget("key:k1", Budgets(), clear=["usd_day"])
    await ledger.reserve([scope], usd=Decimal("0.6"), input_tokens=1, output_tokens=1, now=NOW)


async def test_reservations_of_a_dead_worker_expire(store: Store) -> None:
    ledger = Ledger(store, reservation_ttl=30)
    scope = key_scope(Budgets(usd_per_day=Decimal(1)))
    lost = await ledger.reserve([scope], usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=NOW)
    with pytest.raises(BudgetExceededError):
        await ledger.reserve([scope], usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=NOW + 10)
    # 31 s later the sweep (run by the next reservation) releases it
    later = await ledger.reserve([scope], usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=NOW + 31)
    # the dead worker comes back after all: it is charged its actual cost, in full
    late = await ledger.settle(lost, usd=Decimal("0.05"), input_tokens=1, output_tokens=1, now=NOW + 32)
    assert late.status == "late"
    await ledger.settle(later, usd=Decimal("0.05"), input_tokens=1, output_tokens=1, now=NOW + 32)
    assert (await ledger.usage("key:k1", now=NOW + 32)).used["usd_day"] == Decimal("0.1")
    assert await ledger.outstanding() == 0


async def test_periods_are_utc_days_and_calendar_months(store: Store) -> None:
    ledger = Ledger(store)
    last_second = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC).timestamp()
    scope = key_scope(Budgets(usd_per_day=Decimal(1), usd_per_month=Decimal("1.5")))
    r = await ledger.reserve([scope], usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=last_second)
    await ledger.settle(r, usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=last_second)
    with pytest.raises(BudgetExceededError) as info:
        await ledger.reserve([scope], usd=Decimal("0.2"), input_tokens=1, output_tokens=1, now=last_second)
    assert info.value.code == "budget_usd_day"
    # one second later: a new day and a new month
    r = await ledger.reserve(
        [scope], usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=last_second + 1
    )
    await ledger.settle(r, usd=Decimal("0.9"), input_tokens=1, output_tokens=1, now=last_second + 1)
    # the next day of the same month: the day is fresh, the month is not
    next_day = last_second + 1 + 86400
    with pytest.raises(BudgetExceededError) as info:
        await ledger.reserve([scope], usd=Decimal("0.7"), input_tokens=1, output_tokens=1, now=next_day)
    assert info.value.code == "budget_usd_month"
    assert calendar.monthrange(2026, 12)[1] == 31


async def test_soft_threshold_alerts_once_per_period(store: Store) -> None:
    seen: list[BudgetAlert] = []

    async def on_alert(alert: BudgetAlert) -> None:
        seen.append(alert)

    ledger = Ledger(store, on_alert=on_alert)
    scope = key_scope(Budgets(usd_per_day=Decimal(10)))
    alerts = []
    for _ in range(4):
        r = await ledger.reserve([scope], usd=Decimal(3), input_tokens=1, output_tokens=1, now=NOW)
        alerts.append(
            (await ledger.settle(r, usd=Decimal(2), input_tokens=1, output_tokens=1, now=NOW)).alerts
        )
    # 2, 4, 6, 8: the threshold (80% of 10) is crossed by the fourth call only, and reported once
    assert [len(a) for a in alerts] == [0, 0, 0, 1]
    assert seen == [alerts[3][0]]
    assert (seen[0].scope, seen[0].dimension, seen[0].used_usd, seen[0].limit_usd) == (
        "key:k1",
        "usd_day",
        Decimal(8),
        Decimal(10),
    )
    r = await ledger.reserve([scope], usd=Decimal(1), input_tokens=1, output_tokens=1, now=NOW)
    assert (await ledger.settle(r, usd=Decimal(1), input_tokens=1, output_tokens=1, now=NOW)).alerts == ()


async def test_concurrent_reservations_never_overspend(store: Store) -> None:
    ledger = Ledger(store)
    scope = key_scope(Budgets(usd_per_day=Decimal(1)))

    async def one() -> bool:
        try:
            r = await ledger.reserve([scope], usd=Decimal("0.3"), input_tokens=1, output_tokens=1)
        except BudgetExceededError:
            return False
        await asyncio.sleep(0)
        await ledger.settle(r, usd=Decimal("0.25"), input_tokens=1, output_tokens=1)
        return True

    results = await asyncio.gather(*(one() for _ in range(50)))
    spent = (await ledger.usage("key:k1")).used["usd_day"]
    assert spent <= Decimal(1)
    assert spent == Decimal("0.25") * sum(results)
    assert sum(results) >= 3
    assert await ledger.outstanding() == 0


async def test_large_amounts_stay_exact(store: Store) -> None:
    ledger = Ledger(store)
    # $1,000,000.000000000001: beyond what a double holds exactly in 1e-12 USD units
    big = Decimal("1000000.000000000001")
    scope = key_scope(Budgets(usd_per_month=big))
    r = await ledger.reserve([scope], usd=big, input_tokens=1, output_tokens=1, now=NOW)
    await ledger.settle(r, usd=big, input_tokens=1, output_tokens=1, now=NOW)
    assert (await ledger.usage("key:k1", now=NOW)).used["usd_month"] == big
    with pytest.raises(BudgetExceededError):
        await ledger.reserve([scope], usd=Decimal("0.000000000001"), input_tokens=1, output_tokens=1, now=NOW)


# -- the Redis backend's failures and its Lua, against the memory backend ------------------------------


async def test_an_unreachable_store_is_store_unavailable_in_every_step(key_prefix: str) -> None:
    # Every step of the Redis backend goes through RedisStore.run: redis-py's errors never reach the caller.
    from redis.exceptions import RedisError

    from _uvicorn import free_port
    from claude_guard.errors import StoreUnavailableError
    from claude_guard.store import StoreConfig, store_from_url

    store = store_from_url(f"redis://127.0.0.1:{free_port()}/0", config=StoreConfig(prefix=key_prefix))
    ledger = Ledger(store)
    scope = key_scope(Budgets(usd_per_day=Decimal(1)))
    try:
        with pytest.raises(StoreUnavailableError) as reserving:
            await ledger.reserve([scope], usd=Decimal("0.1"), input_tokens=1, output_tokens=1)
        reservation = Reservation(
            id="r1", usd=Decimal("0.1"), input_tokens=1, output_tokens=1, scopes=("key:k1",)
        )
        steps = [
            lambda: ledger.settle(reservation, usd=Decimal(0), input_tokens=0, output_tokens=0),
            lambda: ledger.usage("key:k1"),
            lambda: ledger.set_budget("key:k1", Budgets(usd_per_day=Decimal(2))),
            ledger.outstanding,
        ]
        for step in steps:
            with pytest.raises(StoreUnavailableError) as failed:
                await step()
            assert isinstance(failed.value.__cause__, (RedisError, OSError))
        assert isinstance(reserving.value.__cause__, (RedisError, OSError))
    finally:
        await store.aclose()


@pytest.mark.parametrize("script", ["reserve", "show"])
def test_the_lua_periods_are_written_once(script: str) -> None:
    from importlib.resources import files

    from claude_guard.store.redis import load_script

    source = files("claude_guard").joinpath(f"ledger/lua/{script}.lua").read_text(encoding="utf-8")
    assert "-- #include ledger/_periods" in source and "local function civil" not in source
    loaded = load_script(f"ledger/{script}")
    assert loaded.count("local function civil(") == 1 and loaded.count("local function period(") == 1
    assert "#include" not in loaded


async def test_lua_periods_match_the_memory_twin(redis_url: str) -> None:
    # The same period ids, ends and key ttls from ledger/lua/_periods.lua as from ledger/_memory.period, on
    # the days where calendars go wrong: month and year ends, leap days, the minute's last instant.
    from claude_guard.ledger._backend import DIMENSIONS, KEY_TTL
    from claude_guard.ledger._memory import period
    from claude_guard.store import store_from_url
    from claude_guard.store.redis import RedisStore, load_script

    probe = "\n".join(
        [
            load_script("ledger/show").split("local now = now_seconds()")[0],
            "local now = now_seconds()",
            "local out = {}",
            'for _, dim in ipairs({"usd_day", "usd_month", "in_min", "out_min"}) do',
            "  local id, left, ttl = period(dim, now)",
            "  out[#out + 1] = id; out[#out + 1] = tostring(left); out[#out + 1] = ttl",
            "end",
            "return out",
        ]
    )
    moments = [
        dt.datetime(2024, 2, 28, 23, 59, 59, tzinfo=dt.UTC).timestamp() + 0.75,
        dt.datetime(2024, 2, 29, 0, 0, 0, tzinfo=dt.UTC).timestamp(),
        dt.datetime(2025, 2, 28, 23, 59, 59, tzinfo=dt.UTC).timestamp(),
        dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp() + 0.5,
        dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC).timestamp(),
        dt.datetime(2100, 3, 1, 0, 0, 30, tzinfo=dt.UTC).timestamp(),
        dt.datetime(2000, 2, 29, 12, 0, 0, tzinfo=dt.UTC).timestamp(),
        NOW,
        0.0,
    ]
    store = store_from_url(redis_url)
    assert isinstance(store, RedisStore)
    try:
        for moment in moments:
            raw = await store.client.eval(probe, 0, repr(moment))
            for i, dim in enumerate(DIMENSIONS):
                pid, left = period(dim, moment)
                lua_pid, lua_left, lua_ttl = raw[3 * i].decode(), float(raw[3 * i + 1]), int(raw[3 * i + 2])
                assert (lua_pid, lua_ttl) == (pid, KEY_TTL[dim]), (moment, dim)
                assert lua_left == pytest.approx(left, abs=1e-6), (moment, dim)
    finally:
        await store.aclose()
