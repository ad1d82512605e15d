"""The ledger: reserve the worst case of a request across every budget at once, settle with actual usage.

Counters live per scope (``key:ID``, ``profile:NAME``, ``user:KEY:USER``), per dimension (USD per UTC day,
USD per UTC calendar month, input and output tokens per UTC minute) and per period. Money is counted in
whole 1e-12 USD (``PICO``), so sums are exact integers. On Redis, reserve and settle are one Lua script
each (one round trip), the script uses the server's clock, and all ledger keys share the ``{ledger}`` hash
tag; in memory the same steps run without an ``await``, which makes them atomic on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..errors import BadRequestError, BudgetExceededError, RateLimitedError, StoreUnavailableError
from ..pricing import PICO, to_pico
from ..profiles import Budgets
from ..store import MemoryStore, Store

__all__ = [
    "DIMENSIONS",
    "BudgetAlert",
    "BudgetScope",
    "Ledger",
    "Reservation",
    "ScopeUsage",
    "Settlement",
]

logger = logging.getLogger("claude_guard")

DIMENSIONS: Final[tuple[str, ...]] = ("usd_day", "usd_month", "in_min", "out_min")
_KIND: Final[Mapping[str, str]] = {"usd_day": "usd", "usd_month": "usd", "in_min": "in", "out_min": "out"}
_KEY_TTL: Final[Mapping[str, int]] = {
    "usd_day": 2 * 86400,
    "usd_month": 40 * 86400,
    "in_min": 120,
    "out_min": 120,
}
_TAG: Final = "ledger"
_DESCRIPTION: Final[Mapping[str, str]] = {
    "usd_day": "daily USD budget",
    "usd_month": "monthly USD budget",
    "in_min": "input tokens per minute",
    "out_min": "output tokens per minute",
}


def _clean(part: str) -> str:
    # Scope names come from key ids and end-user ids: keep them out of hash tags and key structure.
    cleaned = part.replace("{", "(").replace("}", ")").replace(" ", "_")
    return cleaned if len(cleaned) <= 128 else cleaned[:96] + "~" + str(abs(hash(cleaned)))


def limits_of(budgets: Budgets) -> dict[str, int | None]:
    """A ``Budgets`` as ledger limits: USD in 1e-12 USD, tokens as they are."""
    return {
        "usd_day": None if budgets.usd_per_day is None else to_pico(budgets.usd_per_day),
        "usd_month": None if budgets.usd_per_month is None else to_pico(budgets.usd_per_month),
        "in_min": budgets.input_tokens_per_minute,
        "out_min": budgets.output_tokens_per_minute,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetScope:
    """One set of budgets a request counts against."""

    name: str
    """``key:ID``, ``profile:NAME`` or ``user:KEY:USER``."""
    budgets: Budgets = field(default_factory=Budgets)
    """Configured limits; budgets stored in the ledger (``Ledger.set_budget``) replace them field by field."""
    stored: bool = True
    """Whether budgets stored for this scope apply."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A reservation held in the ledger until it is settled or expires."""

    id: str
    usd: Decimal
    input_tokens: int
    output_tokens: int
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetAlert:
    """A USD budget crossed the soft threshold (reported once per scope, dimension and period)."""

    scope: str
    dimension: str
    limit_usd: Decimal
    used_usd: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """What a settle did: ``settled``; ``late`` (the reservation had expired and was charged in full now);
    ``missing`` (already settled: nothing changed)."""

    status: str
    """``settled``, ``late`` or ``missing``."""
    alerts: tuple[BudgetAlert, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeUsage:
    """Stored budgets and the current periods' usage of one scope."""

    scope: str
    limits: dict[str, Decimal | int]
    used: dict[str, Decimal | int]

    def remaining(self) -> dict[str, Decimal | int]:
        return {dim: max(limit - self.used.get(dim, 0), 0) for dim, limit in self.limits.items()}


AlertCallback = Callable[[BudgetAlert], Awaitable[None] | None]


class Ledger:
    """Budgets that never overspend: one atomic reservation of the worst case, settled with actual usage.

    Args:
        store: ``MemoryStore`` (one process) or ``RedisStore`` (shared by every replica).
        reservation_ttl: seconds after which a reservation that was never settled (its worker died) is
            released; keep it above the upstream timeout.
        alert_threshold: fraction of a USD budget that fires ``on_alert`` once per period (``None``: never).
        on_alert: callback (sync or async) for soft-threshold alerts.

    Example:
        >>> import asyncio
        >>> from claude_guard.store import MemoryStore
        >>> ledger = Ledger(MemoryStore())
        >>> scope = BudgetScope(name="key:k1", budgets=Budgets(usd_per_day=Decimal("1")))
        >>> async def demo():
        ...     r = await ledger.reserve([scope], usd=Decimal("0.4"), input_tokens=10, output_tokens=10)
        ...     await ledger.settle(r, usd=Decimal("0.1"), input_tokens=10, output_tokens=3)
        ...     return (await ledger.usage("key:k1")).used["usd_day"]
        >>> asyncio.run(demo())
        Decimal('0.1')
    """

    def __init__(
        self,
        store: Store,
        *,
        reservation_ttl: float = 900.0,
        alert_threshold: Decimal | float | None = Decimal("0.8"),
        on_alert: AlertCallback | None = None,
    ) -> None:
        if reservation_ttl <= 0:
            raise ValueError("reservation_ttl must be positive")
        self.store = store
        self.reservation_ttl = reservation_ttl
        self.alert_threshold = None if alert_threshold is None else Decimal(str(alert_threshold))
        self.on_alert = on_alert
        self._index = store.key("ledger", "reservations", tag=_TAG)

    def __repr__(self) -> str:
        return f"Ledger(store={self.store!r}, reservation_ttl={self.reservation_ttl})"

    def _base(self, scope: str) -> str:
        return self.store.key("ledger", _clean(scope), tag=_TAG)

    def _config_key(self, scope: str) -> str:
        return self._base(scope) + ":budget"

    def _record_key(self, reservation_id: str) -> str:
        return self.store.key("ledger", "res", reservation_id, tag=_TAG)

    # ---- reserve and settle ------------------------------------------------------------------------------

    async def reserve(
        self,
        scopes: Sequence[BudgetScope],
        *,
        usd: Decimal,
        input_tokens: int,
        output_tokens: int,
        now: float | None = None,
    ) -> Reservation:
        """Reserve ``usd`` and the token counts in every scope at once, or nothing.

        Raises:
            BudgetExceededError: a USD budget of this period cannot take the amount (402, never retried).
            RateLimitedError: a tokens-per-minute budget is full for this minute (429 with retry-after).
            BadRequestError: the request alone needs more tokens than a per-minute budget allows.
            StoreUnavailableError: the shared store cannot be reached.
        """
        reservation = Reservation(
            id=secrets.token_hex(12),
            usd=usd,
            input_tokens=max(0, input_tokens),
            output_tokens=max(0, output_tokens),
            scopes=tuple(s.name for s in scopes),
        )
        amounts = {
            "usd_day": to_pico(usd, round_up=True),
            "usd_month": to_pico(usd, round_up=True),
            "in_min": reservation.input_tokens,
            "out_min": reservation.output_tokens,
        }
        try:
            if isinstance(self.store, MemoryStore):
                denied = self._memory_reserve(reservation, scopes, amounts, now)
            else:
                denied = await self._redis_reserve(reservation, scopes, amounts, now)
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise StoreUnavailableError() from exc
        except Exception as exc:
            if type(exc).__module__.startswith("redis"):
                raise StoreUnavailableError() from exc
            raise
        if denied is not None:
            raise self._denial(*denied)
        return reservation

    async def settle(
        self,
        reservation: Reservation,
        *,
        usd: Decimal,
        input_tokens: int,
        output_tokens: int,
        now: float | None = None,
    ) -> Settlement:
        """Replace the reservation by the actual amounts (a refund or a charge of the difference), once."""
        actual = {"usd": to_pico(usd), "in": max(0, input_tokens), "out": max(0, output_tokens)}
        threshold = 0 if self.alert_threshold is None else int(self.alert_threshold * 1_000_000)
        status: str
        if isinstance(self.store, MemoryStore):
            status, raw_alerts = self._memory_settle(reservation.id, actual, threshold, now)
        else:
            script = self.store.script("ledger/settle")  # type: ignore[attr-defined]
            record_key = self._record_key(reservation.id)
            result = await script(
                keys=[self._index, record_key],
                args=[str(actual["usd"]), str(actual["in"]), str(actual["out"]), str(threshold)],
            )
            status = _text(result[0])
            raw_alerts = [tuple(_text(a).split("|")) for a in result[1:]]
        alerts = tuple(
            BudgetAlert(
                scope=self._scope_of(base),
                dimension=dim,
                limit_usd=from_pico(limit),
                used_usd=from_pico(used),
            )
            for base, dim, limit, used in raw_alerts
        )
        for alert in alerts:
            await self._fire(alert)
        return Settlement(status=status, alerts=alerts)

    async def _fire(self, alert: BudgetAlert) -> None:
        if self.on_alert is None:
            return
        try:
            result = self.on_alert(alert)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("claude_guard: a budget alert callback failed")

    def _scope_of(self, base: str) -> str:
        head, tail = f"{self.store.config.prefix}:ledger:", f":{{{_TAG}}}"
        if base.startswith(head) and base.endswith(tail):
            return base[len(head) : -len(tail)]
        return base

    def _denial(self, scope: str, dim: str, limit: int, used: int, amount: int, left: float) -> Exception:
        what = _DESCRIPTION.get(dim, dim)
        if dim in ("in_min", "out_min"):
            if amount > limit:
                return BadRequestError(
                    f"This request needs up to {amount} tokens, more than the {what} budget of {limit} "
                    f"for {scope}; lower max_tokens or the prompt.",
                    code=f"budget_{dim}_too_small",
                )
            return RateLimitedError(
                f"The {what} budget of {scope} is spent for this minute ({used} of {limit} used, this "
                f"request needs up to {amount}).",
                retry_after=max(left, 1.0),
                code=f"budget_{dim}",
            )
        limit_usd, used_usd, amount_usd = (from_pico(v) for v in (limit, used, amount))
        return BudgetExceededError(
            f"The {what} of {scope} is spent: ${_usd(used_usd)} of ${_usd(limit_usd)} used or reserved, "
            f"and this request may cost up to ${_usd(amount_usd)}.",
            code=f"budget_{dim}",
        )

    # ---- stored budgets and reading ----------------------------------------------------------------------

    async def set_budget(self, scope: str, budgets: Budgets, *, clear: Sequence[str] = ()) -> None:
        """Store budgets for ``scope`` (fields left ``None`` are kept); ``clear`` removes stored fields."""
        values = {dim: str(v) for dim, v in limits_of(budgets).items() if v is not None}
        key = self._config_key(scope)
        if isinstance(self.store, MemoryStore):
            stored = dict(self.store.get(key) or {})
            stored.update(values)
            for dim in clear:
                stored.pop(dim, None)
            self.store.set(key, stored)
            return
        client = self.store.client  # type: ignore[attr-defined]
        async with client.pipeline(transaction=True) as pipe:
            if values:
                pipe.hset(key, mapping=values)
            if clear:
                pipe.hdel(key, *clear)
            await pipe.execute()

    async def usage(self, scope: str, *, now: float | None = None) -> ScopeUsage:
        """Stored budgets of ``scope`` and what this minute, day and month have used (reserved included)."""
        return (await self.usages([scope], now=now))[0]

    async def usages(self, scopes: Sequence[str], *, now: float | None = None) -> list[ScopeUsage]:
        raw: list[tuple[dict[str, str], dict[str, str]]] = []
        if isinstance(self.store, MemoryStore):
            t = time.time() if now is None else now
            for scope in scopes:
                base = self._base(scope)
                limits = dict(self.store.get(self._config_key(scope)) or {})
                state = self._memory_state()
                used = {
                    dim: str(state.counter(f"{base}:{dim}:{_period(dim, t)[0]}", t)) for dim in DIMENSIONS
                }
                raw.append((limits, used))
        else:
            script = self.store.script("ledger/show")  # type: ignore[attr-defined]
            result = await script(
                keys=[self._config_key(s) for s in scopes],
                args=["" if now is None else repr(now), *(self._base(s) for s in scopes)],
            )
            for item in result:
                decoded = json.loads(_text(item))
                limits = decoded.get("limits") or {}
                raw.append(
                    (dict(limits) if isinstance(limits, dict) else {}, dict(decoded.get("used") or {}))
                )
        return [
            ScopeUsage(
                scope=scope,
                limits={dim: _from_unit(dim, v) for dim, v in limits.items() if dim in _KIND},
                used={dim: _from_unit(dim, used.get(dim, "0")) for dim in DIMENSIONS},
            )
            for scope, (limits, used) in zip(scopes, raw, strict=True)
        ]

    async def outstanding(self) -> int:
        """Reservations not yet settled nor expired (for tests and health checks)."""
        if isinstance(self.store, MemoryStore):
            return len(self._memory_state().index)
        return int(await self.store.client.zcard(self._index))  # type: ignore[attr-defined]

    # ---- redis -------------------------------------------------------------------------------------------

    async def _redis_reserve(
        self,
        reservation: Reservation,
        scopes: Sequence[BudgetScope],
        amounts: Mapping[str, int],
        now: float | None,
    ) -> tuple[str, str, int, int, int, float] | None:
        script = self.store.script("ledger/reserve")  # type: ignore[attr-defined]
        args: list[str] = [
            "" if now is None else repr(now),
            repr(self.reservation_ttl),
            str(amounts["usd_day"]),
            str(amounts["in_min"]),
            str(amounts["out_min"]),
            str(len(scopes)),
        ]
        for scope in scopes:
            limits = limits_of(scope.budgets)
            args += [self._base(scope.name), "1" if scope.stored else "0"]
            args += ["" if limits[dim] is None else str(limits[dim]) for dim in DIMENSIONS]
        result = await script(
            keys=[self._index, self._record_key(reservation.id), *(self._config_key(s.name) for s in scopes)],
            args=args,
        )
        if int(result[0]) == 1:
            return None
        _, base, dim, limit, used, amount, left = (_text(v) for v in result)
        return (self._scope_of(base), dim, int(limit), int(used), int(amount), float(left))

    # ---- memory ------------------------------------------------------------------------------------------

    def _memory_state(self) -> _MemoryLedger:
        assert isinstance(self.store, MemoryStore)
        state = self.store.data.get("ledger")
        if state is None:
            state = self.store.data["ledger"] = _MemoryLedger()
        assert isinstance(state, _MemoryLedger)
        return state

    def _memory_reserve(
        self,
        reservation: Reservation,
        scopes: Sequence[BudgetScope],
        amounts: Mapping[str, int],
        now: float | None,
    ) -> tuple[str, str, int, int, int, float] | None:
        assert isinstance(self.store, MemoryStore)
        state = self._memory_state()
        t = time.time() if now is None else now
        state.sweep(t)
        entries: list[_Entry] = []
        for scope in scopes:
            base = self._base(scope.name)
            limits: dict[str, int | None] = dict(limits_of(scope.budgets))
            if scope.stored:
                for dim, value in (self.store.get(self._config_key(scope.name)) or {}).items():
                    limits[dim] = int(value)
            for dim in DIMENSIONS:
                pid, left = _period(dim, t)
                key = f"{base}:{dim}:{pid}"
                amount = amounts[dim]
                limit = limits.get(dim)
                state.add(key, amount, t, _KEY_TTL[dim])
                entries.append(_Entry(key, _KIND[dim], amount, limit, scope.name, dim, _KEY_TTL[dim]))
                if limit is not None and state.counter(key, t) > limit:
                    for entry in entries:
                        state.add(entry.key, -entry.reserved, t, entry.ttl)
                    return (scope.name, dim, limit, state.counter(key, t), amount, left)
        state.records[reservation.id] = _Record(entries=entries)
        state.index[reservation.id] = t + self.reservation_ttl
        return None

    def _memory_settle(
        self, reservation_id: str, actual: Mapping[str, int], threshold: int, now: float | None
    ) -> tuple[str, list[tuple[str, ...]]]:
        state = self._memory_state()
        t = time.time() if now is None else now
        record = state.records.pop(reservation_id, None)
        state.index.pop(reservation_id, None)
        if record is None:
            return "missing", []
        alerts: list[tuple[str, ...]] = []
        for entry in record.entries:
            delta = actual[entry.kind] - (entry.reserved if record.state == "reserved" else 0)
            state.add(entry.key, delta, t, entry.ttl)
            used = state.counter(entry.key, t)
            if (
                threshold
                and entry.kind == "usd"
                and entry.limit
                and used * 1_000_000 >= entry.limit * threshold
            ):
                flag = entry.key + ":alert"
                if flag not in state.flags or state.flags[flag] <= t:
                    state.flags[flag] = t + entry.ttl
                    alerts.append((self._base(entry.scope), entry.dim, str(entry.limit), str(used)))
        return ("settled" if record.state == "reserved" else "late"), alerts


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
class _MemoryLedger:
    counters: dict[str, tuple[int, float]] = field(default_factory=dict)
    records: dict[str, _Record] = field(default_factory=dict)
    index: dict[str, float] = field(default_factory=dict)
    flags: dict[str, float] = field(default_factory=dict)

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
        for reservation_id, expires in list(self.index.items()):
            if expires > now:
                continue
            del self.index[reservation_id]
            record = self.records.get(reservation_id)
            if record is not None and record.state == "reserved":
                for entry in record.entries:
                    self.add(entry.key, -entry.reserved, now, entry.ttl)
                record.state = "expired"


def _period(dim: str, now: float) -> tuple[str, float]:
    moment = dt.datetime.fromtimestamp(int(now), tz=dt.UTC)
    if dim == "usd_day":
        end = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        return moment.strftime("d%Y%m%d"), end.timestamp() - now
    if dim == "usd_month":
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        end = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        return moment.strftime("m%Y%m"), end.timestamp() - now
    minute = int(now) // 60
    return f"t{minute}", (minute + 1) * 60 - now


def _from_unit(dim: str, value: Any) -> Decimal | int:
    number = int(value)
    return from_pico(number) if _KIND[dim] == "usd" else number


def from_pico(value: int | str) -> Decimal:
    """1e-12 USD units as USD, without trailing zeros (``Decimal('0.1')``, ``Decimal('5')``)."""
    usd = Decimal(int(value)) / PICO
    return usd.quantize(Decimal(1)) if usd == usd.to_integral_value() else usd.normalize()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _usd(value: Decimal) -> str:
    return f"{value:.4f}" if value >= Decimal("0.0001") or value == 0 else f"{value:.8f}"
