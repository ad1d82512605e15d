"""The rate-limit engine: one atomic admission over every limit and concurrency cap of a request.

``limits`` checks one limit at a time and its fixed window counts a request even when it denies it, so the
multi-limit admission is our own: a Lua script on Redis (``ratelimit/lua/admit.lua``, by Redis server
time) and its memory twin (no ``await`` between check and increment). Either all limits have room and all are
counted, or none is. Concurrency caps are leases in the same round trip: a sorted set of lease ids scored by
expiry, released in one more round trip, renewed while a long request runs, and gone by themselves when a
worker dies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import math
import os
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreUnavailableError
from ..store import MemoryStore, Store
from ._config import Strategy

__all__ = ["Admission", "ConcurrencyCheck", "LimitCheck", "LimitState", "RateLimiter"]

logger = logging.getLogger("claude_guard")

_STRATEGY_CODES: dict[Strategy, int] = {"fixed_window": 1, "moving_window": 2, "sliding_window_counter": 3}
_MEMORY_KEY = "claude_guard.ratelimit"


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """One limit to check for one request: ``amount`` per ``window`` seconds on ``key``."""

    key: str
    amount: int
    window: int
    strategy: Strategy
    policy: str
    cost: int = 1


@dataclass(frozen=True, slots=True)
class ConcurrencyCheck:
    """One concurrency cap to hold a lease on: at most ``cap`` leases of ``key`` at once."""

    key: str
    cap: int
    policy: str


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where one limit stands after an admission, for headers and audit."""

    policy: str
    quota: int
    window: int
    remaining: int
    reset: float
    """Seconds until quota returns: the end of the window, or for an exhausted limit the real shortfall."""
    allowed: bool


@dataclass(slots=True, eq=False)
class Admission:
    """The verdict on one request, and what ``release`` needs to undo or free."""

    allowed: bool
    limits: tuple[LimitState, ...]
    retry_after: float | None = None
    """Seconds until every limit that denied has room again (``None`` when allowed)."""
    denied_by: str | None = None
    """The policy name that denied (the one with the longest wait)."""
    token: str = ""
    checks: tuple[LimitCheck, ...] = ()
    leases: tuple[ConcurrencyCheck, ...] = ()
    in_use: tuple[int, ...] = ()
    windows: tuple[float, ...] = ()
    released: bool = field(default=False)


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
            raise ValueError("lease_ttl and store_timeout must be positive")
        self.store: Store = store if store is not None else MemoryStore()
        self.lease_ttl = lease_ttl
        self.store_timeout = store_timeout
        self.counters: Counter[str] = Counter()
        """Outcomes seen: ``allowed``, ``denied``, ``fail_open``, ``fail_closed``, ``refunded``."""
        self._background: set[asyncio.Task[None]] = set()
        self.plan_cache: dict[tuple[int, str, str], Any] = {}
        """Checks already built per (rule, name, identity), so a hot path does not rebuild keys."""
        self._memory_ops = 0
        self._memory = isinstance(self.store, MemoryStore)
        self._sequence = itertools.count()
        if isinstance(self.store, MemoryStore):
            self._state: dict[str, Any] = self.store.data.setdefault(_MEMORY_KEY, {})
            self._expires: dict[str, float] = self.store.data.setdefault(_MEMORY_KEY + ".expires", {})

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
        token = os.urandom(12).hex()
        groups = self._slot_groups(limits, concurrency)
        if len(groups) > 1:
            return await self._admit_across_slots(groups, limits, concurrency, token)
        raw = await self._redis("ratelimit/admit", *_admit_args(limits, concurrency, token, self.lease_ttl))
        return self._admission(raw, limits, concurrency, token)

    def _slot_groups(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck]
    ) -> list[tuple[list[LimitCheck], list[ConcurrencyCheck]]]:
        # On a Redis Cluster one script may only touch keys of one hash slot. A request's keys share the slot
        # of its identity's hash tag; only rules counted by different identities (a per-key and a global
        # rule) spread over several slots, and then each slot gets its own admission.
        if not getattr(self.store, "cluster", False):
            return [(list(limits), list(concurrency))]
        keyslot = self.store.client.keyslot  # type: ignore[attr-defined]
        groups: dict[int, tuple[list[LimitCheck], list[ConcurrencyCheck]]] = {}
        for check in limits:
            groups.setdefault(keyslot(check.key), ([], []))[0].append(check)
        for cap in concurrency:
            groups.setdefault(keyslot(cap.key), ([], []))[1].append(cap)
        return list(groups.values())

    async def _admit_across_slots(
        self,
        groups: Sequence[tuple[list[LimitCheck], list[ConcurrencyCheck]]],
        limits: Sequence[LimitCheck],
        concurrency: Sequence[ConcurrencyCheck],
        token: str,
    ) -> Admission:
        # Each slot admits atomically; the request is admitted only if every slot did, else what the others
        # counted is given back at once. No limit is ever exceeded: a denied request may only hold quota of
        # another slot for the moment between the two round trips.
        parts: list[Admission] = []
        try:
            for group_limits, group_caps in groups:
                args = _admit_args(group_limits, group_caps, token, self.lease_ttl)
                raw = await self._redis("ratelimit/admit", *args)
                parts.append(self._admission(raw, group_limits, group_caps, token, count=False))
        except StoreUnavailableError:
            await self._undo(parts)
            raise
        allowed = all(part.allowed for part in parts)
        if not allowed:
            await self._undo(parts)
        states: dict[int, tuple[LimitState, float]] = {}
        in_use: dict[int, int] = {}
        for (_, group_caps), part in zip(groups, parts, strict=True):
            for check, state, window in zip(part.checks, part.limits, part.windows, strict=True):
                if not allowed and part.allowed:
                    # undone: report it as one admission would have, nothing counted
                    remaining = min(state.quota, state.remaining + check.cost)
                    state = dataclasses.replace(state, remaining=remaining)
                states[id(check)] = (state, window)
            for cap, n in zip(group_caps, part.in_use, strict=True):
                in_use[id(cap)] = n
        denials = [part for part in parts if not part.allowed]
        worst = max(denials, key=lambda part: part.retry_after or 0.0, default=None)
        self.counters["allowed" if allowed else "denied"] += 1
        return Admission(
            allowed=allowed,
            limits=tuple(states[id(check)][0] for check in limits),
            retry_after=None if worst is None else worst.retry_after,
            denied_by=None if worst is None else worst.denied_by,
            token=token,
            checks=tuple(limits),
            leases=tuple(concurrency) if allowed else (),
            in_use=tuple(in_use.get(id(cap), 0) for cap in concurrency),
            windows=tuple(states[id(check)][1] for check in limits),
        )

    async def _undo(self, parts: Sequence[Admission]) -> None:
        for part in parts:
            if part.allowed:
                await self._release_redis(part, part.checks)

    def admit_nowait(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck] = ()
    ) -> Admission | None:
        """``admit`` without an ``await`` in memory; ``None`` for a store that needs a round trip."""
        for check in limits:
            if not 0 < check.cost <= check.amount:
                raise ValueError(f"cost of {check.policy} must be between 1 and its amount")
        if not self._memory:
            return None
        # One process: a counter is unique enough, and cheaper than random bytes.
        token = str(next(self._sequence))
        if not concurrency and len(limits) == 1:
            return self._admit_one(limits[0], token)
        return self._admit_memory(limits, concurrency, token)

    def _admission(
        self,
        raw: Sequence[Any],
        limits: Sequence[LimitCheck],
        concurrency: Sequence[ConcurrencyCheck],
        token: str,
        *,
        count: bool = True,
    ) -> Admission:
        allowed = bool(int(raw[0]))
        denied_index = int(raw[1])
        states: list[LimitState] = []
        windows: list[float] = []
        retry = 0.0
        for i, check in enumerate(limits):
            ok, remaining, reset_ms, retry_ms, win = raw[3 + i * 5 : 8 + i * 5]
            states.append(
                LimitState(
                    policy=check.policy,
                    quota=check.amount,
                    window=check.window,
                    remaining=int(remaining),
                    reset=max(0.0, float(reset_ms) / 1000),
                    allowed=bool(int(ok)),
                )
            )
            windows.append(float(win))
            if not int(ok):
                retry = max(retry, float(retry_ms) / 1000)
        base = 3 + len(limits) * 5
        in_use = tuple(int(n) for n in raw[base : base + len(concurrency)])
        denied_by: str | None = None
        if not allowed:
            if 0 < denied_index <= len(limits):
                denied_by = limits[denied_index - 1].policy
            elif denied_index > len(limits):
                denied_by = concurrency[denied_index - len(limits) - 1].policy
                # A lease frees when some request ends, which nobody can know: suggest a short wait.
                retry = max(retry, 1.0)
        if count:
            self.counters["allowed" if allowed else "denied"] += 1
        return Admission(
            allowed=allowed,
            limits=tuple(states),
            retry_after=None if allowed else retry,
            denied_by=denied_by,
            token=token,
            checks=tuple(limits),
            leases=tuple(concurrency) if allowed else (),
            in_use=in_use,
            windows=tuple(windows),
        )

    async def release(self, admission: Admission, *, refund: bool = False) -> None:
        """Free the admission's leases and, with ``refund``, give back what it counted; once, idempotent.

        Safe to call from a ``finally`` of a cancelled task: the store operation runs in a task of its own
        that a second cancellation does not interrupt.
        """
        if self.release_nowait(admission, refund=refund):
            return
        admission.released = True
        refunds = admission.checks if refund else ()
        if refund:
            self.counters["refunded"] += 1
        task = asyncio.ensure_future(self._release_redis(admission, refunds))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.shield(task)

    async def _release_redis(self, admission: Admission, refunds: Sequence[LimitCheck]) -> None:
        for group_refunds, group_leases in self._slot_groups(refunds, admission.leases):
            keys = [lease.key for lease in group_leases] + [check.key for check in group_refunds]
            args: list[Any] = [admission.token, len(group_leases), len(group_refunds)]
            for check in group_refunds:
                index = admission.checks.index(check)
                args += [_STRATEGY_CODES[check.strategy], int(admission.windows[index]), check.cost]
            try:
                await self._redis("ratelimit/release", keys, args)
            except StoreUnavailableError:
                # The lease expires by itself after lease_ttl; nothing else is left behind.
                logger.warning("claude_guard: could not release a concurrency lease; it expires by itself")

    async def renew(self, admission: Admission) -> int:
        """Extend the admission's leases by ``lease_ttl`` from now; returns how many were still held."""
        if not admission.leases or admission.released:
            return 0
        if isinstance(self.store, MemoryStore):
            now = time.time() * 1000
            renewed = 0
            for lease in admission.leases:
                held: dict[str, float] = self._state.get(lease.key) or {}
                if admission.token in held:
                    held[admission.token] = now + self.lease_ttl * 1000
                    self._expires[lease.key] = now + self.lease_ttl * 1000
                    renewed += 1
            return renewed
        renewed = 0
        for _, group_leases in self._slot_groups((), admission.leases):
            keys = [lease.key for lease in group_leases]
            renewed += int(
                await self._redis("ratelimit/renew", keys, [admission.token, int(self.lease_ttl * 1000)])
            )
        return renewed

    async def renew_while_running(self, admission: Admission) -> None:
        """Renew the leases every third of ``lease_ttl`` until cancelled (a task beside the request)."""
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await self.renew(admission)
            except StoreUnavailableError:
                logger.warning("claude_guard: could not renew a concurrency lease; retrying")

    # -- redis ---------------------------------------------------------------------------------------------

    async def _redis(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError

        script = self.store.script(name)  # type: ignore[attr-defined]
        try:
            async with asyncio.timeout(self.store_timeout):
                try:
                    return await script(keys=list(keys), args=list(args))
                except RedisConnectionError:
                    # A pooled connection that died with a Redis restart fails once; the pool reconnects on
                    # the next command, so one immediate retry makes recovery seamless.
                    return await script(keys=list(keys), args=list(args))
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailableError() from exc

    # -- memory twin ----------------------------------------------------------------------------------------

    def _admit_memory(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck], token: str
    ) -> Admission:
        # Mirrors ratelimit/lua/admit.lua step by step; no await anywhere, so it is atomic on the event loop.
        state = self._state
        now = time.time() * 1000
        self._sweep(now)
        allowed = True
        denied = 0
        worst = -1.0
        # Per limit: (ok, used, reset_ms, retry_ms, window id, sliding c, sliding p, moving entries)
        rows: list[tuple[bool, float, float, float, float, int, int, Any]] = []
        for i, check in enumerate(limits, start=1):
            w, a, c0 = check.window * 1000, check.amount, check.cost
            c = p = 0
            entries: Any = None
            retry = 0.0
            strategy = check.strategy
            if strategy == "fixed_window":
                win: float = now // w
                stored = state.get(check.key)
                used: float = stored[1] if stored is not None and stored[0] == win else 0
                reset = (win + 1) * w - now
                ok = used + c0 <= a
                if not ok:
                    retry = reset
            elif strategy == "moving_window":
                entries = state.get(check.key)
                if entries is None:
                    entries = state[check.key] = deque()
                while entries and entries[0][0] <= now - w:
                    entries.popleft()
                win = now
                used = len(entries)
                reset = entries[0][0] + w - now if entries else w
                ok = used + c0 <= a
                if not ok:
                    retry = reset = entries[int(used) + c0 - a - 1][0] + w - now
            else:
                win = now // w
                stored = state.get(check.key)
                if stored is not None and stored[0] == win:
                    c, p = stored[1], stored[2]
                elif stored is not None and stored[0] == win - 1:
                    p = stored[1]
                e = now - win * w
                used = p * (w - e) / w + c
                reset = (win + 1) * w - now
                ok = used + c0 <= a
                if not ok:
                    if c + c0 <= a and p > 0:
                        retry = math.ceil(w * (1 - (a - c - c0) / p) - e)
                    else:
                        retry = math.ceil((w - e) + w * (1 - (a - c0) / c))
                    retry = reset = max(1, retry)
            if not ok:
                allowed = False
                if retry > worst:
                    worst = retry
                    denied = i
            rows.append((ok, used, reset, retry, win, c, p, entries))
        in_use: list[int] = []
        denied_cap: ConcurrencyCheck | None = None
        for cap in concurrency:
            held: dict[str, float] | None = state.get(cap.key)
            if held is None:
                held = state[cap.key] = {}
            for lease_id in [k for k, expiry in held.items() if expiry <= now]:
                del held[lease_id]
            in_use.append(len(held))
            if len(held) >= cap.cap:
                allowed = False
                if denied == 0 and denied_cap is None:
                    denied_cap = cap
        states: list[LimitState] = []
        windows: list[float] = []
        for check, row in zip(limits, rows, strict=True):
            ok, used, reset, retry, win, c, p, entries = row
            if allowed:
                expires = self._expires
                if check.strategy == "fixed_window":
                    state[check.key] = [win, used + check.cost]
                    expires[check.key] = now + reset
                elif check.strategy == "moving_window":
                    # one entry per unit of cost, like the sorted set's members "token:k" in Redis
                    entries.extend([(now, token)] * check.cost)
                    reset = entries[0][0] + check.window * 1000 - now
                    expires[check.key] = now + check.window * 1000
                else:
                    state[check.key] = [win, c + check.cost, p]
                    expires[check.key] = now + 2 * check.window * 1000
                used += check.cost
            states.append(
                LimitState(
                    policy=check.policy,
                    quota=check.amount,
                    window=check.window,
                    remaining=max(0, math.floor(check.amount - used)),
                    reset=math.ceil(reset) / 1000,
                    allowed=ok,
                )
            )
            windows.append(win)
        if allowed:
            ttl = self.lease_ttl * 1000
            for j, cap in enumerate(concurrency):
                state[cap.key][token] = now + ttl
                self._expires[cap.key] = max(self._expires.get(cap.key, 0.0), now + ttl)
                in_use[j] += 1
            self.counters["allowed"] += 1
            return Admission(
                allowed=True,
                limits=tuple(states),
                token=token,
                checks=tuple(limits),
                leases=tuple(concurrency),
                in_use=tuple(in_use),
                windows=tuple(windows),
            )
        self.counters["denied"] += 1
        retry_after = max((math.ceil(r[3]) / 1000 for r in rows if not r[0]), default=0.0)
        denied_by = limits[denied - 1].policy if denied else None
        if denied_by is None and denied_cap is not None:
            denied_by = denied_cap.policy
            retry_after = max(retry_after, 1.0)
        return Admission(
            allowed=False,
            limits=tuple(states),
            retry_after=retry_after,
            denied_by=denied_by,
            token=token,
            checks=tuple(limits),
            in_use=tuple(in_use),
            windows=tuple(windows),
        )

    def _admit_one(self, check: LimitCheck, token: str) -> Admission:
        # _admit_memory for the common case, one limit and no cap, without its loops: the same arithmetic, so
        # the same verdicts, states and counters (a test holds the two side by side).
        state = self._state
        now = time.time() * 1000
        self._memory_ops += 1
        if not self._memory_ops % 4096:
            self._drop_expired(now)
        key, w, a, cost = check.key, check.window * 1000, check.amount, check.cost
        win: float = now // w
        reset = (win + 1) * w - now
        stored = state.get(key)
        retry = 0.0
        if check.strategy == "moving_window":
            entries = stored
            if entries is None:
                entries = state[key] = deque()
            edge = now - w
            while entries and entries[0][0] <= edge:
                entries.popleft()
            win = now
            used: float = len(entries)
            ok = used + cost <= a
            if ok:
                entries.extend([(now, token)] * cost)
                reset = entries[0][0] + w - now
                self._expires[key] = now + w
            else:
                retry = reset = entries[int(used) + cost - a - 1][0] + w - now
        elif check.strategy == "fixed_window":
            if stored is not None and stored[0] != win:
                stored = None  # an older window
            used = stored[1] if stored is not None else 0
            ok = used + cost <= a
            if ok:
                if stored is not None:
                    stored[1] = used + cost  # in place: no new list per request
                else:
                    state[key] = [win, used + cost]
                self._expires[key] = now + reset
            else:
                retry = reset
        else:
            c = p = 0
            if stored is not None and stored[0] == win:
                c, p = stored[1], stored[2]
            elif stored is not None and stored[0] == win - 1:
                p = stored[1]
            e = now - win * w
            used = p * (w - e) / w + c
            ok = used + cost <= a
            if ok:
                state[key] = [win, c + cost, p]
                self._expires[key] = now + 2 * w
            else:
                if c + cost <= a and p > 0:
                    retry = math.ceil(w * (1 - (a - c - cost) / p) - e)
                else:
                    retry = math.ceil((w - e) + w * (1 - (a - cost) / c))
                retry = reset = max(1, retry)
        if ok:
            used += cost
        limit = LimitState(
            policy=check.policy,
            quota=a,
            window=check.window,
            remaining=max(0, math.floor(a - used)),
            reset=math.ceil(reset) / 1000,
            allowed=ok,
        )
        if ok:
            self.counters["allowed"] += 1
            return Admission(allowed=True, limits=(limit,), token=token, checks=(check,), windows=(win,))
        self.counters["denied"] += 1
        return Admission(
            allowed=False,
            limits=(limit,),
            retry_after=math.ceil(retry) / 1000,
            denied_by=check.policy,
            token=token,
            checks=(check,),
            windows=(win,),
        )

    def release_nowait(self, admission: Admission, *, refund: bool = False) -> bool:
        """``release`` when it needs no store round trip (memory, or nothing to free); ``False`` otherwise."""
        if admission.released or not admission.allowed:
            return True
        refunds = admission.checks if refund else ()
        if not admission.leases and not refunds:
            admission.released = True
            return True
        if not self._memory:
            return False
        admission.released = True
        if refund:
            self.counters["refunded"] += 1
        self._release_memory(admission, refunds)
        return True

    def _release_memory(self, admission: Admission, refunds: Sequence[LimitCheck]) -> None:
        state = self._state
        for lease in admission.leases:
            held = state.get(lease.key)
            if held is not None:
                held.pop(admission.token, None)
        for check in refunds:
            win = admission.windows[admission.checks.index(check)]
            if check.strategy == "moving_window":
                entries = state.get(check.key)
                if entries is not None:
                    state[check.key] = deque(e for e in entries if e[1] != admission.token)
                continue
            stored = state.get(check.key)
            if stored is None:
                continue
            if stored[0] == win:
                stored[1] = max(0, stored[1] - check.cost)
            elif check.strategy == "sliding_window_counter" and stored[0] == win + 1:
                stored[2] = max(0, stored[2] - check.cost)

    def _sweep(self, now: float) -> None:
        # Every few thousand admissions, drop the keys that have expired (as Redis would), so memory does not
        # grow with idle principals.
        self._memory_ops += 1
        if not self._memory_ops % 4096:
            self._drop_expired(now)

    def _drop_expired(self, now: float) -> None:
        expired = [key for key, expiry in self._expires.items() if expiry <= now]
        for key in expired:
            del self._expires[key]
            self._state.pop(key, None)


def _admit_args(
    limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck], token: str, lease_ttl: float
) -> tuple[list[str], list[Any]]:
    keys = [check.key for check in limits] + [cap.key for cap in concurrency]
    args: list[Any] = [len(limits), len(concurrency), token, int(lease_ttl * 1000)]
    for check in limits:
        args += [_STRATEGY_CODES[check.strategy], check.amount, check.window * 1000, check.cost]
    args += [cap.cap for cap in concurrency]
    return keys, args
