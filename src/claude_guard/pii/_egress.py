"""The egress face: ``PIIEgressHook`` redacts what an app route sends through the SDK and restores replies."""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from ..context import current_context
from ..egress import EgressHook
from ._middleware import STATE_KEY, principal_of
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

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        _attempt.set(None)
        body = request.json
        if request.method.upper() != "POST" or not request.url.rstrip("/").endswith(_MESSAGES_SUFFIXES):
            return request
        if not isinstance(body, dict):
            return request
        ctx = current_context()
        result = await self.redactor.redact(body, principal=principal_of(ctx), ctx=ctx)
        if ctx is not None:
            ctx.state.setdefault(STATE_KEY + ".egress", result)
        _attempt.set(result)
        if result.changed:
            return request.copy(body=result.body)
        return request

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        result = _attempt.get()
        _attempt.set(None)
        if result is None or not result.mapping:
            return response
        http = getattr(response, "http_response", None)
        if not isinstance(http, httpx2.Response) or not http.is_success:
            return response
        content_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "text/event-stream":
            _restore_stream(http, result)
        elif content_type == "application/json":
            raw = await http.aread()
            try:
                restored = json.dumps(
                    restore_message(json.loads(raw), result.mapping),
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode()
            except ValueError:
                return response
            http._content = restored
            http.stream = httpx2.ByteStream(restored)
            http.headers.pop("content-encoding", None)
            http.headers["content-length"] = str(len(restored))
        return response


class _RestoredStream(httpx2.AsyncByteStream):
    """The decoded body of the original response, rewritten by an `SSERestorer`."""

    def __init__(self, inner: httpx2.Response, restorer: SSERestorer) -> None:
        self._inner = inner
        self._restorer = restorer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner.aiter_bytes():
            out = self._restorer.feed(chunk)
            if out:
                yield out
        tail = self._restorer.close()
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._inner.aclose()


def _restore_stream(http: httpx2.Response, result: Redaction) -> None:
    # A second response over the original stream decodes any content-encoding; the SDK then reads plain
    # restored bytes from the first.
    inner = httpx2.Response(http.status_code, headers=http.headers, stream=http.stream, request=http.request)
    http.stream = _RestoredStream(inner, result.sse_restorer())
    http.headers.pop("content-encoding", None)
    http.headers.pop("content-length", None)
