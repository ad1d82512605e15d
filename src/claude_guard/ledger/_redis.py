"""The ledger in Redis: one Lua script per step (``lua/reserve.lua``, ``settle.lua``, ``show.lua``).

Each step is one round trip, uses the server's clock, and touches only ``{ledger}`` keys (one cluster
slot). Failures raise ``StoreUnavailableError`` through ``RedisStore.run``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._backend import DIMENSIONS, Denial, LedgerKeys, RawAlert, RawUsage, limits_of

if TYPE_CHECKING:
    from ..store.redis import RedisStore
    from ._ledger import BudgetScope

__all__ = ["RedisLedger"]


class RedisLedger:
    """`LedgerBackend` over a `RedisStore`."""

    def __init__(self, store: RedisStore, keys: LedgerKeys) -> None:
        self.store = store
        self.keys = keys

    async def reserve(
        self,
        reservation_id: str,
        scopes: Sequence[BudgetScope],
        amounts: Mapping[str, int],
        ttl: float,
        now: float | None,
    ) -> Denial | None:
        keys = self.keys
        args: list[str] = [
            "" if now is None else repr(now),
            repr(ttl),
            str(amounts["usd_day"]),
            str(amounts["in_min"]),
            str(amounts["out_min"]),
            str(len(scopes)),
        ]
        for scope in scopes:
            limits = limits_of(scope.budgets)
            args += [keys.base(scope.name), "1" if scope.stored else "0"]
            args += ["" if limits[dim] is None else str(limits[dim]) for dim in DIMENSIONS]
        result = await self.store.run_script(
            "ledger/reserve",
            [keys.index, keys.record(reservation_id), *(keys.config(s.name) for s in scopes)],
            args,
        )
        if int(result[0]) == 1:
            return None
        _, base, dim, limit, used, amount, left = (_text(v) for v in result)
        return (keys.scope_of(base), dim, int(limit), int(used), int(amount), float(left))

    async def settle(
        self, reservation_id: str, actual: Mapping[str, int], threshold: int, now: float | None
    ) -> tuple[str, list[RawAlert]]:
        result = await self.store.run_script(
            "ledger/settle",
            [self.keys.index, self.keys.record(reservation_id)],
            [str(actual["usd"]), str(actual["in"]), str(actual["out"]), str(threshold)],
        )
        return _text(result[0]), [tuple(_text(a).split("|")) for a in result[1:]]

    async def set_budget(self, scope: str, values: Mapping[str, str], clear: Sequence[str]) -> None:
        key = self.keys.config(scope)

        async def write() -> None:
            async with self.store.client.pipeline(transaction=True) as pipe:
                if values:
                    pipe.hset(key, mapping=dict(values))
                if clear:
                    pipe.hdel(key, *clear)
                await pipe.execute()

        await self.store.run(write)

    async def usages(self, scopes: Sequence[str], now: float | None) -> list[RawUsage]:
        result = await self.store.run_script(
            "ledger/show",
            [self.keys.config(s) for s in scopes],
            ["" if now is None else repr(now), *(self.keys.base(s) for s in scopes)],
        )
        raw: list[RawUsage] = []
        for item in result:
            decoded = json.loads(_text(item))
            limits = decoded.get("limits") or {}
            raw.append((dict(limits) if isinstance(limits, dict) else {}, dict(decoded.get("used") or {})))
        return raw

    async def outstanding(self) -> int:
        return int(await self.store.run(lambda: self.store.client.zcard(self.keys.index)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
