"""The gateway's Messages endpoint: forwarding Messages API requests to the upstream Claude API.

``MessagesProxy`` is a pure ASGI endpoint: it sends the (possibly rewritten) body captured on the
``GuardContext`` upstream with the upstream key (through `claude_guard.upstream.UpstreamClient`), streams the
answer back chunk by chunk as it arrives, and turns upstream failures into errors that carry neither the
upstream key nor upstream internals.

What goes upstream is ``GuardContext.forward_body()``: the value every protection checked, serialized again,
never the caller's bytes (see docs/request-coverage.md).

This module is a face: the core and the protections never import it (tests/test_layering.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ._asgi import ClientDisconnected, Receive, Scope, Send, context_for, ensure_body, require_json
from .context import GuardContext
from .errors import BadRequestError, GuardError
from .messages._walker import UnknownContent
from .responses import ErrorFormat, render_error
from .upstream import (
    UpstreamClient,
    UpstreamResponse,
    _StreamBroken,
    _StreamTimeout,
    refuse_unknown_content,
    upstream_error,
)

__all__ = ["MessagesProxy"]

logger = logging.getLogger("claude_guard")

# Request headers a caller may pass on to Claude; everything else (its own credentials above all) stays here.
_FORWARDED_REQUEST_HEADERS = frozenset({b"anthropic-version", b"anthropic-beta", b"accept"})
# Response headers worth passing back; hop-by-hop and upstream identity headers are dropped.
_FORWARDED_RESPONSE_HEADERS = frozenset(
    {b"content-type", b"retry-after", b"retry-after-ms", b"x-should-retry"}
)
_MAX_ERROR_BODY = 64 * 1024


class MessagesProxy:
    """An ASGI endpoint forwarding ``POST`` requests to the same path upstream (``/v1/messages`` and
    ``/v1/messages/count_tokens``).

    Example:
        >>> from claude_guard.secrets import EnvSecretSource
        >>> from claude_guard.upstream import UpstreamClient
        >>> upstream = UpstreamClient(base_url="http://127.0.0.1:9",
        ...                           key_source=EnvSecretSource("K", {"K": "sk-fake"}))
        >>> proxy = MessagesProxy(upstream)
    """

    def __init__(
        self,
        upstream: UpstreamClient,
        *,
        error_format: ErrorFormat = "anthropic",
        unknown_content: UnknownContent = "scan",
    ) -> None:
        """``unknown_content="refuse"`` refuses (400) a body holding a block type or field that the shape
        table does not know, even when no other protection ran."""
        self.upstream = upstream
        self.error_format: ErrorFormat = error_format
        self.unknown_content: UnknownContent = unknown_content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("MessagesProxy serves HTTP only")
        ctx = context_for(scope)
        # Whether this endpoint sent the start (held further out or not): then an error is too late to render.
        started: list[bool] = []
        try:
            await self._forward(ctx, scope, receive, send, started)
        except GuardError as exc:
            if started:
                raise
            await render_error(exc, request_id=ctx.request_id, format=self.error_format).send(send)
        except ClientDisconnected:
            ctx.decide("request", "client_disconnected")

    async def _forward(
        self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send, started: list[bool]
    ) -> None:
        if scope.get("method") != "POST":
            raise BadRequestError("Only POST is supported here.", code="method")
        require_json(scope)
        receive = await ensure_body(ctx, scope, receive)
        payload = ctx.json()
        if not isinstance(payload, dict):
            raise BadRequestError("The request body must be a JSON object.", code="body")
        if self.unknown_content == "refuse":
            refuse_unknown_content(payload)
        body = ctx.forward_body()
        forwarded = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
            if k.lower() in _FORWARDED_REQUEST_HEADERS or k.lower().startswith(b"anthropic-beta")
        }
        response = await self.upstream.send(scope["path"], body, forwarded)
        try:
            if response.status_code >= 400:
                await self._relay_error(ctx, response, send)
            else:
                await self._relay(ctx, response, receive, send, started)
        finally:
            await response.aclose()

    async def _relay(
        self, ctx: GuardContext, response: UpstreamResponse, receive: Receive, send: Send, started: list[bool]
    ) -> None:
        headers = [(b"request-id", ctx.request_id.encode())]
        upstream_id = response.headers.get("request-id")
        if upstream_id:
            headers.append((b"upstream-request-id", upstream_id.encode("latin-1")))
        for name, value in response.raw_headers:
            lower = name.lower()
            if lower in _FORWARDED_RESPONSE_HEADERS or lower.startswith(b"anthropic-ratelimit-"):
                headers.append((lower, value))
        ctx.upstream_status = response.status_code
        ctx.upstream_headers = response.headers

        whole = response.buffered_body()
        if whole is not None:
            # All of it came with the headers (a JSON answer, a short stream): one body message, and no
            # read to watch a disconnect for. Its length is known, so the caller gets it rather than a
            # chunked body (a layer that rewrites the body sets its own: PII restore, the tool policy).
            headers.append((b"content-length", str(len(whole)).encode()))
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            started.append(True)
            await send({"type": "http.response.body", "body": whole, "more_body": False})
            return

        # A client that goes away mid-stream must stop the upstream read at once (and let the meter see the
        # cut): watch for http.disconnect while relaying.
        relay_task = asyncio.current_task()
        disconnected = False

        async def watch_disconnect() -> None:
            nonlocal disconnected
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected = True
                    if relay_task is not None:
                        relay_task.cancel()
                    return

        watcher = asyncio.ensure_future(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            started.append(True)
            async for chunk in response.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not disconnected:
                raise
            if relay_task is not None:
                relay_task.uncancel()
            ctx.decide("request", "client_disconnected")
        except _StreamTimeout:
            # Mid-stream, the status line is sent: end the body; the SDK sees a truncated stream.
            ctx.decide("upstream", "timeout")
            logger.warning("claude_guard: upstream stream timed out in request %s", ctx.request_id)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except _StreamBroken as exc:
            ctx.decide("upstream", "stream_error")
            logger.warning("claude_guard: upstream stream broke (%s) in %s", exc.args[0], ctx.request_id)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()

    async def _relay_error(self, ctx: GuardContext, response: UpstreamResponse, send: Send) -> None:
        raw = b""
        try:
            async for chunk in response.aiter_raw():
                raw += chunk
                if len(raw) > _MAX_ERROR_BODY:
                    break
        except (_StreamTimeout, _StreamBroken):
            pass  # the status is known; the (partial) body only adds a message
        ctx.upstream_status = response.status_code
        ctx.decide("upstream", "error", status=response.status_code)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        known = await self.upstream.known_secrets()
        error = upstream_error(response.status_code, body, response.headers, known, who="gateway")
        await render_error(error, request_id=ctx.request_id, format=self.error_format).send(send)
