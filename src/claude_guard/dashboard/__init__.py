"""The dashboard: a read-only page over the audit log and the ledger, for admin keys.

Requests and refusals over time by reason, spend per key and per profile against their budgets (today and
this month), top validation rules and PII types, rate-limit headroom per key, and recent requests (ids,
decisions, cost; never content). Plain server-rendered HTML with a small script of its own (no library, no
build step, nothing fetched from elsewhere) that refreshes the figures in place.

- `DashboardApp`: the page as a pure ASGI app; `with_dashboard` serves it beside a gateway.
- `summarize` / `collect`: the figures, from records and usages (pure) or from a guard.
- ``claude-guard dashboard`` serves it alone; ``claude-guard demo`` beside the reference gateway.

See docs/dashboard.md.
"""

from __future__ import annotations

from ._app import DashboardApp, with_dashboard
from ._summary import summarize

__all__ = [
    "DashboardApp",
    "summarize",
    "with_dashboard",
]
