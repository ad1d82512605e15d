"""The ledger: reserve the worst case of a request across every budget at once, settle with actual usage.

Counters live per scope (``key:ID``, ``profile:NAME``, ``user:KEY:USER``), per dimension (USD per UTC day,
USD per UTC calendar month, input and output tokens per UTC minute) and per period. Money is counted in
whole 1e-12 USD (``PICO``), so sums are exact integers. On Redis, reserve and settle are one Lua script
each (one round trip), the script uses the server's clock, and all ledger keys share the ``{ledger}`` hash
tag; in memory the same steps run without an ``await``, which makes them atomic on the event loop.

This module holds the API and its types; the backends are ``_memory.py`` and ``_redis.py`` (with ``lua/``),
behind the ``LedgerBackend`` protocol of ``_backend.py``, picked once from the store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..errors import BadRequestError, BudgetExceededError, ConfigurationError, RateLimitedError
from ..pricing import PICO, to_pico
from ..profiles import Budgets
from ..store import Store
from ._backend import DIMENSIONS, KIND, LedgerBackend, LedgerKeys, RawAlert, limits_of
from ._memory import MemoryLedger
from ._redis import RedisLedger

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

_DESCRIPTION: Final[Mapping[str, str]] = {
    "usd_day": "daily USD budget",
    "usd_month": "monthly USD budget",
    "in_min": "input tokens per minute",
    "out_min": "output tokens per minute",
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
_SettleNow = Callable[[str, Mapping[str, int], int, float | None], tuple[str, list[RawAlert]]]


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
            raise ConfigurationError("reservation_ttl must be positive")
        self.store = store
        self.reservation_ttl = reservation_ttl
        self.alert_threshold = None if alert_threshold is None else Decimal(str(alert_threshold))
        self.on_alert = on_alert
        self._keys = keys = LedgerKeys(store)
        self._index = keys.index
        self._backend: LedgerBackend = store.pick(
            memory=lambda s: MemoryLedger(s, keys), redis=lambda s: RedisLedger(s, keys)
        )
        backend = self._backend
        self._settle_now: _SettleNow | None = (
            backend.settle_nowait if isinstance(backend, MemoryLedger) else None
        )
        """The backend's settle as a plain call, when it has one (in this process)."""

    def __repr__(self) -> str:
        return f"Ledger(store={self.store!r}, reservation_ttl={self.reservation_ttl})"

    def _config_key(self, scope: str) -> str:
        return self._keys.config(scope)

    def _record_key(self, reservation_id: str) -> str:
        return self._keys.record(reservation_id)

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
        denied = await self._backend.reserve(reservation.id, scopes, amounts, self.reservation_ttl, now)
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
        """Replace the reservation by the actual amounts (a refund or a charge of the difference), once.

        Raises:
            StoreUnavailableError: the shared store cannot be reached (the reservation then expires).
        """
        actual = _actual(usd, input_tokens, output_tokens)
        status, raw_alerts = await self._backend.settle(reservation.id, actual, self._threshold(), now)
        settlement = self._settlement(status, raw_alerts)
        for alert in settlement.alerts:
            await self._fire(alert)
        return settlement

    @property
    def settles_inline(self) -> bool:
        """Whether `settle_nowait` settles: the backend is in this process and no ``on_alert`` is set."""
        return self._settle_now is not None and self.on_alert is None

    def settle_nowait(
        self,
        reservation: Reservation,
        *,
        usd: Decimal,
        input_tokens: int,
        output_tokens: int,
        now: float | None = None,
    ) -> Settlement | None:
        """`settle` as one plain call when `settles_inline` (memory storage, no alert callback): nothing in it
        awaits, so a caller being cancelled needs no task to shield it. ``None`` (nothing done) otherwise: a
        Redis round trip, or an alert callback that may await, needs `settle`."""
        settle_now = self._settle_now
        if settle_now is None or self.on_alert is not None:
            return None
        actual = _actual(usd, input_tokens, output_tokens)
        return self._settlement(*settle_now(reservation.id, actual, self._threshold(), now))

    def _threshold(self) -> int:
        return 0 if self.alert_threshold is None else int(self.alert_threshold * 1_000_000)

    def _settlement(self, status: str, raw_alerts: Sequence[RawAlert]) -> Settlement:
        if not raw_alerts:
            return Settlement(status=status)
        alerts = tuple(
            BudgetAlert(
                scope=self._keys.scope_of(base),
                dimension=dim,
                limit_usd=from_pico(limit),
                used_usd=from_pico(used),
            )
            for base, dim, limit, used in raw_alerts
        )
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
        await self._backend.set_budget(scope, values, clear)

    async def usage(self, scope: str, *, now: float | None = None) -> ScopeUsage:
        """Stored budgets of ``scope`` and what this minute, day and month have used (reserved included)."""
        return (await self.usages([scope], now=now))[0]

    async def usages(self, scopes: Sequence[str], *, now: float | None = None) -> list[ScopeUsage]:
        raw = await self._backend.usages(scopes, now)
        return [
            ScopeUsage(
                scope=scope,
                limits={dim: _from_unit(dim, v) for dim, v in limits.items() if dim in KIND},
                used={dim: _from_unit(dim, used.get(dim, "0")) for dim in DIMENSIONS},
            )
            for scope, (limits, used) in zip(scopes, raw, strict=True)
        ]

    async def outstanding(self) -> int:
        """Reservations not yet settled nor expired (for tests and health checks)."""
        return await self._backend.outstanding()


def _from_unit(dim: str, value: Any) -> Decimal | int:
    number = int(value)
    return from_pico(number) if KIND[dim] == "usd" else number


def from_pico(value: int | str) -> Decimal:
    """1e-12 USD units as USD, without trailing zeros (``Decimal('0.1')``, ``Decimal('5')``)."""
    usd = Decimal(int(value)) / PICO
    return usd.quantize(Decimal(1)) if usd == usd.to_integral_value() else usd.normalize()


def _usd(value: Decimal) -> str:
    return f"{value:.4f}" if value >= Decimal("0.0001") or value == 0 else f"{value:.8f}"


def _actual(usd: Decimal, input_tokens: int, output_tokens: int) -> dict[str, int]:
    """A settlement's actual amounts as the backends take them (1e-12 USD, tokens never negative)."""
    return {"usd": to_pico(usd), "in": max(0, input_tokens), "out": max(0, output_tokens)}
