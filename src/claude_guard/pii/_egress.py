"""The egress face: ``PIIEgressHook`` redacts what an app route sends through the SDK and restores replies."""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from .._asgi import EVENT_STREAM, media_type
from .._hooks import EgressHook
from ..context import GuardContext, current_context
from ._middleware import principal_of
from ._output import OutputScanner, SSEOutputScanner
from ._redact import Redaction, Redactor
from ._restore import SSERestorer, restore_message

__all__ = ["PIIEgressHook"]

_MESSAGES_SUFFIXES = ("/v1/messages", "/v1/messages/count_tokens", "/messages", "/messages/count_tokens")

# The redaction of the attempt in flight: ``before`` and ``after`` of one attempt run in one task, and one
# task makes one call at a time, so the contextvar pairs them without any state on the shared hook.
_attempt: contextvars.ContextVar[Redaction | None] = contextvars.ContextVar(
    "claude_guard_pii_attempt", default=None
)


class PIIEgressHook(EgressHook):
    """Redacts Messages calls an app makes with the ``anthropic`` SDK, and restores the replies it gets.

    The principal is the inbound request's (through the contextvar), or ``anonymous`` in a background job.
    Placeholders already present (a body the ingress middleware redacted) are kept, never redacted again,
    and still restored in the reply. JSON replies are restored whole; streamed replies event by event.

    Example:
        >>> from claude_guard.egress import GuardAnthropicMiddleware
        >>> from claude_guard.pii import PIIConfig
        >>> redactor = Redactor(config=PIIConfig(phone_regions=("US",)))
        >>> middleware = GuardAnthropicMiddleware([PIIEgressHook(redactor)])
        >>> redactor.close()
    """

    def __init__(self, redactor: Redactor, *, shadow: bool = False) -> None:
        self.redactor = redactor
        self.shadow = shadow
        """Shadow mode: refusals are recorded as ``would_refuse`` (see ``Redactor.redact``)."""

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        _attempt.set(None)
        body = request.json
        if request.method.upper() != "POST" or not request.url.rstrip("/").endswith(_MESSAGES_SUFFIXES):
            return request
        if not isinstance(body, dict):
            return request
        ctx = current_context()
        result = await self.redactor.redact(body, principal=principal_of(ctx), ctx=ctx, shadow=self.shadow)
        _attempt.set(result)
        if result.changed:
            return request.copy(body=result.body)
        return request

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        result = _attempt.get()
        _attempt.set(None)
        if result is None:
            return response
        scanner = self.redactor.output_scanner()
        if not result.mapping and scanner is None:
            return response
        http = getattr(response, "http_response", None)
        if not isinstance(http, httpx2.Response) or not http.is_success:
            return response
        ctx = current_context()
        content_type = media_type(http.headers.get("content-type"))
        if content_type == EVENT_STREAM:
            _restore_stream(http, result, scanner, ctx)
        elif content_type == "application/json":
            raw = await http.aread()
            try:
                message = json.loads(raw)
            except ValueError:
                return response
            if scanner is not None:
                try:
                    # Before restoring: the request's own values are placeholders here, never "new".
                    message = await scanner.scan_message(message)
                finally:
                    scanner.record(ctx)
            restored = json.dumps(
                restore_message(message, result.mapping), ensure_ascii=False, separators=(",", ":")
            ).encode()
            http._content = restored
            http.stream = httpx2.ByteStream(restored)
            http.headers.pop("content-encoding", None)
            http.headers["content-length"] = str(len(restored))
        return response


class _RestoredStream(httpx2.AsyncByteStream):
    """The decoded body of the original response, scanned by an `SSEOutputScanner` (when configured) and
    rewritten by an `SSERestorer`."""

    def __init__(
        self,
        inner: httpx2.Response,
        restorer: SSERestorer,
        scanner: OutputScanner | None = None,
        ctx: GuardContext | None = None,
    ) -> None:
        self._inner = inner
        self._restorer = restorer
        self._scanner = scanner
        self._ctx = ctx

    async def __aiter__(self) -> AsyncIterator[bytes]:
        scanner = self._scanner
        scan = SSEOutputScanner(scanner) if scanner is not None else None
        redacts = scanner is not None and scanner.redacts
        try:
            async for chunk in self._inner.aiter_bytes():
                scanned = await scan.feed(chunk) if scan is not None and redacts else chunk
                out = self._restorer.feed(scanned)
                if out:
                    yield out
                if scan is not None and not redacts:
                    await scan.feed(chunk)
            tail = self._restorer.feed(await scan.close()) if scan is not None and redacts else b""
            tail += self._restorer.close()
            if tail:
                yield tail
            if scan is not None and not redacts:
                await scan.close()
        finally:
            if scanner is not None:
                scanner.record(self._ctx)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _restore_stream(
    http: httpx2.Response, result: Redaction, scanner: OutputScanner | None, ctx: GuardContext | None
) -> None:
    # A second response over the original stream decodes any content-encoding; the SDK then reads plain
    # restored bytes from the first.
    inner = httpx2.Response(http.status_code, headers=http.headers, stream=http.stream, request=http.request)
    http.stream = _RestoredStream(inner, result.sse_restorer(), scanner, ctx)
    http.headers.pop("content-encoding", None)
    http.headers.pop("content-length", None)
