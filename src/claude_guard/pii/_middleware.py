"""The ingress face, ``PIIRedactionMiddleware`` for gateway routes, and ``redact_route_body``, what the
``pii_redaction`` route dependencies of ``claude_guard.fastapi`` and ``claude_guard.litestar`` call."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from .._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    ensure_body,
    response_head,
    rewrite_body,
)
from .._routes import PathPatterns
from ..context import GuardContext
from ..errors import ConfigurationError, PIIUnavailableError
from ..middleware import GuardMiddleware
from ..responses import ErrorFormat, render_error
from ..store import Store
from ._config import PIIConfig
from ._output import OutputScanner, SSEOutputScanner
from ._redact import Redaction, Redactor
from ._restore import SSERestorer, restore_message

__all__ = ["PIIRedactionMiddleware", "principal_of", "redact_route_body"]


DEFAULT_PATHS = ("/v1/messages", "/v1/messages/count_tokens")


def principal_of(ctx: GuardContext | None) -> str:
    """The vault scope of a request: the principal's key id, or ``anonymous`` before authentication."""
    if ctx is not None and ctx.principal is not None:
        return ctx.principal.key_id
    return "anonymous"


class PIIRedactionMiddleware(GuardMiddleware):
    """Redacts PII and secrets from Messages requests and restores them in the answer (JSON and SSE).

    On ``POST`` to ``paths`` it captures the body once, redacts every text segment with one analysis,
    hands the app (the proxy) the redacted body, and rewrites the response: a JSON answer is restored whole
    (with its ``Content-Length`` fixed), an SSE answer event by event with a hold-back shorter than one
    placeholder. Error responses pass through untouched.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> redactor = Redactor(config=PIIConfig(phone_regions=("US",)))
        >>> guarded = PIIRedactionMiddleware(app, redactor=redactor)
        >>> redactor.close()
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        redactor: Redactor | None = None,
        config: PIIConfig | None = None,
        store: Store | None = None,
        paths: Iterable[str] = DEFAULT_PATHS,
        error_format: ErrorFormat = "anthropic",
        mode: Literal["enforce", "shadow"] = "enforce",
    ) -> None:
        super().__init__(app, error_format=error_format)
        self.redactor = redactor if redactor is not None else Redactor(config=config, store=store)
        self.paths = PathPatterns(paths)
        if mode not in ("enforce", "shadow"):
            raise ConfigurationError("PIIRedactionMiddleware mode must be enforce or shadow.")
        self.shadow = mode == "shadow"
        """Refusals (``block`` operator, analysis unavailable) are recorded as ``would_refuse``, not sent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._starting_receive(receive), send)
            return
        await super().__call__(scope, receive, send)

    def _starting_receive(self, receive: Receive) -> Receive:
        # The engine's workers start and warm during the lifespan startup, before the app's own startup
        # handlers run and before the server accepts a request (a no-op for an engine already running).
        engine = self.redactor.engine

        async def starting_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await engine.astart()
            return message

        return starting_receive

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if ctx.redaction is not None or ctx.method != "POST" or not self.paths.matches(ctx.path):
            await self.app(scope, receive, send)
            return
        receive = await ensure_body(ctx, scope, receive)
        # A body that does not parse strictly is refused here (400): passed on, an endpoint reading it with a
        # lenient parser would see what was never redacted.
        body = ctx.json()
        if not isinstance(body, dict):
            # Not a Messages request: the endpoint refuses it with its own error.
            await self.app(scope, receive, send)
            return
        result = await self.redactor.redact(body, principal=principal_of(ctx), ctx=ctx, shadow=self.shadow)
        ctx.redaction = result
        if result.changed:
            scope = rewrite_body(ctx, scope, result.body)
        scanner = self.redactor.output_scanner()
        if result.mapping or scanner is not None:
            send = _RestoringSend(result, send, ctx=ctx, scanner=scanner, error_format=self.error_format)
        try:
            await self.app(scope, receive, send)
        finally:
            if scanner is not None:
                scanner.record(ctx)


class _RestoringSend:
    """The response side of one request: scans the model's output for new PII (when configured), then
    restores placeholders in a JSON or SSE Messages answer."""

    __slots__ = (
        "_chunks",
        "_ctx",
        "_error_format",
        "_mode",
        "_redaction",
        "_scan",
        "_scanner",
        "_send",
        "_sse",
        "_start",
    )

    def __init__(
        self,
        redaction: Redaction,
        send: Send,
        *,
        ctx: GuardContext,
        scanner: OutputScanner | None = None,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        self._redaction = redaction
        self._send = send
        self._ctx = ctx
        self._scanner = scanner
        self._error_format: ErrorFormat = error_format
        self._mode = "pass"
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._sse: SSERestorer | None = None
        self._scan: SSEOutputScanner | None = None

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._on_start(message)
        elif kind == "http.response.body" and self._mode != "pass":
            await self._on_body(message)
        else:
            await self._send(message)

    async def _on_start(self, message: Message) -> None:
        headers = message.get("headers", ())
        head = response_head(message)
        if head.status >= 300 or head.encoded:
            await self._send(message)
            return
        if head.event_stream:
            self._mode = "sse"
            self._sse = self._redaction.sse_restorer()
            if self._scanner is not None:
                self._scan = SSEOutputScanner(self._scanner)
            message = {**message, "headers": [(k, v) for k, v in headers if k.lower() != b"content-length"]}
            await self._send(message)
        elif head.media_type == "application/json":
            # A JSON answer is one value: hold the start until the body is complete to fix Content-Length.
            self._mode = "json"
            self._start = message
        else:
            await self._send(message)

    async def _on_body(self, message: Message) -> None:
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if self._mode == "sse":
            await self._on_sse(chunk, more)
            return
        self._chunks.append(chunk)
        if more:
            return
        raw = b"".join(self._chunks)
        self._chunks = []
        scanner = self._scanner
        try:
            answer: Any = json.loads(raw)
        except ValueError:
            answer = None
        if answer is not None and scanner is not None:
            try:
                scanned = await scanner.scan_message(answer)
            except PIIUnavailableError as exc:
                scanner.record(self._ctx)
                self._ctx.decide("error", "refused", status=exc.status, code=exc.code)
                error = render_error(exc, request_id=self._ctx.request_id, format=self._error_format)
                await error.send(self._send)
                return
            if scanner.redacts:
                answer = scanned
            # Recorded before the caller has the answer: once it has, the request may be cancelled.
            scanner.record(self._ctx)
        if answer is None:
            restored = raw
        else:
            restored = json.dumps(
                restore_message(answer, self._redaction.mapping), ensure_ascii=False, separators=(",", ":")
            ).encode()
        assert self._start is not None
        headers = [(k, v) for k, v in self._start.get("headers", ()) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(restored)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": restored, "more_body": False})

    async def _on_sse(self, chunk: bytes, more: bool) -> None:
        assert self._sse is not None
        scan = self._scan
        if scan is not None and scan.scanner.redacts:
            # Scan first: the request's placeholders are still placeholders, never mistaken for new PII.
            chunk = await scan.feed(chunk)
            if not more:
                chunk += await scan.close()
                scan.scanner.record(self._ctx)
            scan = None
        elif scan is not None and not more:
            # The end of a reported stream is scanned before it is sent: once the caller has it, the
            # request may be cancelled.
            await scan.feed(chunk)
            await scan.close()
            scan.scanner.record(self._ctx)
            scan = None
        out = self._sse.feed(chunk)
        if not more:
            out += self._sse.close()
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
        if scan is not None:
            # Reporting changes nothing: the caller has the text before it is scanned.
            await scan.feed(chunk)


async def redact_route_body(redactor: Redactor, ctx: GuardContext) -> Redaction:
    """The framework-free part of the ``pii_redaction(...)`` route dependencies: redact the request body
    captured on ``ctx`` once (a request a middleware already redacted is not redacted again) and keep the
    redacted body on ``ctx``.

    The route reads the redacted body from the returned ``Redaction`` (``redaction.body``) and restores
    what it sends back with it. A body that is not strict JSON is refused (400, ``InvalidJSONError``): the
    route would otherwise read a body nobody redacted.
    """
    existing = ctx.redaction
    if isinstance(existing, Redaction):
        return existing
    body = ctx.json()
    result = await redactor.redact(body, principal=principal_of(ctx), ctx=ctx)
    ctx.redaction = result
    if result.changed:
        ctx.set_json(result.body)
    return result
