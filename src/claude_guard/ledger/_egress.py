"""The meter on egress: an app's own calls to Claude through the official SDK, charged to the caller.

``MeteringHook`` is an ``EgressHook`` for ``GuardAnthropicMiddleware`` (async clients). Before a Messages
call it checks the worst case against the route's maximum and reserves it against the principal of the
inbound request (found through the context var); after it, it reads the usage: from the JSON body, or, for
a stream, from the bytes as the app consumes them (the response's byte stream is wrapped, nothing is
buffered), settling when the stream ends or is closed. ``SyncMeteringMiddleware`` does the same for the sync
``anthropic.Anthropic`` client when it runs in a worker thread of an async app.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import Any, Final, TypeVar

import anthropic
import httpx2

from .._asgi import EVENT_STREAM, media_type
from .._hooks import EgressHook
from .._profile_check import parse_betas
from ..context import GuardContext, current_context
from ..messages import Usage
from ..messages._sse import StreamUsage
from ..messages._usage import usage_from_response
from ._meter import CostMeter, Metered, _background

__all__ = ["MeteringHook", "SyncMeteringMiddleware"]

logger = logging.getLogger("claude_guard")

_T = TypeVar("_T")
_pending: contextvars.ContextVar[tuple[Metered, ...]] = contextvars.ContextVar(
    "claude_guard_metering", default=()
)
_SYNC_TIMEOUT: Final = 10.0


def _is_messages(request: anthropic.APIRequest) -> bool:
    return request.method.upper() == "POST" and request.url.split("?")[0].rstrip("/").endswith("/v1/messages")


def _body(request: anthropic.APIRequest) -> tuple[Mapping[str, Any], bytes] | None:
    body = request.json
    if not isinstance(body, Mapping):
        return None
    return body, json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _betas(request: anthropic.APIRequest) -> tuple[str, ...]:
    return parse_betas([(str(k), v) for k, v in dict(request.headers).items() if isinstance(v, str)])


def _is_sse(response: httpx2.Response) -> bool:
    return media_type(response.headers.get("content-type")) == EVENT_STREAM


class _StreamMeter:
    """Follows an SSE body chunk by chunk (decoding a content-encoding if the upstream used one)."""

    def __init__(self, response: httpx2.Response) -> None:
        self.tracker = StreamUsage()
        self.following = True
        self.decoder: Any = None
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            try:
                from httpx2._decoders import SUPPORTED_DECODERS

                self.decoder = SUPPORTED_DECODERS[encoding]()
            except (ImportError, KeyError):
                self.following = False

    def feed(self, chunk: bytes) -> None:
        if not self.following:
            return
        try:
            data = self.decoder.decode(chunk) if self.decoder is not None else chunk
        except (ValueError, httpx2.DecodingError):
            self.following = False
            return
        self.tracker.feed(data)

    def finish(self) -> tuple[Usage, str | None]:
        self.tracker.close()
        return self.tracker.usage, self.tracker.model


class _MeteredAsyncStream(httpx2.AsyncByteStream):
    def __init__(
        self, inner: Any, meter: _StreamMeter, settle: Callable[[Usage, str | None], Coroutine[Any, Any, Any]]
    ) -> None:
        self.inner = inner
        self.meter = meter
        self.settle = settle
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                self.meter.feed(chunk)
                yield chunk
        finally:
            await self._end()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            await self._end()

    async def _end(self) -> None:
        if not self.done:
            self.done = True
            usage, model = self.meter.finish()
            await self.settle(usage, model)


class MeteringHook(EgressHook):
    """Charges each Messages call an app makes through the SDK to the inbound request's principal.

    With no current ``GuardContext`` (a background job) calls pass unmetered.

    Example:
        >>> from claude_guard.ledger import CostMeter, Ledger
        >>> from claude_guard.pricing import PriceTable
        >>> from claude_guard.store import MemoryStore
        >>> hook = MeteringHook(CostMeter(ledger=Ledger(MemoryStore()), prices=PriceTable.load()))
    """

    def __init__(self, meter: CostMeter) -> None:
        self.meter = meter

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        ctx = current_context()
        if ctx is None or not _is_messages(request):
            return request
        parsed = _body(request)
        if parsed is None:
            return request
        metered = await self.meter.admit(ctx, *parsed, betas=_betas(request))
        if ctx.unsettled is None:
            ctx.unsettled = {}
        ctx.unsettled[metered.reservation.id] = metered
        _pending.set((*_pending.get(), metered))
        return request

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        stack = _pending.get()
        if not stack:
            return response
        metered = stack[-1]
        _pending.set(stack[:-1])
        ctx = current_context()
        http = getattr(response, "http_response", None)
        if not isinstance(http, httpx2.Response):
            await self._settle(ctx, metered, Usage(), None)
            return response
        if http.status_code >= 400:
            await self._settle(ctx, metered, Usage(), None)
        elif _is_sse(http) and not http.is_closed:
            meter = _StreamMeter(http)

            async def settle(usage: Usage, model: str | None) -> None:
                await self._settle(ctx, metered, usage, model)

            metered.observed = lambda: meter.tracker.usage
            http.stream = _MeteredAsyncStream(http.stream, meter, settle)
        else:
            # A non-streamed answer is one small JSON body: read it (the SDK reuses the bytes) for its usage.
            try:
                await http.aread()
                payload = http.json()
            except Exception:
                payload = None
            usage = usage_from_response(payload) if isinstance(payload, Mapping) else Usage()
            model = payload.get("model") if isinstance(payload, Mapping) else None
            await self._settle(ctx, metered, usage, model if isinstance(model, str) else None)
        return response

    def failed(self, request: anthropic.APIRequest, exc: BaseException) -> None:
        """The attempt raised (connection error, timeout, cancellation): release its reservation.

        Called synchronously and must not raise, so the settlement runs as a task on the loop (and, should
        it not get to run, at the end of the request or by expiry).
        """
        stack = _pending.get()
        if not stack:
            return
        _pending.set(stack[:-1])
        metered = stack[-1]
        try:
            task = asyncio.get_running_loop().create_task(
                self._settle(current_context(), metered, Usage(), None)
            )
        except RuntimeError:
            return
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _settle(
        self, ctx: GuardContext | None, metered: Metered, usage: Usage, model: str | None
    ) -> None:
        if ctx is not None and ctx.unsettled is not None:
            ctx.unsettled.pop(metered.reservation.id, None)
        await self.meter.settle_safely(ctx, metered, usage, model=model)


class _MeteredSyncStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, meter: _StreamMeter, settle: Callable[[Usage, str | None], None]) -> None:
        self.inner = inner
        self.meter = meter
        self.settle = settle
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.inner:
                self.meter.feed(chunk)
                yield chunk
        finally:
            self._end()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self._end()

    def _end(self) -> None:
        if not self.done:
            self.done = True
            usage, model = self.meter.finish()
            self.settle(usage, model)


class SyncMeteringMiddleware(anthropic.Middleware):
    """``anthropic.Anthropic(middleware=[SyncMeteringMiddleware(meter)])`` for sync calls made from a worker
    thread of an async app (a FastAPI ``def`` route): the ledger work runs on the app's event loop, which
    ``CostMeterMiddleware`` records on the context. Calls made outside a guarded request pass unmetered.
    """

    def __init__(self, meter: CostMeter, *, timeout: float = _SYNC_TIMEOUT) -> None:
        self.meter = meter
        self.timeout = timeout

    def _run(self, ctx: GuardContext, coroutine: Coroutine[Any, Any, _T]) -> _T:
        loop = ctx.event_loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("no event loop recorded for this request: install CostMeterMiddleware")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coroutine.close()
            raise RuntimeError(
                "a sync Anthropic client called on the event loop would block it; use AsyncAnthropic"
            )
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(self.timeout)

    def handle(self, request: anthropic.APIRequest, call_next: Any) -> Any:
        ctx = current_context()
        parsed = _body(request) if ctx is not None and _is_messages(request) else None
        if ctx is None or parsed is None:
            return call_next(request)
        metered = self._run(ctx, self.meter.admit(ctx, *parsed, betas=_betas(request)))

        def settle(usage: Usage, model: str | None) -> None:
            self._run(ctx, self.meter.settle(ctx, metered, usage, model=model))

        try:
            response = call_next(request)
        except BaseException:
            settle(Usage(), None)
            raise
        http = getattr(response, "http_response", None)
        if not isinstance(http, httpx2.Response) or http.status_code >= 400:
            settle(Usage(), None)
        elif _is_sse(http) and not http.is_closed:
            http.stream = _MeteredSyncStream(http.stream, _StreamMeter(http), settle)
        else:
            try:
                http.read()
                payload = http.json()
            except Exception:
                payload = None
            usage = usage_from_response(payload) if isinstance(payload, Mapping) else Usage()
            model = payload.get("model") if isinstance(payload, Mapping) else None
            settle(usage, model if isinstance(model, str) else None)
        return response
