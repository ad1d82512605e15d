"""``AuditMiddleware``: the outermost guard, which sees every request's final status and writes its record."""

from __future__ import annotations

import logging
import time

from .._asgi import ASGIApp, Message, Receive, Scope, Send, context_for
from ..context import use_context
from ._logger import AuditLogger

__all__ = ["AuditMiddleware"]

logger = logging.getLogger("claude_guard")


class AuditMiddleware:
    """One audit record, span enrichment and metrics per HTTP request.

    Place it OUTSIDE the safe-error boundary (``SafeErrorMiddleware``), so the status it records is the one
    the caller got, error renders included. It creates the request's ``GuardContext`` (every guard further in
    finds it in the scope), watches ``http.response.start`` for the status and the last body message for the
    end, and closes the record in a ``finally`` on disconnect or cancellation. The record is queued for the
    logger's background writer; the request never waits on a sink.

    On the ASGI lifespan it flushes the logger before passing on ``lifespan.shutdown.complete``, so records
    written just before shutdown reach the sinks; ``flush_on_shutdown=False`` leaves the lifespan untouched
    for apps that close the logger themselves (``ClaudeGuard.lifespan`` does).

    Example:
        >>> async def app(scope, receive, send): ...
        >>> audited = AuditMiddleware(app, logger=AuditLogger([]))
    """

    def __init__(self, app: ASGIApp, *, logger: AuditLogger, flush_on_shutdown: bool = True) -> None:
        self.app = app
        self.logger = logger
        self.flush_on_shutdown = flush_on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.flush_on_shutdown:
            await self.app(scope, receive, self._flushing_send(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context_for(scope)
        if ctx.audited:
            # Installed twice (or a nested audited app): the outer one records.
            await self.app(scope, receive, send)
            return
        ctx.audited = True
        wall = time.time()
        status: int | None = None
        failed = False

        async def watching_send(message: Message) -> None:
            nonlocal status
            await send(message)
            if message["type"] == "http.response.start":
                status = int(message.get("status", 0))

        # Setting a context that is already current is harmless: its token restores the same value.
        with use_context(ctx), self.logger.request_span(ctx) as span:
            try:
                await self.app(scope, receive, watching_send)
            except BaseException:
                # Outside the safe-error boundary only a bug or a cancellation gets here; the server
                # answers 500 when nothing was sent yet.
                failed = status is None
                raise
            finally:
                self.logger.finish(
                    ctx,
                    status=status if status is not None else (500 if failed else None),
                    failed=failed,
                    wall_time=wall,
                    span=span,
                )

    def _flushing_send(self, send: Send) -> Send:
        async def flushing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                try:
                    await self.logger.flush()
                except Exception as exc:
                    logger.error(
                        "claude_guard: flushing the audit log at shutdown failed (%s)", type(exc).__name__
                    )
            await send(message)

        return flushing
