"""``CostMeterMiddleware``: the ASGI face of the cost meter for gateway Messages routes (``CostMeter`` is in
``_meter``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from .._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    ensure_body,
    observe_send,
    response_head,
    with_headers,
)
from .._profile_check import parse_betas
from .._routes import PathPatterns, RouteMap
from ..context import GuardContext
from ..errors import ConfigurationError
from ..messages import Usage
from ..messages._sse import StreamUsage
from ..messages._usage import usage_from_response
from ..middleware import GuardMiddleware
from ..pricing import PriceTable
from ..profiles import Budgets
from ..responses import ErrorFormat
from ._ledger import Ledger
from ._meter import COST_HEADER, CostMeter, Metered, _decimal

__all__ = ["CostMeterMiddleware"]

_MAX_JSON_HOLD: Final = 16 * 1024 * 1024


class _ResponseMeter:
    """Reads usage from a response as it passes: SSE incrementally, JSON from its (small, whole) body."""

    __slots__ = ("json_parts", "json_size", "model", "status", "stream", "tracker")

    def __init__(self) -> None:
        self.status = 0
        self.stream = False
        self.tracker = StreamUsage()
        self.json_parts: list[bytes] = []
        self.json_size = 0
        self.model: str | None = None

    def start(self, message: Message) -> None:
        head = response_head(message)
        self.status = head.status
        self.stream = head.event_stream

    def body(self, chunk: bytes) -> None:
        if not chunk or self.status >= 400:
            return
        if self.stream:
            self.tracker.feed(chunk)
        elif self.json_size <= _MAX_JSON_HOLD:
            self.json_parts.append(chunk)
            self.json_size += len(chunk)

    def usage(self) -> tuple[Usage, str | None]:
        if self.status >= 400 or self.status == 0:
            return Usage(), None
        if self.stream:
            self.tracker.close()
            return self.tracker.usage, self.tracker.model
        try:
            payload = json.loads(b"".join(self.json_parts))
        except ValueError:
            return Usage(), None
        model = payload.get("model") if isinstance(payload, Mapping) else None
        return usage_from_response(payload), model if isinstance(model, str) else None


class CostMeterMiddleware(GuardMiddleware):
    """Maximum cost, budgets and exact metering for gateway Messages routes.

    On ``POST`` to a metered path it captures the body, bounds its worst-case cost, refuses it (400) past
    the maximum (route ``routes`` pattern, then ``ctx.profile.max_cost``, then ``max_cost``), reserves the
    worst case in every budget (402/429 when spent), and watches the response without holding back a
    stream, settling exactly once when it ends, fails, is cancelled or the client disconnects.

    A non-streamed JSON answer is held until its (complete, small) body has passed so the
    ``claude-guard-cost-usd`` header can carry its exact cost; streams are never held and carry no cost
    header (the cost is on the context, the audit record and the span).

    It also settles, at the end of any request, calls of the egress ``MeteringHook`` left unsettled.

    Example:
        >>> from claude_guard.store import MemoryStore
        >>> async def app(scope, receive, send): ...
        >>> meter = CostMeterMiddleware(app, ledger=Ledger(MemoryStore()), prices=PriceTable.load())
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ledger: Ledger | None = None,
        prices: PriceTable | None = None,
        meter: CostMeter | None = None,
        max_cost: Decimal | float | None = Decimal("1.0"),
        routes: Mapping[str, Decimal | float | None] | None = None,
        paths: tuple[str, ...] = ("/v1/messages",),
        cost_header: str | None = COST_HEADER,
        anonymous_key: str = "anonymous",
        user_budgets: Budgets | None = None,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        if meter is None:
            if ledger is None or prices is None:
                raise ConfigurationError("CostMeterMiddleware needs a meter, or a ledger and prices")
            meter = CostMeter(
                ledger=ledger,
                prices=prices,
                max_cost=max_cost,
                anonymous_key=anonymous_key,
                user_budgets=user_budgets,
            )
        self.meter = meter
        self.routes = {pattern: None if v is None else _decimal(v) for pattern, v in (routes or {}).items()}
        self.paths = paths
        self._routes = RouteMap(self.routes)
        self._paths = PathPatterns(paths)
        self.cost_header = cost_header

    def _route_max(self, path: str) -> Decimal | None:
        return self._routes.get(path)

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        # Sync SDK calls from worker threads settle on this loop (SyncMeteringMiddleware).
        if ctx.event_loop is None:
            ctx.event_loop = asyncio.get_running_loop()
        try:
            if ctx.method == "POST" and self._paths.matches(ctx.path):
                await self._metered(ctx, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            await _settle_leftovers(ctx, self.meter)

    async def _metered(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        receive = await ensure_body(ctx, scope, receive)
        body = ctx.json()
        if not isinstance(body, Mapping):
            await self.app(scope, receive, send)
            return
        # The bytes that will be forwarded (the checked value serialized), not the caller's.
        metered = await self.meter.admit(
            ctx,
            body,
            ctx.forward_body(),
            route_max=self._route_max(ctx.path),
            betas=parse_betas(scope.get("headers", ())),
        )
        observer = _ResponseMeter()
        held: list[Message] = []

        def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                observer.start(message)
            elif message["type"] == "http.response.body":
                observer.body(message.get("body", b""))

        observed = observe_send(send, observe)

        async def hold_json(message: Message) -> None:
            # A non-streamed 2xx JSON answer waits for its body so its cost can go in a header.
            if message["type"] == "http.response.start":
                observe(message)
                if self.cost_header and not observer.stream and observer.status < 400:
                    held.append(message)
                    return
                await send(message)
                return
            if held and message["type"] == "http.response.body":
                observe(message)
                held.append(message)
                if not message.get("more_body", False):
                    await self._flush(ctx, metered, observer, held, send)
                elif observer.json_size > _MAX_JSON_HOLD:
                    # Too large to hold (never seen in practice): let it pass; it is settled at the end.
                    messages = list(held)
                    held.clear()
                    await _send_all(messages, send)
                return
            await observed(message)

        try:
            await self.app(scope, receive, hold_json)
        finally:
            if held:
                # The app stopped before its last body message: what was held still goes out, uncosted.
                await _send_all(held, send)
            if not metered.settled:
                usage, model = observer.usage()
                await self.meter.settle_safely(ctx, metered, usage, model=model)

    async def _flush(
        self, ctx: GuardContext, metered: Metered, observer: _ResponseMeter, held: list[Message], send: Send
    ) -> None:
        usage, model = observer.usage()
        cost = await self.meter.settle_safely(ctx, metered, usage, model=model)
        if cost is not None and self.cost_header:
            header = (self.cost_header.encode("latin-1"), str(cost.total).encode("latin-1"))
            held[0] = with_headers(held[0], [header])
        messages = list(held)
        held.clear()
        await _send_all(messages, send)


async def _send_all(messages: list[Message], send: Send) -> None:
    for message in messages:
        await send(message)


async def _settle_leftovers(ctx: GuardContext, meter: CostMeter) -> None:
    pending = ctx.unsettled
    if not pending:
        return
    for metered in list(pending.values()):
        if isinstance(metered, Metered) and not metered.settled:
            usage = metered.observed() if metered.observed is not None else Usage()
            await meter.settle_safely(ctx, metered, usage)
    pending.clear()
