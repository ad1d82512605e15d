"""``AuditLogger``: one record per guarded request, written off the hot path, never silently dropped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from ..context import GuardContext, current_context, use_context
from ..errors import ConfigurationError, GuardError
from ._alerts import Alerts
from ._chain import AuditChain, compute_covers
from ._otel import Instruments, enrich_span
from ._record import AuditRecord, record_from_context
from ._sinks import AuditSink, QueryableAuditSink, SQLiteAuditSink, audit_store_from_url

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from ..store import Store

__all__ = ["AuditLogger"]

logger = logging.getLogger("claude_guard")

_P = ParamSpec("_P")
_R = TypeVar("_R")

DAY = 86_400.0


def tombstone(outcome: str) -> AuditRecord:
    """The record left by an erasure or a purge: when, and (in its chain link) which gaps; nothing erased."""
    return AuditRecord(
        time=time.time(),
        request_id="audit_" + os.urandom(12).hex(),
        method="AUDIT",
        route=f"/audit/{outcome}",
        outcome=outcome,
        decisions=(f"audit:{outcome}",),
    )


class AuditLogger:
    """Writes audit records to its sinks from a bounded queue drained by one background task.

    ``submit`` never blocks and never waits on a sink. When the queue is full, or a sink still fails after
    ``retries`` attempts, the records are counted in ``claude_guard.audit.dropped`` and a log line says so.
    ``flush()`` waits until everything submitted so far is written; ``aclose()`` flushes and closes the sinks
    (call it at shutdown: ``AuditMiddleware`` also flushes on the ASGI lifespan shutdown).

    The first sink with ``query`` answers `get_logs`, `purge` and `erase`.

    Args:
        sinks: Where records go; by default a `SQLiteAuditSink` at ``CLAUDE_GUARD_AUDIT_DB``.
        queue_size: Records held in memory at most, waiting for the sinks.
        batch_size: Records written per sink call.
        batch_delay: Seconds the writer waits after a record for more to join its batch (unless
            ``batch_size`` are already waiting or a `flush` is asked for). One sink call per batch instead of
            one per request: under load the SQLite sink's thread hand-off and the Redis sink's round trip
            were a tenth of the gateway's CPU per request. ``0`` writes every record as soon as it comes.
        retention_days: When set, records older than this are purged once at start and then every
            ``purge_interval`` seconds.
        alerts: Alert rules evaluated on every finished request.
        chain: Links every record to the previous one by a keyed hash (tamper evidence); erasure and
            retention then leave a tombstone record covering the gaps they made.

    Example:
        >>> import asyncio, tempfile, os
        >>> async def demo() -> list[str]:
        ...     audit = AuditLogger([SQLiteAuditSink(os.path.join(tempfile.mkdtemp(), "a.db"))])
        ...     @audit.log_request
        ...     async def summarize(text: str) -> str:
        ...         return text[:10]
        ...     await summarize("a long text")
        ...     logs = await audit.get_logs(days=30)
        ...     await audit.aclose()
        ...     return [r.outcome for r in logs]
        >>> asyncio.run(demo())
        ['allowed']
    """

    def __init__(
        self,
        sinks: Sequence[AuditSink] | None = None,
        *,
        queue_size: int = 10_000,
        batch_size: int = 200,
        batch_delay: float = 0.05,
        retries: int = 3,
        retry_delay: float = 0.2,
        retention_days: float | None = None,
        purge_interval: float = 3600.0,
        alerts: Alerts | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        chain: AuditChain | None = None,
    ) -> None:
        if queue_size < 1 or batch_size < 1 or retries < 1:
            raise ConfigurationError("queue_size, batch_size and retries must be at least 1")
        if batch_delay < 0:
            raise ConfigurationError("batch_delay must not be negative")
        if retention_days is not None and retention_days <= 0:
            raise ConfigurationError("retention_days must be positive")
        self.sinks: list[AuditSink] = list(sinks) if sinks is not None else [SQLiteAuditSink()]
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        self.retries = retries
        self.retry_delay = retry_delay
        self.retention_days = retention_days
        self.purge_interval = purge_interval
        self.alerts = alerts
        self.chain = chain
        self.instruments = Instruments(tracer_provider=tracer_provider, meter_provider=meter_provider)
        self._queue: asyncio.Queue[AuditRecord] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None  # cuts the writer's batch_delay short (flush, full batch)
        self._flushing = 0
        self._dropped = 0
        self._last_purge: float | None = None
        self._closed = False

    @classmethod
    def for_storage(
        cls, storage: Store | str | None = None, *, extra_sinks: Sequence[AuditSink] = (), **kwargs: Any
    ) -> AuditLogger:
        """The default logger for a guard's storage: Redis Streams on a Redis store, else the SQLite file."""
        from ._sinks import RedisAuditSink

        queryable: QueryableAuditSink
        if storage is None or isinstance(storage, str):
            queryable = audit_store_from_url(storage)
        else:
            queryable = storage.pick(memory=lambda _: SQLiteAuditSink(), redis=RedisAuditSink.from_store)
        return cls([queryable, *extra_sinks], **kwargs)

    def __repr__(self) -> str:
        return f"AuditLogger(sinks={self.sinks!r}, queue_size={self.queue_size})"

    @property
    def queryable(self) -> QueryableAuditSink:
        for sink in self.sinks:
            if isinstance(sink, QueryableAuditSink):
                return sink
        raise RuntimeError("this AuditLogger has no queryable sink (SQLiteAuditSink or RedisAuditSink)")

    # writing

    def submit(self, record: AuditRecord, *, covers: Sequence[tuple[str, int, int, str]] = ()) -> bool:
        """Queue a record for the sinks without waiting; ``False`` (counted, logged) on a full queue.

        ``covers`` (with a chain) makes the record a tombstone vouching for the gaps erasure left.
        """
        if self._closed:
            self._drop(1, "closed")
            return False
        queue = self._ensure_worker()
        if queue.full():
            self._drop(1, "queue_full")
            return False
        if self.chain is not None:
            # Linked in submission order, and only once the record has a place in the queue, so a record
            # dropped here leaves no gap; one dropped later by a failing sink does (it is a real loss).
            linked = self.chain.link(record.to_dict(), covers=covers)
            record = dataclasses.replace(record, chain=linked["chain"])
        queue.put_nowait(record)
        if self._wake is not None and queue.qsize() + 1 >= self.batch_size:  # +1: the one the writer holds
            self._wake.set()
        return True

    def _ensure_worker(self) -> asyncio.Queue[AuditRecord]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop or self._worker is None or self._worker.done():
            if self._queue is not None and self._loop is not loop and self._queue.qsize():
                self._drop(self._queue.qsize(), "loop_closed")
            if self._queue is None or self._loop is not loop:
                self._queue = asyncio.Queue(maxsize=self.queue_size)
                self._wake = asyncio.Event()
            self._loop = loop
            self._worker = loop.create_task(self._drain(self._queue), name="claude-guard-audit")
        return self._queue

    def _drop(self, n: int, reason: str) -> None:
        self.instruments.count_dropped(n, reason)
        self._dropped += n
        if self._dropped == n or self._dropped % 1000 < n:
            logger.error(
                "claude_guard: %d audit record(s) dropped (%s); %d dropped so far", n, reason, self._dropped
            )

    @property
    def dropped(self) -> int:
        """Records dropped so far in this process (also the ``claude_guard.audit.dropped`` metric)."""
        return self._dropped

    async def _drain(self, queue: asyncio.Queue[AuditRecord]) -> None:
        while True:
            batch = [await queue.get()]
            wake = self._wake
            if (
                self.batch_delay
                and wake is not None
                and not self._flushing
                and queue.qsize() + 1 < self.batch_size
            ):
                if not wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.batch_delay):
                            await wake.wait()
                wake.clear()
            while len(batch) < self.batch_size:
                try:
                    batch.append(queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self._maybe_purge()
                await asyncio.gather(*(self._write(sink, batch) for sink in self.sinks))
            except Exception:  # pragma: no cover - _write catches sink errors; this is a last resort
                logger.exception("claude_guard: the audit writer failed")
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, sink: AuditSink, batch: Sequence[AuditRecord]) -> None:
        for attempt in range(1, self.retries + 1):
            try:
                await sink.write(batch)
                return
            except Exception as exc:
                self.instruments.count_sink_error(sink.name)
                logger.warning(
                    "claude_guard: audit sink %s failed (%s), attempt %d of %d",
                    sink.name,
                    type(exc).__name__,
                    attempt,
                    self.retries,
                )
                if attempt < self.retries:
                    await asyncio.sleep(self.retry_delay * attempt)
        self._drop(len(batch), f"sink_failed:{sink.name}")

    async def _maybe_purge(self) -> None:
        if self.retention_days is None:
            return
        now = time.monotonic()
        if self._last_purge is not None and now - self._last_purge < self.purge_interval:
            return
        self._last_purge = now
        try:
            removed = await self.purge(older_than_days=self.retention_days, flush=False)
            if removed:
                logger.info("claude_guard: audit retention removed %d record(s)", removed)
        except Exception as exc:
            logger.warning("claude_guard: audit retention failed (%s)", type(exc).__name__)

    async def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every record submitted so far has been written (or dropped, counted)."""
        queue = self._queue
        if queue is None or self._loop is not asyncio.get_running_loop():
            return
        if self._worker is None or self._worker.done():
            self._ensure_worker()
        self._flushing += 1  # while a flush waits, the writer does not wait out its batch_delay
        if self._wake is not None:
            self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await queue.join()
        finally:
            self._flushing -= 1

    async def aclose(self, timeout: float | None = 30.0) -> None:
        """Flush, stop the writer, close the sinks. Records submitted afterwards are counted as dropped."""
        if self._closed:
            return
        try:
            await self.flush(timeout)
        except TimeoutError:
            pending = self._queue.qsize() if self._queue is not None else 0
            self._drop(pending, "shutdown_timeout")
        finally:
            self._closed = True
            if self._worker is not None:
                self._worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._worker
            if self.alerts is not None:
                await self.alerts.drain()
            for sink in self.sinks:
                try:
                    await sink.aclose()
                except Exception as exc:
                    logger.warning(
                        "claude_guard: closing audit sink %s failed (%s)", sink.name, type(exc).__name__
                    )

    # reading and forgetting

    async def get_logs(
        self,
        days: float = 30,
        *,
        key_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records of the last ``days`` days (or from ``since`` to ``until``, epoch seconds), oldest first."""
        await self.flush()
        start = since if since is not None else time.time() - days * DAY
        return await self.queryable.query(since=start, until=until, key_id=key_id, limit=limit)

    async def purge(self, *, older_than_days: float, flush: bool = True) -> int:
        """Delete records older than ``older_than_days`` days from every queryable sink; returns the count."""
        if flush:
            await self.flush()
        cutoff = time.time() - older_than_days * DAY

        async def delete(sink: QueryableAuditSink) -> int:
            return await sink.purge(older_than=cutoff)

        # From the writer itself (retention) the tombstone is queued, not waited for.
        return await self._forget(delete, "purged", wait=flush)

    async def erase(self, key_id: str) -> int:
        """Delete every record of one key id from every queryable sink (a GDPR erasure request).

        JSON lines files and OpenTelemetry logs are shipped elsewhere: erase there with that backend's tools.
        """
        await self.flush()

        async def delete(sink: QueryableAuditSink) -> int:
            return await sink.erase(key_id=key_id)

        return await self._forget(delete, "erased", wait=True)

    async def _forget(
        self, delete: Callable[[QueryableAuditSink], Awaitable[int]], outcome: str, *, wait: bool
    ) -> int:
        """Delete from every queryable sink; with a chain, then write the tombstone covering the gaps."""
        total = 0
        covers: list[tuple[str, int, int, str]] = []
        for sink in self.sinks:
            if not isinstance(sink, QueryableAuditSink):
                continue
            raw = getattr(sink, "raw", None) if self.chain is not None else None
            before = [r for _, r in await raw()] if raw is not None else None
            removed = await delete(sink)
            total += removed
            if raw is not None and before is not None and removed and not covers:
                covers = compute_covers(before, [r for _, r in await raw()])
        if self.chain is not None and total:
            self.submit(tombstone(outcome), covers=covers)
            if wait:
                await self.flush()
        return total

    # one request

    @contextlib.contextmanager
    def request_span(self, ctx: GuardContext) -> Iterator[Span | None]:
        """The span to enrich: the current recording (server) span, else a new INTERNAL ``claude_guard``."""
        tracer = self.instruments.tracer
        if tracer is None:
            yield None
            return
        from opentelemetry import trace

        current = trace.get_current_span()
        if current.is_recording():
            yield current
            return
        if not self.instruments.records_spans():
            yield None  # no provider: a new span would record nothing
            return
        with tracer.start_as_current_span(
            "claude_guard",
            kind=trace.SpanKind.INTERNAL,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    def finish(
        self,
        ctx: GuardContext,
        *,
        status: int | None,
        failed: bool = False,
        wall_time: float | None = None,
        span: Span | None = None,
    ) -> AuditRecord | None:
        """Close one request: build its record, enrich the span, record metrics and alerts, queue the record.

        Never raises: a failure here is logged and the request goes on.
        """
        try:
            record = record_from_context(ctx, status=status, failed=failed, wall_time=wall_time)
        except Exception:
            logger.exception("claude_guard: building the audit record of %s failed", ctx.request_id)
            self._drop(1, "record_failed")
            return None
        try:
            if span is not None:
                enrich_span(span, ctx, record)
                if record.outcome == "error" or (record.status is not None and record.status >= 500):
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR))
            self.instruments.record_request(ctx, record)
            if self.alerts is not None:
                self.alerts.dispatch(self.alerts.evaluate(ctx, record))
        except Exception:
            logger.exception("claude_guard: observing request %s failed", ctx.request_id)
        self.submit(record)
        return record

    @overload
    def log_request(self, func: Callable[_P, Awaitable[_R]], /) -> Callable[_P, Awaitable[_R]]: ...

    @overload
    def log_request(
        self, func: None = None, /, *, route: str | None = None
    ) -> Callable[[Callable[_P, Awaitable[_R]]], Callable[_P, Awaitable[_R]]]: ...

    def log_request(
        self, func: Callable[_P, Awaitable[_R]] | None = None, /, *, route: str | None = None
    ) -> Any:
        """Audit every call of a plain async function as one request (``@audit.log_request``).

        Inside a request already audited (by ``AuditMiddleware``) the call adds nothing: that request's record
        covers it. Otherwise the call gets its own context (route = the function's qualified name, or
        ``route``), a span, and a record with status 200, a ``GuardError``'s status, or outcome ``error``.
        """

        def decorate(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
            name: str = route or str(getattr(fn, "__qualname__", "call"))

            @functools.wraps(fn)
            async def audited(*args: _P.args, **kwargs: _P.kwargs) -> _R:
                outer = current_context()
                if outer is not None and outer.audited:
                    return await fn(*args, **kwargs)
                ctx = outer if outer is not None else GuardContext(method="CALL", path=name)
                ctx.audited = True
                wall = time.time()
                status: int | None = None
                failed = False
                with use_context(ctx), self.request_span(ctx) as span:
                    try:
                        result = await fn(*args, **kwargs)
                        status = 200
                        return result
                    except GuardError as exc:
                        status = exc.status
                        raise
                    except BaseException:
                        failed = True
                        raise
                    finally:
                        self.finish(ctx, status=status, failed=failed, wall_time=wall, span=span)

            return audited

        return decorate(func) if func is not None else decorate
