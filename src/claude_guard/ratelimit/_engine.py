"""The rate-limit engine: one atomic admission over every limit and concurrency cap of a request.

``limits`` checks one limit at a time and its fixed window counts a request even when it denies it, so the
multi-limit admission is our own: either all limits have room and all are counted, or none is. Concurrency
caps are leases in the same operation: lease ids with an expiry, released in one more, renewed while a long
request runs, and gone by themselves when a worker dies.

Like ``limits`` picks a storage class per backend, ``RateLimiter`` picks its backend once, from the store it
is given: ``_memory.MemoryLimits`` (the algorithm in Python, atomic on the event loop) or
``_redis.RedisLimits`` (the same algorithm as Lua scripts in ``lua/``, by Redis server time, one round trip
per admission).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError, StoreUnavailableError
from ..store import MemoryStore, Store
from ._admission import Admission, ConcurrencyCheck, LimitCheck, LimitState
from ._memory import MemoryLimits
from ._redis import RedisLimits

__all__ = ["Admission", "ConcurrencyCheck", "LimitCheck", "LimitState", "RateLimiter"]

logger = logging.getLogger("claude_guard")


class RateLimiter:
    """The engine shared by ``RateLimitMiddleware`` and the ``rate_limit`` dependency.

    Args:
        store: where counters live: a ``MemoryStore`` (one process) or a ``RedisStore`` (every replica).
        lease_ttl: seconds a concurrency lease lives without renewal; running requests renew theirs every
            third of it, so only a dead worker's leases expire.
        store_timeout: upper bound in seconds of one store operation.

    Example:
        >>> import asyncio
        >>> limiter = RateLimiter()
        >>> check = LimitCheck(key="demo", amount=2, window=60, strategy="fixed_window", policy="demo")
        >>> async def three():
        ...     return [(await limiter.admit([check])).allowed for _ in range(3)]
        >>> asyncio.run(three())
        [True, True, False]
    """

    def __init__(
        self, store: Store | None = None, *, lease_ttl: float = 60.0, store_timeout: float = 2.0
    ) -> None:
        if lease_ttl <= 0 or store_timeout <= 0:
            raise ConfigurationError("lease_ttl and store_timeout must be positive")
        self.store: Store = store if store is not None else MemoryStore()
        self.lease_ttl = lease_ttl
        self.store_timeout = store_timeout
        self.counters: Counter[str] = Counter()
        """Outcomes seen: ``allowed``, ``denied``, ``fail_open``, ``fail_closed``, ``refunded``."""
        self._background: set[asyncio.Task[None]] = set()
        self.plan_cache: dict[tuple[int, str, str], Any] = {}
        """Checks already built per (rule, name, identity), so a hot path does not rebuild keys."""
        # The backend, chosen once by the store: exactly one of the two is set.
        backend: MemoryLimits | RedisLimits = self.store.pick(
            memory=lambda store: MemoryLimits(store, lease_ttl=lease_ttl, counters=self.counters),
            redis=lambda store: RedisLimits(
                store, lease_ttl=lease_ttl, store_timeout=store_timeout, counters=self.counters
            ),
        )
        self._memory = backend if isinstance(backend, MemoryLimits) else None
        self.memory = self._memory
        """The memory backend, or ``None`` for a store that needs round trips (the middleware inlines it)."""
        self._redis = backend if isinstance(backend, RedisLimits) else None
        if self._memory is not None:
            self._state = self._memory.table
            self._expires = self._memory.expires

    def __repr__(self) -> str:
        return f"RateLimiter(store={self.store!r}, lease_ttl={self.lease_ttl})"

    # -- admission ---------------------------------------------------------------------------------------

    async def admit(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck] = ()
    ) -> Admission:
        """Check every limit and cap; count them all and take every lease only if all have room.

        Raises ``StoreUnavailableError`` when the store cannot be reached within the bounds.
        """
        admission = self.admit_nowait(limits, concurrency)
        if admission is not None:
            return admission
        assert self._redis is not None
        return await self._redis.admit(limits, concurrency)

    def admit_nowait(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck] = ()
    ) -> Admission | None:
        """``admit`` without an ``await`` in memory; ``None`` for a store that needs a round trip."""
        memory = self._memory
        if memory is not None and len(limits) == 1 and not concurrency:  # the common case, without loops
            check = limits[0]
            if 0 < check.cost <= check.amount:
                return memory.admit_one(check, time.time() * 1000)
        for check in limits:
            if not 0 < check.cost <= check.amount:
                raise ValueError(f"cost of {check.policy} must be between 1 and its amount")
        if memory is None:
            return None
        return memory.admit(limits, concurrency, memory.token(), time.time() * 1000)

    def _admit_memory(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck], token: str
    ) -> Admission:
        # The general memory admission (no single-limit shortcut), for the test holding the two side by side.
        assert self._memory is not None
        return self._memory.admit(limits, concurrency, token, time.time() * 1000)

    # -- release and renewal -------------------------------------------------------------------------------

    async def release(self, admission: Admission, *, refund: bool = False) -> None:
        """Free the admission's leases and, with ``refund``, give back what it counted; once, idempotent.

        Safe to call from a ``finally`` of a cancelled task: the store operation runs in a task of its own
        that a second cancellation does not interrupt.
        """
        if self.release_nowait(admission, refund=refund):
            return
        assert self._redis is not None
        admission.released = True
        refunds = admission.checks if refund else ()
        if refund:
            self.counters["refunded"] += 1
        task = asyncio.ensure_future(self._redis.release(admission, refunds))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.shield(task)

    def release_nowait(self, admission: Admission, *, refund: bool = False) -> bool:
        """``release`` when it needs no store round trip (memory, or nothing to free); ``False`` otherwise."""
        if admission.released or not admission.allowed:
            return True
        refunds = admission.checks if refund else ()
        if not admission.leases and not refunds:
            admission.released = True
            return True
        if self._memory is None:
            return False
        admission.released = True
        if refund:
            self.counters["refunded"] += 1
        self._memory.release(admission, refunds)
        return True

    def _release_memory(self, admission: Admission, refunds: Sequence[LimitCheck]) -> None:
        assert self._memory is not None
        self._memory.release(admission, refunds)

    async def renew(self, admission: Admission) -> int:
        """Extend the admission's leases by ``lease_ttl`` from now; returns how many were still held."""
        if not admission.leases or admission.released:
            return 0
        if self._memory is not None:
            return self._memory.renew(admission, time.time() * 1000)
        assert self._redis is not None
        return await self._redis.renew(admission)

    async def renew_while_running(self, admission: Admission) -> None:
        """Renew the leases every third of ``lease_ttl`` until cancelled (a task beside the request)."""
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await self.renew(admission)
            except StoreUnavailableError:
                logger.warning("claude_guard: could not renew a concurrency lease; retrying")
