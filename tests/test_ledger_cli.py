"""``claude-guard prices`` and ``budget set/show`` (registered by cli.py through ``_cli_budget.register``)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from decimal import Decimal

import pytest

from claude_guard import _cli_budget
from claude_guard.errors import ConfigurationError
from claude_guard.ledger import Ledger
from claude_guard.ledger._ledger import BudgetScope
from claude_guard.store import StoreConfig, store_from_url


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="claude-guard")
    _cli_budget.register(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    status = _cli_budget.run(parser.parse_args(argv), out)
    return status, out.getvalue()


def test_prices_prints_the_table() -> None:
    status, text = run("prices")
    assert status == 0
    assert "claude-sonnet-4-5 (claude-sonnet-4-5-20250929)" in text
    assert "UNCONFIRMED" in text
    status, text = run("prices", "--json")
    assert json.loads(text)["claude-haiku-4-5"]["cache_read"] == "0.1"


@pytest.mark.redis
def test_budget_set_and_show(redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_GUARD_STORAGE_URL", redis_url)
    monkeypatch.setenv("CLAUDE_GUARD_STORAGE_PREFIX", key_prefix)
    status, text = run("budget", "set", "--key", "k_cli", "--daily-usd", "5", "--monthly-usd", "100")
    assert status == 0
    assert "USD per day (UTC)" in text and "used 0 of 5, remaining 5" in text

    async def spend() -> None:
        store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
        ledger = Ledger(store)
        r = await ledger.reserve(
            [BudgetScope(name="key:k_cli")], usd=Decimal(2), input_tokens=1, output_tokens=1
        )
        await ledger.settle(r, usd=Decimal("1.25"), input_tokens=1, output_tokens=1)
        await store.aclose()

    asyncio.run(spend())
    status, text = run("budget", "show", "--key", "k_cli", "--json")
    shown = json.loads(text)
    assert shown["limits"] == {"usd_day": "5", "usd_month": "100"}
    assert shown["remaining"] == {"usd_day": "3.75", "usd_month": "98.75"}
    status, text = run("budget", "set", "--key", "k_cli", "--clear", "daily-usd")
    assert "USD per day (UTC)          used 1.25  (no stored budget)" in text

    async def cleanup() -> None:
        store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
        client = store.client  # type: ignore[attr-defined]
        keys = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await store.aclose()

    asyncio.run(cleanup())


def test_budget_needs_shared_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_GUARD_STORAGE_URL", raising=False)
    with pytest.raises(ConfigurationError):
        run("budget", "show", "--key", "k")
