"""The Redis backend of the rate-limit engine: ``lua/admit.lua``, ``release.lua``, ``renew.lua`` by EVALSHA.

One admission is one script (one round trip) by Redis server time. On a cluster a script may only touch the
keys of one hash slot: a request's keys share the slot of its identity's hash tag, so only rules counted by
different identities (a per-key and a global rule) spread over several slots, and then each slot gets its own
admission (see ``_admit_across_slots``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import StoreUnavailableError
from ..store.redis import RedisStore
from ._admission import Admission, ConcurrencyCheck, LimitCheck, LimitState
from ._config import Strategy

__all__ = ["RedisLimits"]

logger = logging.getLogger("claude_guard")

_STRATEGY_CODES: dict[Strategy, int] = {"fixed_window": 1, "moving_window": 2, "sliding_window_counter": 3}

_Group = tuple[list[LimitCheck], list[ConcurrencyCheck]]


class RedisLimits:
    """Admissions, releases and renewals by the scripts in ``lua/``, for ``RateLimiter``.

    Args:
        store: the Redis store (single, Sentinel or cluster).
        lease_ttl: seconds a concurrency lease lives without renewal.
        store_timeout: upper bound in seconds of one script call.
        counters: the engine's outcome counters (``allowed``, ``denied``), counted here.
    """

    def __init__(
        self, store: RedisStore, *, lease_ttl: float, store_timeout: float, counters: Counter[str]
    ) -> None:
        self.store = store
        self.lease_ttl = lease_ttl
        self.store_timeout = store_timeout
        self.counters = counters

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        # RedisStore.run_script is the one place where a store failure becomes StoreUnavailableError. One
        # retry on a dropped connection: a pooled connection that died with a Redis restart fails once and the
        # pool reconnects on the next command, so recovery is seamless.
        return await self.store.run_script(name, keys, args, timeout=self.store_timeout, retries=1)

    # -- admit.lua ---------------------------------------------------------------------------------------

    async def admit(self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck]) -> Admission:
        """Every limit and cap at once (``admit.lua``); raises ``StoreUnavailableError``."""
        token = os.urandom(12).hex()
        groups = self._slot_groups(limits, concurrency)
        if len(groups) > 1:
            return await self._admit_across_slots(groups, limits, concurrency, token)
        raw = await self._run("ratelimit/admit", *_admit_args(limits, concurrency, token, self.lease_ttl))
        return self._admission(raw, limits, concurrency, token)

    def _slot_groups(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck]
    ) -> list[_Group]:
        if not self.store.cluster:
            return [(list(limits), list(concurrency))]
        keyslot = self.store.client.keyslot
        groups: dict[int, _Group] = {}
        for check in limits:
            groups.setdefault(keyslot(check.key), ([], []))[0].append(check)
        for cap in concurrency:
            groups.setdefault(keyslot(cap.key), ([], []))[1].append(cap)
        return list(groups.values())

    async def _admit_across_slots(
        self,
        groups: Sequence[_Group],
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
                raw = await self._run("ratelimit/admit", *args)
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
                await self.release(part, part.checks)

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

    # -- release.lua, renew.lua ----------------------------------------------------------------------------

    async def release(self, admission: Admission, refunds: Sequence[LimitCheck]) -> None:
        """Free the leases and give back ``refunds`` (``release.lua``); a store failure is only logged."""
        for group_refunds, group_leases in self._slot_groups(refunds, admission.leases):
            keys = [lease.key for lease in group_leases] + [check.key for check in group_refunds]
            args: list[Any] = [admission.token, len(group_leases), len(group_refunds)]
            for check in group_refunds:
                index = admission.checks.index(check)
                args += [_STRATEGY_CODES[check.strategy], int(admission.windows[index]), check.cost]
            try:
                await self._run("ratelimit/release", keys, args)
            except StoreUnavailableError:
                # The lease expires by itself after lease_ttl; nothing else is left behind.
                logger.warning("claude_guard: could not release a concurrency lease; it expires by itself")

    async def renew(self, admission: Admission) -> int:
        """Extend the leases by ``lease_ttl`` from now (``renew.lua``); how many were still held."""
        renewed = 0
        for _, group_leases in self._slot_groups((), admission.leases):
            keys = [lease.key for lease in group_leases]
            renewed += int(
                await self._run("ratelimit/renew", keys, [admission.token, int(self.lease_ttl * 1000)])
            )
        return renewed


def _admit_args(
    limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck], token: str, lease_ttl: float
) -> tuple[list[str], list[Any]]:
    keys = [check.key for check in limits] + [cap.key for cap in concurrency]
    args: list[Any] = [len(limits), len(concurrency), token, int(lease_ttl * 1000)]
    for check in limits:
        args += [_STRATEGY_CODES[check.strategy], check.amount, check.window * 1000, check.cost]
    args += [cap.cap for cap in concurrency]
    return keys, args
