"""Cost metering and budgets: exact prices, a conservative pre-flight bound, reserve-then-settle budgets.

- ``Ledger``: one atomic reservation of a request's worst case across every budget that applies (USD per
  UTC day and month, input and output tokens per minute; per key, per profile, per end user), settled with
  the actual usage exactly once; reservations of a dead worker expire.
- ``CostMeterMiddleware``: the gateway face; ``apply_max_cost``: what the ``max_cost(5.0)`` route
  dependencies of ``claude_guard.fastapi`` and ``claude_guard.litestar`` call; ``MeteringHook``: the egress
  face for the official SDK.
"""

from __future__ import annotations

from ._egress import MeteringHook, SyncMeteringMiddleware
from ._estimate import EstimateConfig
from ._ledger import Ledger, Settlement
from ._meter import CostMeter
from ._middleware import CostMeterMiddleware

__all__ = [
    "CostMeter",
    "CostMeterMiddleware",
    "EstimateConfig",
    "Ledger",
    "MeteringHook",
    "Settlement",
    "SyncMeteringMiddleware",
]
