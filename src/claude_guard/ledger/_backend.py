"""What the ledger's two backends share: the protocol they implement, the key layout and the dimensions.

``Ledger`` (``_ledger.py``) holds the API and picks its backend once, from the store: ``_memory.py`` (the
steps without an ``await``, atomic on the event loop) or ``_redis.py`` (one Lua script per step, in
``lua/``). Both count the same integers under the same key names, so they can be tested against each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

from ..pricing import to_pico
from ..profiles import Budgets
from ..store import Store

if TYPE_CHECKING:
    from ._ledger import BudgetScope

__all__ = ["LedgerBackend", "LedgerKeys"]

DIMENSIONS: Final[tuple[str, ...]] = ("usd_day", "usd_month", "in_min", "out_min")
KIND: Final[Mapping[str, str]] = {"usd_day": "usd", "usd_month": "usd", "in_min": "in", "out_min": "out"}
KEY_TTL: Final[Mapping[str, int]] = {
    "usd_day": 2 * 86400,
    "usd_month": 40 * 86400,
    "in_min": 120,
    "out_min": 120,
}
TAG: Final = "ledger"

Denial = tuple[str, str, int, int, int, float]
"""A refused reservation: scope, dimension, limit, used, amount, seconds until the period ends."""
RawAlert = tuple[str, ...]
"""A crossed soft threshold: counter base, dimension, limit, used (integers as strings)."""
RawUsage = tuple[dict[str, str], dict[str, str]]
"""One scope's stored limits and current usage by dimension (integers as strings)."""


def limits_of(budgets: Budgets) -> Mapping[str, int | None]:
    """A ``Budgets`` as ledger limits: USD in 1e-12 USD, tokens as they are (read-only: shared).

    Every reservation asks this for each of its scopes, and the budgets of a key or profile are the same
    object request after request: converted once per distinct ``Budgets`` (keyed by value, so equal
    budgets share one entry and a changed profile's new budgets are converted afresh), bounded.
    """
    limits = _limits.get(budgets)
    if limits is None:
        limits = MappingProxyType(
            {
                "usd_day": None if budgets.usd_per_day is None else to_pico(budgets.usd_per_day),
                "usd_month": None if budgets.usd_per_month is None else to_pico(budgets.usd_per_month),
                "in_min": budgets.input_tokens_per_minute,
                "out_min": budgets.output_tokens_per_minute,
            }
        )
        if len(_limits) >= _MAX_CACHED:
            _limits.clear()
        _limits[budgets] = limits
    return limits


_MAX_CACHED: Final = 4096
_limits: dict[Budgets, Mapping[str, int | None]] = {}


def _clean(part: str) -> str:
    # Scope names come from key ids and end-user ids: keep them out of hash tags and key structure.
    cleaned = part.replace("{", "(").replace("}", ")").replace(" ", "_")
    return cleaned if len(cleaned) <= 128 else cleaned[:96] + "~" + str(abs(hash(cleaned)))


class LedgerKeys:
    """The ledger's key names; every one carries the ``{ledger}`` hash tag (one cluster slot)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index = store.key("ledger", "reservations", tag=TAG)
        """The sorted set of open reservations (record key -> expiry time)."""
        self._bases: dict[str, tuple[str, str]] = {}
        self._config = store.config

    def _names(self, scope: str) -> tuple[str, str]:
        # A scope's base and config key depend on its name and the store's prefix alone: built once per
        # scope (every reservation names two or three), bounded since scope names carry end-user ids.
        names = self._bases.get(scope)
        if names is None or self.store.config is not self._config:
            if self.store.config is not self._config:
                self._bases.clear()
                self._config = self.store.config
            base = self.store.key("ledger", _clean(scope), tag=TAG)
            names = (base, base + ":budget")
            if len(self._bases) >= _MAX_CACHED:
                self._bases.clear()
            self._bases[scope] = names
        return names

    def base(self, scope: str) -> str:
        """The prefix of a scope's counters (``<base>:<dimension>:<period>``)."""
        return self._names(scope)[0]

    def config(self, scope: str) -> str:
        """The hash of a scope's stored budgets."""
        return self._names(scope)[1]

    def record(self, reservation_id: str) -> str:
        return self.store.key("ledger", "res", reservation_id, tag=TAG)

    def scope_of(self, base: str) -> str:
        """The scope name back from a counter base."""
        head, tail = f"{self.store.config.prefix}:ledger:", f":{{{TAG}}}"
        if base.startswith(head) and base.endswith(tail):
            return base[len(head) : -len(tail)]
        return base


class LedgerBackend(Protocol):
    """One backend of the ledger; every method is one atomic step (one script on Redis)."""

    async def reserve(
        self,
        reservation_id: str,
        scopes: Sequence[BudgetScope],
        amounts: Mapping[str, int],
        ttl: float,
        now: float | None,
    ) -> Denial | None:
        """Add ``amounts`` (by dimension) to every scope's current period, or nothing and the first denial."""
        ...

    async def settle(
        self, reservation_id: str, actual: Mapping[str, int], threshold: int, now: float | None
    ) -> tuple[str, list[RawAlert]]:
        """Replace a reservation by the actual amounts (by kind: usd, in, out); ``settled``, ``late`` or
        ``missing``, and the soft thresholds (parts per million) crossed for the first time."""
        ...

    async def set_budget(self, scope: str, values: Mapping[str, str], clear: Sequence[str]) -> None: ...

    async def usages(self, scopes: Sequence[str], now: float | None) -> list[RawUsage]: ...

    async def outstanding(self) -> int: ...
