"""ASGI plumbing shared by every face: types, the guard context of a scope, body capture, send observers.

Nothing here imports a web framework.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any, NamedTuple

from .context import SCOPE_KEY, GuardContext, new_context
from .errors import RequestTooLargeError, UnsupportedMediaTypeError

__all__ = [
    "EVENT_STREAM",
    "ASGIApp",
    "ClientDisconnected",
    "Message",
    "Receive",
    "ResponseHead",
    "Scope",
    "Send",
    "add_response_headers",
    "client_host",
    "context_for",
    "ensure_body",
    "header",
    "media_type",
    "observe_send",
    "read_body",
    "replay_receive",
    "require_json",
    "response_head",
    "rewrite_body",
    "with_headers",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("claude_guard")

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


EVENT_STREAM = "text/event-stream"


class ClientDisconnected(Exception):
    """The client went away before the request body was complete."""


def media_type(content_type: str | bytes | None) -> str:
    """A ``Content-Type`` value without its parameters, lower-cased: the one reading of it every protection
    shares.

    Example:
        >>> media_type(b"Text/Event-Stream; charset=utf-8"), media_type(None)
        ('text/event-stream', '')
    """
    if content_type is None:
        return ""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.split(";", 1)[0].strip().lower()


class ResponseHead(NamedTuple):
    """What the protections that watch a response read from its ``http.response.start``."""

    status: int
    media_type: str
    encoded: bool
    """A ``Content-Encoding`` other than identity: the body's bytes are not the text they carry."""

    @property
    def event_stream(self) -> bool:
        return self.media_type == EVENT_STREAM


def response_head(message: Message) -> ResponseHead:
    """Read an ``http.response.start`` message once.

    Example:
        >>> start = {"status": 200, "headers": [(b"content-type", b"text/event-stream; charset=utf-8")]}
        >>> response_head(start)
        ResponseHead(status=200, media_type='text/event-stream', encoded=False)
    """
    content_type: bytes | None = None
    encoded = False
    for name, value in message.get("headers", ()):
        lower = bytes(name).lower()
        if lower == b"content-type":
            content_type = bytes(value)
        elif lower == b"content-encoding" and bytes(value).strip().lower() not in (b"", b"identity"):
            encoded = True
    return ResponseHead(int(message.get("status", 200)), media_type(content_type), encoded)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (``name`` lower-case), or ``None``."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def require_json(scope: Scope) -> None:
    """Refuse (415) a body that is not declared ``application/json``: Messages routes take nothing else."""
    content_type = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/json":
        raise UnsupportedMediaTypeError()


def client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    if client:
        return str(client[0])
    return None


def context_for(scope: Scope) -> GuardContext:
    """The request's ``GuardContext``: created on first use and kept in the scope for every later guard."""
    ctx = scope.get(SCOPE_KEY)
    if ctx is None:
        client = scope.get("client")
        ctx = scope[SCOPE_KEY] = new_context(
            scope.get("method", "GET"), scope.get("path", "/"), str(client[0]) if client else None
        )
    assert isinstance(ctx, GuardContext)
    return ctx


async def read_body(receive: Receive, scope: Scope, *, limit: int) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes without reading further.

    ``Content-Length`` is checked first; chunks are counted as they come, so a lying or absent header does not
    help. ``http.disconnect`` raises ``ClientDisconnected``.
    """
    declared = header(scope, b"content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length > limit:
            raise RequestTooLargeError(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_receive(body: bytes | Callable[[], bytes], receive: Receive) -> Receive:
    """A ``receive`` that hands out the body once and then defers to the original one.

    ``body`` may be a function, read at the first call: ``ensure_body`` passes one that returns the
    context's current body, so a protection that rewrites the request (``rewrite_body``) needs no receive of
    its own.
    """
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            data = body() if callable(body) else body
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return replay


async def ensure_body(ctx: GuardContext, scope: Scope, receive: Receive) -> Receive:
    """Capture the body into ``ctx`` once (with the request's cap) and return the ``receive`` to pass on.

    A guard further in finds ``ctx.body`` set and passes ``receive`` (already a replay) through untouched.
    """
    if ctx.body is not None:
        return receive
    limit = ctx.max_body_bytes if ctx.max_body_bytes is not None else DEFAULT_MAX_BODY_BYTES
    ctx.body = await read_body(receive, scope, limit=limit)
    return replay_receive(lambda: ctx.body or b"", receive)


def rewrite_body(ctx: GuardContext, scope: Scope, value: Any) -> Scope:
    """Replace the request's JSON body (a sanitized or redacted prompt) for everything further in.

    The replaying ``receive`` hands out the new body; the returned scope carries its ``Content-Length``.
    """
    ctx.set_json(value)
    assert ctx.body is not None
    headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(ctx.body)).encode()))
    return {**scope, "headers": headers}


def observe_send(send: Send, observer: Callable[[Message], None]) -> Send:
    """Wrap ``send`` so every message is forwarded first and shown to ``observer`` after.

    An observer that raises is logged and ignored: watching a response never breaks it.
    """

    async def observed(message: Message) -> None:
        await send(message)
        try:
            observer(message)
        except Exception:
            logger.exception("claude_guard: a response observer failed")

    return observed


_STARTS = ("http.response.start", "websocket.accept")
Header = tuple[bytes, bytes]
_AnyHeader = tuple[str | bytes, str | bytes]


def _encoded(headers: Iterable[_AnyHeader]) -> list[Header]:
    return [(_latin1(k), _latin1(v)) for k, v in headers]


def _latin1(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("latin-1")


def with_headers(message: Message, extra: Sequence[Header], *, keep: bool = False) -> Message:
    """A copy of a response start (``http.response.start``, ``websocket.accept``) with ``extra`` after its own
    headers; the app's message is never changed. ``keep``: a header the app already set is not added again.

    Example:
        >>> start = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}
        >>> with_headers(start, [(b"b", b"2")])["headers"], start["headers"]
        ([(b'a', b'1'), (b'b', b'2')], [(b'a', b'1')])
        >>> with_headers(start, [(b"A", b"other")], keep=True) is start
        True
    """
    own = message.get("headers", ())
    if keep and extra:
        present = {bytes(name).lower() for name, _ in own}
        extra = [(name, value) for name, value in extra if name.lower() not in present]
    if not extra:
        return message
    return {**message, "headers": [*own, *extra]}


def add_response_headers(
    send: Send,
    headers: Iterable[_AnyHeader] | Callable[[], Iterable[_AnyHeader]],
    *,
    keep: bool = False,
) -> Send:
    """Wrap ``send`` to append ``headers`` (or what a function of none returns, called when the response
    starts; names and values as ``str`` or ``bytes``) to the response start; every other message passes as it
    is (see ``with_headers``)."""
    fixed = None if callable(headers) else _encoded(headers)

    async def send_with_headers(message: Message) -> None:
        if message["type"] in _STARTS:
            extra = fixed if fixed is not None else _encoded(headers() if callable(headers) else ())
            message = with_headers(message, extra, keep=keep)
        await send(message)

    return send_with_headers
