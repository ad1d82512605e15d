"""The memory backend of the rate-limit engine: ``lua/admit.lua``, ``release.lua``, ``renew.lua`` in Python.

One process, one event loop: there is no ``await`` anywhere below, so each admission is atomic on the loop,
as the script is on Redis. The clock is the engine's (milliseconds since the epoch, passed in as ``now``),
so the arithmetic is the script's, step by step, and a test can hold the two side by side.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

from ..store import MemoryStore
from ._admission import Admission, ConcurrencyCheck, LimitCheck, LimitState, limit_state

__all__ = ["MemoryLimits"]

_MEMORY_KEY = "claude_guard.ratelimit"
_SWEEP_EVERY = 4096


class MemoryLimits:
    """Counters, sliding logs and leases in a ``MemoryStore``'s ``data``, for ``RateLimiter``.

    Args:
        store: the store whose ``data`` holds the structures (shared by every limiter on the store).
        lease_ttl: seconds a concurrency lease lives without renewal.
        counters: the engine's outcome counters (``allowed``, ``denied``), counted here.
    """

    def __init__(self, store: MemoryStore, *, lease_ttl: float, counters: Counter[str]) -> None:
        self.table: dict[str, Any] = store.data.setdefault(_MEMORY_KEY, {})
        self.expires: dict[str, float] = store.data.setdefault(_MEMORY_KEY + ".expires", {})
        self.lease_ttl = lease_ttl
        self.counters = counters
        self._ops = 0
        self._sequence = itertools.count()

    def token(self) -> str:
        """A lease and log-entry id: one process, so a counter is unique enough (and cheaper than random)."""
        return str(next(self._sequence))

    # -- admit.lua ---------------------------------------------------------------------------------------

    def admit(
        self, limits: Sequence[LimitCheck], concurrency: Sequence[ConcurrencyCheck], token: str, now: float
    ) -> Admission:
        """Every limit and cap at once: all counted and every lease taken, or nothing (``admit.lua``)."""
        state = self.table
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
                expires = self.expires
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
                limit_state(
                    check.policy,
                    check.amount,
                    check.window,
                    max(0, math.floor(check.amount - used)),
                    math.ceil(reset) / 1000,
                    ok,
                )
            )
            windows.append(win)
        if allowed:
            ttl = self.lease_ttl * 1000
            for j, cap in enumerate(concurrency):
                state[cap.key][token] = now + ttl
                self.expires[cap.key] = max(self.expires.get(cap.key, 0.0), now + ttl)
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

    def admit_one(self, check: LimitCheck, now: float) -> Admission:
        """``admit`` for the common case, one limit and no cap, without its loops (and its own ``token``).

        The same arithmetic, so the same verdicts, states and counters (a test holds the two side by side).
        """
        token = str(next(self._sequence))
        state = self.table
        self._ops += 1
        if not self._ops % _SWEEP_EVERY:
            self._drop_expired(now)
        key, w, a, cost = check.key, check.window * 1000, check.amount, check.cost
        win: float = now // w
        reset = (win + 1) * w - now
        stored = state.get(key)
        strategy = check.strategy
        if strategy == "fixed_window" and stored is not None and stored[0] == win and stored[1] + cost <= a:
            # The hottest case of all, a fixed window already counting and with room: the steps below for it.
            counted = stored[1]
            stored[1] = counted + cost
            self.expires[key] = now + reset
            left = a - counted - cost
            remaining = (left if left > 0 else 0) if left.__class__ is int else max(0, math.floor(left))
            self.counters["allowed"] += 1
            limit = limit_state(check.policy, a, check.window, remaining, math.ceil(reset) / 1000, True)
            return Admission(True, (limit,), None, None, token, (check,), (), (), (win,))
        retry = 0.0
        if strategy == "fixed_window":
            if stored is not None and stored[0] != win:
                stored = None  # an older window
            used: float = stored[1] if stored is not None else 0
            ok = used + cost <= a
            if ok:
                if stored is not None:
                    stored[1] = used + cost  # in place: no new list per request
                else:
                    state[key] = [win, used + cost]
                self.expires[key] = now + reset
            else:
                retry = reset
        elif strategy == "moving_window":
            entries = stored
            if entries is None:
                entries = state[key] = deque()
            edge = now - w
            while entries and entries[0][0] <= edge:
                entries.popleft()
            win = now
            used = len(entries)
            ok = used + cost <= a
            if ok:
                entries.extend([(now, token)] * cost)
                reset = entries[0][0] + w - now
                self.expires[key] = now + w
            else:
                retry = reset = entries[int(used) + cost - a - 1][0] + w - now
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
                self.expires[key] = now + 2 * w
            else:
                if c + cost <= a and p > 0:
                    retry = math.ceil(w * (1 - (a - c - cost) / p) - e)
                else:
                    retry = math.ceil((w - e) + w * (1 - (a - cost) / c))
                retry = reset = max(1, retry)
        if ok:
            used += cost
        left = a - used  # remaining: max(0, floor(a - used)), without the calls for a whole count
        remaining = (left if left > 0 else 0) if left.__class__ is int else max(0, math.floor(left))
        limit = limit_state(check.policy, a, check.window, remaining, math.ceil(reset) / 1000, ok)
        if ok:
            self.counters["allowed"] += 1
            return Admission(True, (limit,), None, None, token, (check,), (), (), (win,))
        self.counters["denied"] += 1
        return Admission(
            False, (limit,), math.ceil(retry) / 1000, check.policy, token, (check,), (), (), (win,)
        )

    # -- release.lua, renew.lua ----------------------------------------------------------------------------

    def release(self, admission: Admission, refunds: Sequence[LimitCheck]) -> None:
        """Free the admission's leases and give back what it counted on ``refunds`` (``release.lua``)."""
        state = self.table
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

    def renew(self, admission: Admission, now: float) -> int:
        """Extend the leases by ``lease_ttl`` from ``now``; how many were still held (``renew.lua``)."""
        renewed = 0
        until = now + self.lease_ttl * 1000
        for lease in admission.leases:
            held: dict[str, float] = self.table.get(lease.key) or {}
            if admission.token in held:
                held[admission.token] = until
                self.expires[lease.key] = until
                renewed += 1
        return renewed

    # -- expiry ----------------------------------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        # Every few thousand admissions, drop the keys that have expired (as Redis would), so memory does not
        # grow with idle principals.
        self._ops += 1
        if not self._ops % _SWEEP_EVERY:
            self._drop_expired(now)

    def _drop_expired(self, now: float) -> None:
        expired = [key for key, expiry in self.expires.items() if expiry <= now]
        for key in expired:
            del self.expires[key]
            self.table.pop(key, None)
