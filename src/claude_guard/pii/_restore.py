"""Putting original values back: whole JSON messages, text arriving in pieces, and Messages SSE streams."""

from __future__ import annotations

import json
import re
from collections.abc import Coroutine, Mapping
from typing import Any, Final, Protocol

from ..messages._sse import SSEEvent, SSEParser

__all__ = ["PLACEHOLDER", "SSERestorer", "StreamRestorer", "restore_message", "restore_text", "restore_value"]

PLACEHOLDER: Final = re.compile(r"<[A-Z][A-Z0-9_]*_[0-9a-f]{10}>")
"""A reversible placeholder: ``<ENTITY_TYPE_`` ten hex digits ``>``; only JSON-safe ASCII characters."""

_TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use"})


def restore_text(text: str, mapping: Mapping[str, str]) -> str:
    """``text`` with every known placeholder replaced by its value; unknown placeholders stay as they are."""
    if not mapping or "<" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def restore_value(value: Any, mapping: Mapping[str, str]) -> Any:
    """A copy of a JSON value with placeholders restored in every string (keys included)."""
    if isinstance(value, str):
        return restore_text(value, mapping)
    if isinstance(value, list):
        return [restore_value(item, mapping) for item in value]
    if isinstance(value, dict):
        return {restore_text(k, mapping): restore_value(v, mapping) for k, v in value.items()}
    return value


def restore_message(message: Any, mapping: Mapping[str, str]) -> Any:
    """A Messages API response with placeholders restored in text blocks and ``tool_use.input``.

    Thinking blocks are left alone: their signature covers their text.
    """
    if not mapping or not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    content = []
    for block in message["content"]:
        if isinstance(block, dict):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                block = {**block, "text": restore_text(block["text"], mapping)}
            elif kind in _TOOL_USE_TYPES and "input" in block:
                block = {**block, "input": restore_value(block["input"], mapping)}
        content.append(block)
    return {**message, "content": content}


class StreamRestorer:
    """Restores placeholders in text that arrives in pieces split anywhere.

    It holds back only a tail that could still become a known placeholder, so the held text is always
    shorter than the longest placeholder, and text without placeholders passes through at once.
    With ``json_escaped=True`` the text is a fragment of a JSON string (``input_json_delta``) and values are
    inserted JSON-escaped.

    Example:
        >>> restorer = StreamRestorer({"<EMAIL_ADDRESS_0123456789>": "ada@example.com"})
        >>> restorer.feed("write to <EMAIL_AD"), restorer.feed("DRESS_0123456789> now")
        ('write to ', 'ada@example.com now')
        >>> restorer.flush()
        ''
    """

    __slots__ = ("_held", "_mapping", "_prefixes", "max_hold")

    def __init__(self, mapping: Mapping[str, str], *, json_escaped: bool = False) -> None:
        if json_escaped:
            self._mapping = {p: json.dumps(v, ensure_ascii=False)[1:-1] for p, v in mapping.items()}
        else:
            self._mapping = dict(mapping)
        self._prefixes = frozenset(p[:i] for p in self._mapping for i in range(1, len(p)))
        self.max_hold = max((len(p) for p in self._mapping), default=1) - 1
        self._held = ""

    @property
    def held(self) -> int:
        """Characters held back right now."""
        return len(self._held)

    def feed(self, text: str) -> str:
        """Take the next piece; return what can be released, restored."""
        buffer = self._held + text if self._held else text
        hold = self._hold_length(buffer)
        if hold:
            self._held = buffer[-hold:]
            buffer = buffer[:-hold]
        else:
            self._held = ""
        return restore_text(buffer, self._mapping)

    def flush(self) -> str:
        """The held tail at the end of the text (it can no longer become a placeholder)."""
        held, self._held = self._held, ""
        return restore_text(held, self._mapping)

    def _hold_length(self, buffer: str) -> int:
        if not self._prefixes:
            return 0
        index = buffer.find("<", max(0, len(buffer) - self.max_hold))
        while index != -1:
            if buffer[index:] in self._prefixes:
                return len(buffer) - index
            index = buffer.find("<", index + 1)
        return 0


def _encode(event: str | None, data: str) -> bytes:
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def _encode_json(event: str | None, payload: Any) -> bytes:
    return _encode(event, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


class _BlockRewriter(Protocol):
    """Rewrites one content block's text arriving in pieces (a placeholder restorer or an output scan)."""

    async def feed(self, text: str, /) -> str: ...

    async def flush(self) -> str: ...


_DELTA_FIELDS: Final = {"text_delta": "text", "input_json_delta": "partial_json"}


class _SSERewriter:
    """The event rewriting shared by `SSERestorer` and ``SSEOutputScanner``.

    Each content block's ``text_delta`` / ``input_json_delta`` text goes through its own `_BlockRewriter`
    (from `_block_rewriter`, JSON-escaped for tool input), and a block's held tail becomes one more
    ``content_block_delta`` before its ``content_block_stop`` (every block's before ``message_delta``,
    ``message_stop`` or ``error``). A tool block's complete ``input`` at its start goes through
    `_rewrite_input`. Deltas that release nothing are dropped; every other event passes on unchanged
    (re-framed). It is async for the output scan; the restorer's rewriters never suspend, so it runs each
    coroutine to its end with one ``send`` (`_run_sync`), without an event loop.
    """

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._blocks: dict[Any, tuple[str, _BlockRewriter]] = {}

    def _block_rewriter(self, *, json_escaped: bool) -> _BlockRewriter:
        raise NotImplementedError

    async def _rewrite_input(self, value: Any) -> Any:
        raise NotImplementedError

    def _block(self, index: Any, delta_type: str) -> _BlockRewriter:
        entry = self._blocks.get(index)
        if entry is None:
            entry = (delta_type, self._block_rewriter(json_escaped=delta_type == "input_json_delta"))
            self._blocks[index] = entry
        return entry[1]

    async def _flush(self, index: Any) -> bytes:
        entry = self._blocks.pop(index, None)
        if entry is None:
            return b""
        delta_type, rewriter = entry
        tail = await rewriter.flush()
        if not tail:
            return b""
        field = _DELTA_FIELDS[delta_type]
        delta = {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, field: tail}}
        return _encode_json("content_block_delta", delta)

    async def _event(self, event: SSEEvent) -> bytes:
        try:
            payload = json.loads(event.data)
        except ValueError:
            return _encode(event.event, event.data)
        if not isinstance(payload, dict):
            return _encode(event.event, event.data)
        kind = payload.get("type")
        index = payload.get("index")
        if kind == "content_block_start":
            block = payload.get("content_block")
            if isinstance(block, dict):
                if block.get("type") == "text":
                    rewriter = self._block(index, "text_delta")
                    if isinstance(block.get("text"), str) and block["text"]:
                        payload["content_block"] = {**block, "text": await rewriter.feed(block["text"])}
                        return _encode_json(event.event, payload)
                elif block.get("type") in _TOOL_USE_TYPES:
                    self._block(index, "input_json_delta")
                    if block.get("input"):
                        rewritten = await self._rewrite_input(block["input"])
                        payload["content_block"] = {**block, "input": rewritten}
                        return _encode_json(event.event, payload)
        elif kind == "content_block_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict):
                delta_type = delta.get("type")
                field = _DELTA_FIELDS.get(str(delta_type))
                if field is not None and isinstance(delta.get(field), str):
                    released = await self._block(index, str(delta_type)).feed(delta[field])
                    if not released:
                        return b""
                    payload["delta"] = {**delta, field: released}
                    return _encode_json(event.event, payload)
        elif kind == "content_block_stop":
            return await self._flush(index) + _encode(event.event, event.data)
        elif kind in ("message_delta", "message_stop", "error"):
            flushed = b"".join([await self._flush(i) for i in list(self._blocks)])
            return flushed + _encode(event.event, event.data)
        return _encode(event.event, event.data)


def _run_sync(coroutine: Coroutine[Any, Any, bytes]) -> bytes:
    # Runs a coroutine that never suspends (the restorer's rewriting) to its result, without an event loop.
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: bytes = done.value
        return result
    coroutine.close()
    raise RuntimeError("the restorer's SSE rewriting suspended")


class _SyncBlockRestorer:
    """A `StreamRestorer` behind the `_BlockRewriter` interface; it never suspends."""

    __slots__ = ("_restorer",)

    def __init__(self, restorer: StreamRestorer) -> None:
        self._restorer = restorer

    async def feed(self, text: str, /) -> str:
        return self._restorer.feed(text)

    async def flush(self) -> str:
        return self._restorer.flush()


class SSERestorer(_SSERewriter):
    """Rewrites a Messages SSE stream with placeholders restored, chunk by chunk.

    ``text_delta`` and ``input_json_delta`` of each content block go through a `StreamRestorer`; its held
    tail is released before ``content_block_stop``. Every other event passes on unchanged (re-framed).
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        super().__init__()
        self._mapping = dict(mapping)

    def feed(self, chunk: bytes) -> bytes:
        """The rewritten bytes for the events this chunk completes (maybe none)."""
        return b"".join([_run_sync(self._event(event)) for event in self._parser.feed(chunk)])

    def close(self) -> bytes:
        """The end of the stream: a pending event, and any text still held."""
        out = [_run_sync(self._event(event)) for event in self._parser.close()]
        for index in list(self._blocks):
            out.append(_run_sync(self._flush(index)))
        return b"".join(out)

    def _block_rewriter(self, *, json_escaped: bool) -> _BlockRewriter:
        return _SyncBlockRestorer(StreamRestorer(self._mapping, json_escaped=json_escaped))

    async def _rewrite_input(self, value: Any) -> Any:
        return restore_value(value, self._mapping)
