"""Alerts: callbacks for the events an operator wants to hear about, and an optional webhook sender.

Kinds: ``rate_limited``, ``budget_threshold``, ``budget_exhausted``, ``upstream_error``, ``injection_blocked``
and ``auth_failures`` (repeated authentication failures from one client address). Alerts are derived from the
finished request's context and audit record; callbacks run in background tasks, never in the request, and a
callback that raises is logged and ignored.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..context import GuardContext
from ..errors import ConfigurationError
from ._record import BUDGET, RATE_LIMIT, REFUSED_OUTCOMES, VALIDATION, AuditRecord, safe_detail

__all__ = ["Alert", "AlertCallback", "AlertKind", "Alerts", "WebhookAlertSender"]

logger = logging.getLogger("claude_guard")

AlertKind = Literal[
    "rate_limited",
    "budget_threshold",
    "budget_exhausted",
    "upstream_error",
    "injection_blocked",
    "auth_failures",
]
ALERT_KINDS: Final[tuple[AlertKind, ...]] = (
    "rate_limited",
    "budget_threshold",
    "budget_exhausted",
    "upstream_error",
    "injection_blocked",
    "auth_failures",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert. ``detail`` holds identifiers and numbers only (never prompts, PII values or keys)."""

    kind: AlertKind
    time: float
    request_id: str | None = None
    key_id: str | None = None
    profile: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "time": self.time,
            "request_id": self.request_id,
            "key_id": self.key_id,
            "profile": self.profile,
            "detail": dict(self.detail),
        }


AlertCallback = Callable[[Alert], Awaitable[None] | None]


class Alerts:
    """Alert rules and the callbacks they call.

    Args:
        callbacks: Called for every alert (sync or async callables).
        budget_thresholds: Fractions of a budget whose crossing raises ``budget_threshold`` (once per key,
            period and threshold in this process).
        auth_failure_threshold: ``auth_failures`` fires when one client address fails authentication this many
            times within ``auth_failure_window`` seconds (then its count starts again).

    Example:
        >>> seen = []
        >>> alerts = Alerts([seen.append])
        >>> alerts.on("upstream_error", lambda alert: None)
    """

    def __init__(
        self,
        callbacks: Iterable[AlertCallback] = (),
        *,
        budget_thresholds: Iterable[float] = (0.8, 0.95),
        auth_failure_threshold: int = 5,
        auth_failure_window: float = 60.0,
        max_tracked_addresses: int = 10_000,
    ) -> None:
        if auth_failure_threshold < 1 or auth_failure_window <= 0:
            raise ConfigurationError("auth_failure_threshold and auth_failure_window must be positive")
        self._callbacks: list[tuple[AlertKind | None, AlertCallback]] = [(None, cb) for cb in callbacks]
        self.budget_thresholds = tuple(sorted(budget_thresholds))
        self.auth_failure_threshold = auth_failure_threshold
        self.auth_failure_window = auth_failure_window
        self.max_tracked_addresses = max_tracked_addresses
        self._auth_failures: dict[str, deque[float]] = {}
        self._thresholds_fired: set[tuple[str, str, float]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def on(self, kind: AlertKind | None, callback: AlertCallback) -> None:
        """Call ``callback`` for alerts of ``kind`` (every kind when ``None``)."""
        if kind is not None and kind not in ALERT_KINDS:
            raise ConfigurationError(f"unknown alert kind {kind!r}")
        self._callbacks.append((kind, callback))

    def evaluate(self, ctx: GuardContext, record: AuditRecord) -> list[Alert]:
        """The alerts a finished request raises (and updates the per-address failure counts)."""
        alerts: list[Alert] = []

        def add(kind: AlertKind, **detail: Any) -> None:
            alerts.append(
                Alert(
                    kind=kind,
                    time=time.time(),
                    request_id=record.request_id,
                    key_id=record.key_id,
                    profile=record.profile,
                    detail=detail,
                )
            )

        upstream_status = ctx.upstream_status
        upstream_failed = upstream_status is not None and (upstream_status >= 500 or upstream_status == 429)
        upstream_decision = next(
            (d for d in ctx.decisions if d.protection == "upstream" and d.outcome != "called"), None
        )
        if upstream_failed or upstream_decision is not None:
            add(
                "upstream_error",
                status=upstream_status if upstream_status is not None else record.status,
                outcome=upstream_decision.outcome if upstream_decision else "error",
            )
        for decision in ctx.decisions:
            detail = safe_detail(decision.detail)
            refused = decision.outcome in REFUSED_OUTCOMES
            if decision.protection in RATE_LIMIT and refused:
                add("rate_limited", **{**detail, "protection": decision.protection})
            elif decision.protection in BUDGET:
                if decision.outcome == "alert":
                    used, limit = detail.get("used_usd"), detail.get("limit_usd")
                    if isinstance(used, float) and isinstance(limit, float) and limit > 0:
                        add("budget_threshold", **{**detail, "used_fraction": used / limit})
                elif refused and decision.protection in ("budget", "ledger"):
                    add("budget_exhausted", **{**detail, "protection": decision.protection})
                else:
                    self._budget_threshold(record, detail, add)
            elif decision.protection in VALIDATION and refused:
                rules = " ".join(record.rule_ids) + " " + str(detail.get("category", ""))
                if "injection" in rules.lower() or decision.protection == "injection":
                    add("injection_blocked", rule_ids=list(record.rule_ids))
        if not any(a.kind == "rate_limited" for a in alerts) and record.status == 429 and not upstream_failed:
            add("rate_limited")
        if (
            not any(a.kind == "budget_exhausted" for a in alerts)
            and record.status == 402
            and not upstream_failed
        ):
            add("budget_exhausted")
        if record.status == 401 and upstream_status is None and ctx.client_addr:
            count = self._auth_failure(ctx.client_addr)
            if count is not None:
                add(
                    "auth_failures",
                    client_addr=ctx.client_addr,
                    failures=count,
                    window_seconds=self.auth_failure_window,
                )
        return alerts

    def _budget_threshold(
        self, record: AuditRecord, detail: Mapping[str, Any], add: Callable[..., None]
    ) -> None:
        fraction = detail.get("used_fraction")
        if not isinstance(fraction, int | float):
            spent, limit = detail.get("spent"), detail.get("limit")
            remaining = detail.get("remaining")
            if isinstance(limit, int | float) and limit > 0:
                if isinstance(spent, int | float):
                    fraction = spent / limit
                elif isinstance(remaining, int | float):
                    fraction = 1 - remaining / limit
        if not isinstance(fraction, int | float):
            return
        crossed = [t for t in self.budget_thresholds if fraction >= t]
        if not crossed:
            return
        threshold = crossed[-1]
        period = str(detail.get("period", ""))
        marker = (record.key_id or "", period, threshold)
        if marker in self._thresholds_fired:
            return
        self._thresholds_fired.add(marker)
        add("budget_threshold", threshold=threshold, used_fraction=float(fraction), period=period or None)

    def _auth_failure(self, address: str) -> int | None:
        now = time.monotonic()
        times = self._auth_failures.get(address)
        if times is None:
            if len(self._auth_failures) >= self.max_tracked_addresses:
                # Forget the oldest address: a flood of addresses must not grow memory without bound.
                self._auth_failures.pop(next(iter(self._auth_failures)))
            times = self._auth_failures[address] = deque()
        times.append(now)
        while times and now - times[0] > self.auth_failure_window:
            times.popleft()
        if len(times) >= self.auth_failure_threshold:
            count = len(times)
            times.clear()
            return count
        return None

    def dispatch(self, alerts: Iterable[Alert]) -> None:
        """Hand alerts to their callbacks in background tasks (needs a running event loop)."""
        for alert in alerts:
            for kind, callback in self._callbacks:
                if kind is None or kind == alert.kind:
                    task = asyncio.get_running_loop().create_task(_call(callback, alert))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for callbacks still running (at shutdown, and in tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _call(callback: AlertCallback, alert: Alert) -> None:
    try:
        result = callback(alert)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("claude_guard: an alert callback failed (%s)", alert.kind)


class WebhookAlertSender:
    """An alert callback that POSTs each alert as JSON to a URL, with a bounded timeout.

    A failing webhook is logged (without the URL's query string, which may carry a token) and never raises.

    Example:
        >>> sender = WebhookAlertSender("https://hooks.example.com/claude-guard", timeout=3.0)
        >>> alerts = Alerts([sender])
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        client: Any = None,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._client = client

    def __repr__(self) -> str:
        return f"WebhookAlertSender({self.url.split('?')[0]!r}, timeout={self.timeout})"

    async def __call__(self, alert: Alert) -> None:
        import httpx

        payload = alert.to_dict()
        try:
            if self._client is not None:
                response = await self._client.post(
                    self.url, json=payload, headers=self.headers, timeout=self.timeout
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                    response = await client.post(self.url, json=payload, headers=self.headers)
            if response.status_code >= 400:
                logger.warning(
                    "claude_guard: alert webhook %s answered HTTP %d",
                    self.url.split("?")[0],
                    response.status_code,
                )
        except httpx.HTTPError as exc:
            logger.warning(
                "claude_guard: alert webhook %s failed (%s)", self.url.split("?")[0], type(exc).__name__
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
