"""What the rate-limit engine takes and gives: the checks of one request and the verdict on it.

Shared by the engine (``_engine.py``) and its two backends (``_memory.py``, ``_redis.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._config import Strategy

__all__ = ["Admission", "ConcurrencyCheck", "LimitCheck", "LimitState", "limit_state"]


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


_new = object.__new__
_slots: dict[str, Any] = {name: LimitState.__dict__[name].__set__ for name in LimitState.__slots__}
_policy, _quota, _window = _slots["policy"], _slots["quota"], _slots["window"]
_remaining, _reset, _allowed = _slots["remaining"], _slots["reset"], _slots["allowed"]


def limit_state(
    policy: str, quota: int, window: int, remaining: int, reset: float, allowed: bool
) -> LimitState:
    """``LimitState(...)`` for the per-request path, equal to it field by field.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; writing the slots
    directly costs a third as much, and the instance is as frozen as any other afterwards.

    >>> limit_state("p", 10, 60, 9, 1.5, True) == LimitState("p", 10, 60, 9, 1.5, True)
    True
    """
    state: LimitState = _new(LimitState)
    _policy(state, policy)
    _quota(state, quota)
    _window(state, window)
    _remaining(state, remaining)
    _reset(state, reset)
    _allowed(state, allowed)
    return state
