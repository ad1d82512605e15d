"""The cost meter: per-request maximum cost, budget reservation and exact settlement, on both faces.

``CostMeter`` is the policy (no HTTP in it); ``CostMeterMiddleware`` (in ``_middleware``) is its ASGI face for
gateway routes, ``apply_max_cost`` what the ``max_cost`` route dependencies of ``claude_guard.fastapi`` and
``claude_guard.litestar`` call, and ``MeteringHook`` (in ``_egress``) its face on outgoing SDK calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from .._otel_api import no_meter_providers
from ..context import GuardContext
from ..errors import ConfigurationError, CostLimitExceededError, GuardError, StoreUnavailableError
from ..messages import Usage
from ..pricing import Cost, PriceTable
from ..profiles import Budgets
from ._estimate import Estimate, EstimateConfig, estimate_request
from ._ledger import BudgetScope, Ledger, Reservation, Settlement

__all__ = [
    "COST_HEADER",
    "CostMeter",
    "Metered",
    "apply_max_cost",
    "route_max_cost",
]

logger = logging.getLogger("claude_guard")

COST_HEADER: Final = "claude-guard-cost-usd"
_background: set[asyncio.Task[Any]] = set()


def _decimal(value: Decimal | float | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(slots=True, kw_only=True)
class Metered:
    """One admitted call: its estimate and reservation, settled exactly once."""

    estimate: Estimate
    reservation: Reservation
    settled: bool = False
    cost: Cost | None = None
    usage: Usage = field(default_factory=Usage)
    observed: Callable[[], Usage] | None = None
    """Usage seen so far on a stream still being read (settled from it if the request ends first)."""


class CostMeter:
    """The cost policy shared by the ingress middleware, the route dependency and the egress hook.

    Args:
        ledger: where budgets are reserved and settled.
        prices: the price table.
        max_cost: default maximum worst-case USD of one request (``CLAUDE_MAX_COST``); ``None`` for none.
        anonymous_key: the principal charged when no client key was authenticated.
        user_budgets: budgets per end user (``metadata.user_id``, namespaced by key); ``None`` for none.
        estimate: allowances of the pre-flight estimate.
        count_tokens: optional async callable giving the exact input tokens of a request body (the
            upstream ``count_tokens``), used instead of the byte bound; ``None`` from it keeps the bound.
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        prices: PriceTable,
        max_cost: Decimal | float | None = Decimal("1.0"),
        anonymous_key: str = "anonymous",
        user_budgets: Budgets | None = None,
        estimate: EstimateConfig | None = None,
        count_tokens: Callable[[Mapping[str, Any]], Awaitable[int | None]] | None = None,
        mode: Literal["enforce", "shadow", "off"] = "enforce",
    ) -> None:
        if mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("CostMeter mode must be enforce, shadow or off.")
        self.mode = mode
        """``shadow``: a request over its maximum cost or a budget is recorded as ``would_refuse`` and goes
        on; ``off``: neither is checked. Either way its spend is still metered and settled in the ledger."""
        self.ledger = ledger
        self.prices = prices
        self.max_cost = None if max_cost is None else _decimal(max_cost)
        self.anonymous_key = anonymous_key
        self.user_budgets = user_budgets
        self.estimate_config = estimate or EstimateConfig()
        self.count_tokens = count_tokens

    def __repr__(self) -> str:
        return f"CostMeter(ledger={self.ledger!r}, max_cost={self.max_cost})"

    def key_id(self, ctx: GuardContext) -> str:
        return ctx.principal.key_id if ctx.principal is not None else self.anonymous_key

    def scopes(self, ctx: GuardContext, body: Mapping[str, Any]) -> list[BudgetScope]:
        """Every budget the request counts against: its key, its profile, and its end user if configured."""
        key = self.key_id(ctx)
        profile = ctx.profile
        scopes = [BudgetScope(name=f"key:{key}", budgets=profile.budgets if profile else Budgets())]
        if profile is not None:
            scopes.append(BudgetScope(name=f"profile:{profile.name}", budgets=profile.profile_budgets))
        if self.user_budgets is not None:
            metadata = body.get("metadata")
            user = metadata.get("user_id") if isinstance(metadata, Mapping) else None
            if isinstance(user, str) and user:
                scopes.append(BudgetScope(name=f"user:{key}:{user}", budgets=self.user_budgets, stored=False))
        return scopes

    def limit_for(self, ctx: GuardContext, route_max: Decimal | None = None) -> tuple[Decimal | None, str]:
        """The maximum cost of one request and where it comes from: route, then profile, then default."""
        if route_max is not None:
            return route_max, "route"
        if ctx.max_cost is not None:
            return ctx.max_cost, "route"
        if ctx.profile is not None and ctx.profile.max_cost is not None:
            return ctx.profile.max_cost, "profile"
        return self.max_cost, "default"

    async def admit(
        self,
        ctx: GuardContext,
        body: Mapping[str, Any],
        raw: bytes,
        *,
        route_max: Decimal | None = None,
        betas: Iterable[str] = (),
    ) -> Metered:
        """Check the worst case against the maximum cost, then reserve it in every budget (one round trip).

        ``betas`` (the request's ``anthropic-beta`` values) take part in the price: a beta the price table
        does not list is estimated at the worst case.

        Raises:
            CostLimitExceededError: the worst case exceeds the maximum (400, says which and by how much).
            BudgetExceededError, RateLimitedError: a budget cannot take the worst case.
        """
        counted = await self.count_tokens(body) if self.count_tokens is not None else None
        try:
            estimate = estimate_request(
                body, raw, self.prices, self.estimate_config, counted_input_tokens=counted, betas=betas
            )
        except GuardError as exc:
            ctx.decide("cost", "refused", code=exc.code, status=exc.status)
            raise
        limit, source = self.limit_for(ctx, route_max)
        worst = estimate.worst_case_usd
        mode = self.mode
        if limit is not None and worst > limit and mode == "shadow":
            ctx.decide(
                "cost",
                "would_refuse",
                reason=f"max_cost_{source}",
                worst_case_usd=str(worst),
                max_cost_usd=str(limit),
                limit=source,
            )
        elif limit is not None and worst > limit and mode == "enforce":
            ctx.decide("cost", "refused", worst_case_usd=str(worst), max_cost_usd=str(limit), limit=source)
            raise CostLimitExceededError(
                f"The worst-case cost of this request is ${worst:.6f}, which exceeds the {source} maximum "
                f"cost of ${limit} per request by ${worst - limit:.6f}. "
                "Lower max_tokens or shorten the prompt.",
                code=f"max_cost_{source}",
            )
        scopes = self.scopes(ctx, body)
        if mode == "off":
            scopes = _unbounded(scopes)
        try:
            reservation = await self.ledger.reserve(
                scopes, usd=worst, input_tokens=estimate.input_tokens, output_tokens=estimate.output_tokens
            )
        except GuardError as exc:
            if mode != "shadow" or isinstance(exc, StoreUnavailableError):
                ctx.decide("budget", "refused", code=exc.code, status=exc.status)
                raise
            ctx.decide("budget", "would_refuse", reason=exc.code or "budget", status=exc.status)
            # The request goes on and its spend still counts: reserved in the same scopes, without limits.
            reservation = await self.ledger.reserve(
                _unbounded(scopes),
                usd=worst,
                input_tokens=estimate.input_tokens,
                output_tokens=estimate.output_tokens,
            )
        ctx.decide(
            "budget",
            "reserved",
            reservation=reservation.id,
            worst_case_usd=str(worst),
            speed=estimate.billing.speed,
            priced_at_worst_case=estimate.billing.worst_case,
            input_tokens=estimate.input_tokens,
            output_tokens=estimate.output_tokens,
        )
        return Metered(estimate=estimate, reservation=reservation)

    async def settle(
        self, ctx: GuardContext | None, metered: Metered, usage: Usage, *, model: str | None = None
    ) -> Cost | None:
        """Settle once with the actual usage; the cost lands in ``ctx.cost_usd`` and ``ctx.usage``."""
        if metered.settled:
            return metered.cost
        cost = self._priced(metered, usage, model)
        try:
            settlement = await self.ledger.settle(
                metered.reservation,
                usd=cost.total,
                input_tokens=usage.total_input_tokens,
                output_tokens=usage.output_tokens,
            )
        except Exception:
            self._settle_failed(ctx, metered)
            return cost
        self._record(ctx, metered, cost, usage, settlement)
        return cost

    def _priced(self, metered: Metered, usage: Usage, model: str | None) -> Cost:
        metered.settled = True
        name = model or metered.estimate.model
        billing = metered.estimate.billing
        try:
            cost = self.prices.cost(name, usage, billing=billing)
        except GuardError:
            # The answering model is unpriced (it differs from the requested one): charge the request's model.
            cost = self.prices.cost(metered.estimate.model, usage, billing=billing)
        metered.cost, metered.usage = cost, usage
        return cost

    @staticmethod
    def _settle_failed(ctx: GuardContext | None, metered: Metered) -> None:
        logger.exception("claude_guard: settling reservation %s failed", metered.reservation.id)
        if ctx is not None:
            ctx.decide("budget", "settle_failed", reservation=metered.reservation.id)

    @staticmethod
    def _record(
        ctx: GuardContext | None, metered: Metered, cost: Cost, usage: Usage, settlement: Settlement
    ) -> None:
        if ctx is not None:
            ctx.cost_usd = (ctx.cost_usd or Decimal(0)) + cost.total
            ctx.usage = _add_usage(ctx.usage, usage)
            ctx.decide(
                "budget",
                settlement.status,
                reservation=metered.reservation.id,
                cost_usd=str(cost.total),
                reserved_usd=str(metered.estimate.worst_case_usd),
            )
            for alert in settlement.alerts:
                ctx.decide(
                    "budget",
                    "alert",
                    scope=alert.scope,
                    dimension=alert.dimension,
                    used_usd=str(alert.used_usd),
                    limit_usd=str(alert.limit_usd),
                )
        _record_telemetry(ctx, cost, usage)

    async def settle_safely(
        self, ctx: GuardContext | None, metered: Metered, usage: Usage, *, model: str | None = None
    ) -> Cost | None:
        """``settle`` that completes even when the calling task is being cancelled (a client went away).

        On a ledger that settles inline (memory storage, no alert callback) the settlement is one plain call
        with no ``await`` in it, so nothing can interrupt it and no task is spawned; otherwise (Redis, or an
        alert callback) it runs in a shielded task that outlives a cancellation."""
        if metered.settled:
            return metered.cost
        if self.ledger.settles_inline:
            return self._settle_inline(ctx, metered, usage, model)
        task = asyncio.ensure_future(self.settle(ctx, metered, usage, model=model))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            _background.add(task)
            task.add_done_callback(_background.discard)
            raise

    def _settle_inline(
        self, ctx: GuardContext | None, metered: Metered, usage: Usage, model: str | None
    ) -> Cost | None:
        cost = self._priced(metered, usage, model)
        try:
            settlement = self.ledger.settle_nowait(
                metered.reservation,
                usd=cost.total,
                input_tokens=usage.total_input_tokens,
                output_tokens=usage.output_tokens,
            )
            assert settlement is not None  # settles_inline was checked
        except Exception:
            self._settle_failed(ctx, metered)
            return cost
        self._record(ctx, metered, cost, usage, settlement)
        return cost


def _unbounded(scopes: list[BudgetScope]) -> list[BudgetScope]:
    """The same scopes with no budget: spend is recorded, nothing is refused."""
    return [dataclasses.replace(scope, budgets=Budgets(), stored=False) for scope in scopes]


def _add_usage(previous: Any, usage: Usage) -> Usage:
    if not isinstance(previous, Usage):
        return usage
    return dataclasses.replace(
        usage,
        input_tokens=previous.input_tokens + usage.input_tokens,
        output_tokens=previous.output_tokens + usage.output_tokens,
        cache_creation_input_tokens=previous.cache_creation_input_tokens + usage.cache_creation_input_tokens,
        cache_read_input_tokens=previous.cache_read_input_tokens + usage.cache_read_input_tokens,
        cache_creation_5m_input_tokens=previous.cache_creation_5m_input_tokens
        + usage.cache_creation_5m_input_tokens,
        cache_creation_1h_input_tokens=previous.cache_creation_1h_input_tokens
        + usage.cache_creation_1h_input_tokens,
        web_search_requests=previous.web_search_requests + usage.web_search_requests,
        web_fetch_requests=previous.web_fetch_requests + usage.web_fetch_requests,
    )


_cost_counter: Any = None
_otel: Any = None
"""``(trace, metrics, the API's no-op meter provider classes)`` once looked up, ``False`` without the API."""


def _load_otel() -> Any:
    global _otel
    try:
        from opentelemetry import metrics, trace
    except ImportError:  # pragma: no cover - depends on the install
        _otel = False
        return _otel
    _otel = (trace, metrics, no_meter_providers(metrics))
    return _otel


def _record_telemetry(ctx: GuardContext | None, cost: Cost, usage: Usage) -> None:
    """Span attributes and the ``claude_guard.cost`` counter, when OpenTelemetry's API is installed.

    The API is looked up once, not imported per settlement, and the counter is fed only while a meter
    provider is set (asked each time, so one set later is used at once): the API's proxy would drop the
    value anyway, after the attribute dict was built for nobody."""
    global _cost_counter
    otel = _otel if _otel is not None else _load_otel()
    if not otel:  # pragma: no cover - depends on the install
        return
    trace, metrics, idle = otel
    try:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("claude_guard.cost_usd", float(cost.total))
            span.set_attribute("claude_guard.cost_model", cost.model)
        if isinstance(metrics.get_meter_provider(), idle):
            return
        if _cost_counter is None:
            _cost_counter = metrics.get_meter("claude_guard").create_counter(
                "claude_guard.cost", unit="USD", description="Settled cost of calls to Claude"
            )
        attributes = {"gen_ai.request.model": cost.model}
        if ctx is not None and ctx.profile is not None:
            attributes["claude_guard.profile"] = ctx.profile.name
        _cost_counter.add(float(cost.total), attributes)
    except Exception:  # telemetry never breaks a request
        logger.debug("claude_guard: cost telemetry failed", exc_info=True)


def route_max_cost(usd: Decimal | float | str) -> Decimal:
    """``usd`` as the maximum cost of a route's calls, refusing a negative amount (``ValueError``)."""
    limit = _decimal(usd)
    if not limit.is_finite() or limit < 0:
        raise ConfigurationError("max_cost must be a non-negative amount")
    return limit


def apply_max_cost(ctx: GuardContext, limit: Decimal) -> None:
    """The framework-free part of the ``max_cost(...)`` route dependencies: every Claude call of this
    request is bounded by ``limit`` (the egress ``MeteringHook`` and ``CostMeterMiddleware`` read it from the
    context).

    Example:
        >>> from claude_guard.store import MemoryStore
        >>> ctx = GuardContext(method="POST", path="/analyze")
        >>> apply_max_cost(ctx, route_max_cost("5"))
        >>> meter = CostMeter(ledger=Ledger(MemoryStore()), prices=PriceTable.load())
        >>> meter.limit_for(ctx)
        (Decimal('5'), 'route')
    """
    ctx.max_cost = limit
