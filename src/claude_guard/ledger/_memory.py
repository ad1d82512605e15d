"""The ledger in this process's memory: the same steps as the Lua scripts, without an ``await``.

Everything runs on one event loop and no step awaits, so each is atomic. The state lives in the
``MemoryStore`` (``store.data["ledger"]``), so every ``Ledger`` over one store sees the same counters.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ..store import MemoryStore
from ._backend import DIMENSIONS, KEY_TTL, KIND, Denial, LedgerKeys, RawAlert, RawUsage, limits_of

if TYPE_CHECKING:
    from ._ledger import BudgetScope

__all__ = ["MemoryLedger"]

_MAX_SCOPES: Final = 4096
_DIMS: Final = tuple((dim, KIND[dim], KEY_TTL[dim]) for dim in DIMENSIONS)


class MemoryLedger:
    """`LedgerBackend` over a `MemoryStore`; mirrors ``lua/reserve.lua``, ``settle.lua`` and ``show.lua``."""

    def __init__(self, store: MemoryStore, keys: LedgerKeys) -> None:
        self.store = store
        self.keys = keys
        self._counters: dict[str, tuple[int, tuple[str, ...]]] = {}

    def _state(self) -> _State:
        state = self.store.data.get("ledger")
        if state is None:
            state = self.store.data["ledger"] = _State()
        assert isinstance(state, _State)
        return state

    def _counter_keys(self, scope: str, minute: int) -> tuple[str, ...]:
        """The keys of ``scope``'s counters for the periods holding UTC minute ``minute``, in ``DIMENSIONS``
        order: asked for every scope of every reservation, so built once per scope and minute. A day and a
        month both end on a minute boundary, so a key of the current minute is never one of a past period.
        """
        cached = self._counters.get(scope)
        if cached is not None and cached[0] == minute:
            return cached[1]
        base = self.keys.base(scope)
        pids = _period_ids(minute)
        keys = tuple(f"{base}:{dim}:{pid}" for dim, pid in zip(DIMENSIONS, pids, strict=True))
        if len(self._counters) >= _MAX_SCOPES:  # bounded: scope names carry end-user ids
            self._counters.clear()
        self._counters[scope] = (minute, keys)
        return keys

    async def reserve(
        self,
        reservation_id: str,
        scopes: Sequence[BudgetScope],
        amounts: Mapping[str, int],
        ttl: float,
        now: float | None,
    ) -> Denial | None:
        state = self._state()
        t = time.time() if now is None else now
        if t >= state.next_expiry:  # nothing can have expired before the earliest expiry
            state.sweep(t)
        minute = int(t) // 60
        counters = state.counters
        entries: list[_Entry] = []
        for scope in scopes:
            budget_limits = limits_of(scope.budgets)
            limits: Mapping[str, int | None] = budget_limits
            if scope.stored:
                stored = self.store.get(self.keys.config(scope.name))
                if stored:
                    limits = {**budget_limits, **{dim: int(value) for dim, value in stored.items()}}
            keys = self._counter_keys(scope.name, minute)
            for (dim, kind, key_ttl), key in zip(_DIMS, keys, strict=True):
                amount = amounts[dim]
                limit = limits.get(dim)
                # state.add and state.counter, inline: eight of each per reservation of two scopes.
                current = counters.get(key)
                if current is not None and current[1] <= t:
                    current = None
                if amount:
                    if current is None:
                        current = counters[key] = (amount, t + key_ttl)
                    else:
                        current = counters[key] = (current[0] + amount, current[1])
                entries.append(_Entry(key, kind, amount, limit, scope.name, dim, key_ttl))
                if limit is not None and current is not None and current[0] > limit:
                    for entry in entries:
                        state.add(entry.key, -entry.reserved, t, entry.ttl)
                    left = period(dim, t)[1]
                    return (scope.name, dim, limit, state.counter(key, t), amount, left)
        state.records[reservation_id] = _Record(entries=entries)
        expires = state.index[reservation_id] = t + ttl
        if expires < state.next_expiry:
            state.next_expiry = expires
        return None

    async def settle(
        self, reservation_id: str, actual: Mapping[str, int], threshold: int, now: float | None
    ) -> tuple[str, list[RawAlert]]:
        return self.settle_nowait(reservation_id, actual, threshold, now)

    def settle_nowait(
        self, reservation_id: str, actual: Mapping[str, int], threshold: int, now: float | None
    ) -> tuple[str, list[RawAlert]]:
        """``settle`` as the plain call it is in memory (no step awaits), for callers that need no task."""
        state = self._state()
        t = time.time() if now is None else now
        record = state.records.pop(reservation_id, None)
        state.index.pop(reservation_id, None)
        if record is None:
            return "missing", []
        alerts: list[RawAlert] = []
        reserved = record.state == "reserved"
        for entry in record.entries:
            delta = actual[entry.kind] - (entry.reserved if reserved else 0)
            state.add(entry.key, delta, t, entry.ttl)
            if not (threshold and entry.kind == "usd" and entry.limit):
                continue  # no soft threshold to compare with: the counter need not be read
            used = state.counter(entry.key, t)
            if used * 1_000_000 >= entry.limit * threshold:
                flag = entry.key + ":alert"
                if flag not in state.flags or state.flags[flag] <= t:
                    state.flags[flag] = t + entry.ttl
                    alerts.append((self.keys.base(entry.scope), entry.dim, str(entry.limit), str(used)))
        return ("settled" if record.state == "reserved" else "late"), alerts

    async def set_budget(self, scope: str, values: Mapping[str, str], clear: Sequence[str]) -> None:
        key = self.keys.config(scope)
        stored = dict(self.store.get(key) or {})
        stored.update(values)
        for dim in clear:
            stored.pop(dim, None)
        self.store.set(key, stored)

    async def usages(self, scopes: Sequence[str], now: float | None) -> list[RawUsage]:
        t = time.time() if now is None else now
        state = self._state()
        raw: list[RawUsage] = []
        for scope in scopes:
            base = self.keys.base(scope)
            limits = dict(self.store.get(self.keys.config(scope)) or {})
            used = {dim: str(state.counter(f"{base}:{dim}:{period(dim, t)[0]}", t)) for dim in DIMENSIONS}
            raw.append((limits, used))
        return raw

    async def outstanding(self) -> int:
        return len(self._state().index)


@dataclass(slots=True)
class _Entry:
    key: str
    kind: str
    reserved: int
    limit: int | None
    scope: str
    dim: str
    ttl: int


@dataclass(slots=True)
class _Record:
    entries: list[_Entry]
    state: str = "reserved"


@dataclass(slots=True)
class _State:
    counters: dict[str, tuple[int, float]] = field(default_factory=dict)
    records: dict[str, _Record] = field(default_factory=dict)
    index: dict[str, float] = field(default_factory=dict)
    flags: dict[str, float] = field(default_factory=dict)
    next_expiry: float = math.inf
    """No reservation in ``index`` expires before this (it may be earlier than the true earliest, after a
    settlement removed that one: the next sweep then finds nothing and sets it again)."""

    def counter(self, key: str, now: float) -> int:
        value = self.counters.get(key)
        if value is None or value[1] <= now:
            return 0
        return value[0]

    def add(self, key: str, delta: int, now: float, ttl: int) -> None:
        if delta == 0:
            return
        current = self.counters.get(key)
        if current is None or current[1] <= now:
            current = (0, now + ttl)
        value = current[0] + delta
        if value <= 0:
            self.counters.pop(key, None)
        else:
            self.counters[key] = (value, current[1])

    def sweep(self, now: float) -> None:
        """Release every reservation expired at ``now``; called only once ``now`` reaches ``next_expiry``."""
        earliest = math.inf
        for reservation_id, expires in list(self.index.items()):
            if expires > now:
                earliest = min(earliest, expires)
                continue
            del self.index[reservation_id]
            record = self.records.get(reservation_id)
            if record is not None and record.state == "reserved":
                for entry in record.entries:
                    self.add(entry.key, -entry.reserved, now, entry.ttl)
                record.state = "expired"
        self.next_expiry = earliest


def _period_ids(minute: int) -> tuple[str, ...]:
    """The period ids of every dimension (``DIMENSIONS`` order) at UTC minute ``minute``."""
    last = _last[0]
    if last[0] == minute:
        return last[1]
    day = minute // 1440
    ids = (
        _calendar_period("usd_day", day)[0],
        _calendar_period("usd_month", day)[0],
        f"t{minute}",
        f"t{minute}",
    )
    _last[0] = (minute, ids)  # one tuple, so a reader never sees a minute with another minute's ids
    return ids


_last: list[tuple[int | None, tuple[str, ...]]] = [(None, ())]
"""The last minute asked of `_period_ids` and its ids: a minute's ids never change, so one slot is enough."""


def period(dim: str, now: float) -> tuple[str, float]:
    """The period id of ``dim`` at ``now`` and the seconds until it ends (``lua/_periods.lua``'s twin).

    >>> period("usd_day", 86400 * 365), period("usd_month", 0)[0], period("in_min", 90)
    (('d19710101', 86400.0), 'm197001', ('t1', 30))
    """
    if dim == "usd_day" or dim == "usd_month":
        pid, end = _calendar_period(dim, int(now) // 86400)
        return pid, end - now
    minute = int(now) // 60
    return f"t{minute}", (minute + 1) * 60 - now


@functools.lru_cache(maxsize=8)
def _calendar_period(dim: str, day: int) -> tuple[str, float]:
    """The id and end (epoch seconds) of the day or month holding UTC day number ``day``: asked on every
    reservation and settlement for every scope, so computed once a day rather than by datetime each time."""
    moment = dt.datetime.fromtimestamp(day * 86400, tz=dt.UTC)
    if dim == "usd_day":
        return moment.strftime("d%Y%m%d"), (day + 1) * 86400.0
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.strftime("m%Y%m"), dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()
