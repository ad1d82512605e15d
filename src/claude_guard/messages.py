"""The Claude Messages API as data: text segments of a request, usage, and an incremental SSE parser.

Framework-free and standard library only, so every middleware can share one reading of the wire format:

- `iter_text_segments` / `replace_text_segments` find and rewrite every string the model will read in a
  request body, addressed by its JSON path, without touching ids, signatures, thinking or images.
- `Usage` reads the API's usage object and applies the streaming rule (`message_delta.usage` is
  cumulative: it replaces, never adds).
- `SSEParser` turns arbitrary byte chunks into `SSEEvent`s, and `StreamUsage` follows a Messages stream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_LINE_BYTES",
    "SSEError",
    "SSEEvent",
    "SSEParser",
    "SegmentPath",
    "StreamUsage",
    "TextSegment",
    "Usage",
    "iter_text_segments",
    "joined_text",
    "locate",
    "replace_text_segments",
    "usage_from_response",
]

SegmentPath = tuple[str | int, ...]

_TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use"})


@dataclass(frozen=True, slots=True)
class TextSegment:
    """One string of a request body that the model reads.

    Attributes:
        path: JSON path of the string inside the body, e.g. ``("messages", 1, "content", 0, "text")``.
        text: The string itself.
        kind: The channel it arrived through: ``"system"``, ``"message"``, ``"tool_input"``,
            ``"tool_result"`` or ``"document"``.
    """

    path: SegmentPath
    text: str
    kind: str


def iter_text_segments(body: Mapping[str, Any]) -> Iterator[TextSegment]:
    """Yield, in document order, every string of a Messages request that the model will read.

    Ids, signatures, thinking blocks, images, cache_control, citations and tool names are never yielded.
    Unknown block types and malformed shapes are skipped; this never raises on any JSON value.
    Everything inside a ``tool_result`` (documents included) has kind ``"tool_result"``.

    Example:
        >>> body = {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]}
        >>> [(s.path, s.kind) for s in iter_text_segments(body)]
        [(('system',), 'system'), (('messages', 0, 'content'), 'message')]
    """
    if not isinstance(body, Mapping):
        return
    system = body.get("system")
    if isinstance(system, str):
        yield TextSegment(("system",), system, "system")
    elif isinstance(system, list):
        for index, block in enumerate(system):
            yield from _text_block(block, ("system", index), "system")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        path: SegmentPath = ("messages", index, "content")
        if isinstance(content, str):
            yield TextSegment(path, content, "message")
        elif isinstance(content, list):
            for block_index, block in enumerate(content):
                yield from _message_block(block, (*path, block_index))


def _text_block(block: object, path: SegmentPath, kind: str) -> Iterator[TextSegment]:
    if isinstance(block, Mapping) and block.get("type") == "text":
        text = block.get("text")
        if isinstance(text, str):
            yield TextSegment((*path, "text"), text, kind)


def _message_block(block: object, path: SegmentPath) -> Iterator[TextSegment]:
    if not isinstance(block, Mapping):
        return
    block_type = block.get("type")
    if block_type == "text":
        yield from _text_block(block, path, "message")
    elif block_type in _TOOL_USE_TYPES:
        if "input" in block:
            yield from _strings_within(block["input"], (*path, "input"), "tool_input")
    elif block_type == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            yield TextSegment((*path, "content"), content, "tool_result")
        elif isinstance(content, list):
            for index, inner in enumerate(content):
                inner_path = (*path, "content", index)
                if isinstance(inner, Mapping) and inner.get("type") == "document":
                    yield from _document(inner, inner_path, "tool_result")
                else:
                    yield from _text_block(inner, inner_path, "tool_result")
    elif block_type == "document":
        yield from _document(block, path, "document")


def _document(block: Mapping[str, Any], path: SegmentPath, kind: str) -> Iterator[TextSegment]:
    for key, value in block.items():
        if key in ("title", "context") and isinstance(value, str):
            yield TextSegment((*path, key), value, kind)
        elif key == "source" and isinstance(value, Mapping):
            source_type = value.get("type")
            if source_type == "text":
                data = value.get("data")
                if isinstance(data, str):
                    yield TextSegment((*path, "source", "data"), data, kind)
            elif source_type == "content":
                content = value.get("content")
                if isinstance(content, str):
                    yield TextSegment((*path, "source", "content"), content, kind)
                elif isinstance(content, list):
                    for index, inner in enumerate(content):
                        yield from _text_block(inner, (*path, "source", "content", index), kind)


def _strings_within(value: object, path: SegmentPath, kind: str) -> Iterator[TextSegment]:
    # An explicit stack: tool input is arbitrary JSON and may nest deeper than the recursion limit.
    stack: list[tuple[SegmentPath, object]] = [(path, value)]
    while stack:
        current_path, current = stack.pop()
        if isinstance(current, str):
            yield TextSegment(current_path, current, kind)
        elif isinstance(current, Mapping):
            children = [((*current_path, k), v) for k, v in current.items() if isinstance(k, str)]
            stack.extend(reversed(children))
        elif isinstance(current, list):
            stack.extend(reversed([((*current_path, i), v) for i, v in enumerate(current)]))


def replace_text_segments(body: Mapping[str, Any], replacements: Mapping[SegmentPath, str]) -> dict[str, Any]:
    """Return a copy of ``body`` with the strings at the given paths replaced.

    Only the containers along changed paths are copied; everything else is shared with ``body``, which is
    never mutated. Treat the result as read-only where it shares structure with the input.

    Raises:
        KeyError: A path does not exist or does not point at a string.
        TypeError: A replacement is not a string.

    Example:
        >>> body = {"messages": [{"role": "user", "content": "my name is Ada"}]}
        >>> replace_text_segments(body, {("messages", 0, "content"): "my name is <PERSON>"})["messages"]
        [{'role': 'user', 'content': 'my name is <PERSON>'}]
    """
    root: dict[str, Any] = dict(body)
    copies: dict[SegmentPath, Any] = {(): root}
    for path, text in replacements.items():
        if not isinstance(text, str):
            raise TypeError(f"replacement for {path!r} must be str, not {type(text).__name__}")
        if not path:
            raise KeyError(path)
        container: Any = root
        for depth in range(1, len(path)):
            prefix = path[:depth]
            copied = copies.get(prefix)
            if copied is None:
                child = _child(container, path[depth - 1], path)
                if isinstance(child, Mapping):
                    copied = dict(child)
                elif isinstance(child, list):
                    copied = list(child)
                else:
                    raise KeyError(path)
                container[path[depth - 1]] = copied
                copies[prefix] = copied
            container = copied
        if not isinstance(_child(container, path[-1], path), str):
            raise KeyError(path)
        container[path[-1]] = text
    return root


def _child(container: object, key: str | int, path: SegmentPath) -> object:
    if isinstance(container, dict) and isinstance(key, str) and key in container:
        return container[key]
    # bool is an int subclass; a True index is a caller bug, not element 1.
    if (
        isinstance(container, list)
        and isinstance(key, int)
        and not isinstance(key, bool)
        and 0 <= key < len(container)
    ):
        return container[key]
    raise KeyError(path)


def joined_text(
    segments: Iterable[TextSegment], separator: str = "\n\n"
) -> tuple[str, list[tuple[int, TextSegment]]]:
    """Join segment texts so they can be analysed as one string.

    Returns:
        The joined string and, for each segment in order, ``(start offset in the joined string, segment)``.

    Example:
        >>> segments = [TextSegment(("a",), "ab", "message"), TextSegment(("b",), "cd", "message")]
        >>> text, offsets = joined_text(segments)
        >>> text, [start for start, _ in offsets]
        ('ab\\n\\ncd', [0, 4])
    """
    parts: list[str] = []
    offsets: list[tuple[int, TextSegment]] = []
    position = 0
    for index, segment in enumerate(segments):
        if index:
            parts.append(separator)
            position += len(separator)
        offsets.append((position, segment))
        parts.append(segment.text)
        position += len(segment.text)
    return "".join(parts), offsets


def locate(offsets: Sequence[tuple[int, TextSegment]], position: int) -> tuple[TextSegment, int]:
    """Map a position in the string from `joined_text` back to ``(segment, offset inside segment.text)``.

    A position equal to a segment's end maps to that segment with ``offset == len(segment.text)`` (the end
    of a span). A position inside the separator after a segment maps to that segment with an offset past
    its end; clamp it when mapping spans.

    Raises:
        ValueError: ``offsets`` is empty, or ``position`` lies outside the joined string.
    """
    index = bisect_right(offsets, position, key=lambda item: item[0]) - 1
    if position < 0 or index < 0:
        raise ValueError(f"position {position} is outside the joined text")
    start, segment = offsets[index]
    if index == len(offsets) - 1 and position > start + len(segment.text):
        raise ValueError(f"position {position} is outside the joined text")
    return segment, position - start


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(value, 0)


def _count_if_present(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


_TOP_LEVEL_COUNTS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
_CACHE_BREAKDOWN: Final = (
    ("ephemeral_5m_input_tokens", "cache_creation_5m_input_tokens"),
    ("ephemeral_1h_input_tokens", "cache_creation_1h_input_tokens"),
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one Messages call, as the API reports it.

    ``input_tokens`` excludes cached tokens; `total_input_tokens` includes them.

    Example:
        >>> usage = Usage.from_dict({"input_tokens": 11, "output_tokens": 1})
        >>> usage.merged({"output_tokens": 6}).output_tokens
        6
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    web_fetch_requests: int = 0
    speed: str | None = None
    """``standard`` or ``fast``: the speed the request was billed at, when the API reports it."""
    inference_geo: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Usage:
        """Read an API ``usage`` object.

        Missing, None and non-int values (bools included) count as 0; negatives clamp to 0. Without a
        ``cache_creation`` breakdown, all cache writes count as 5-minute writes (the default TTL).
        """
        if not isinstance(d, Mapping):
            return cls()
        cache_creation = _count(d.get("cache_creation_input_tokens"))
        breakdown = d.get("cache_creation")
        if isinstance(breakdown, Mapping):
            five_minutes = _count(breakdown.get("ephemeral_5m_input_tokens"))
            one_hour = _count(breakdown.get("ephemeral_1h_input_tokens"))
        else:
            five_minutes, one_hour = cache_creation, 0
        server_tool_use = d.get("server_tool_use")
        tools = server_tool_use if isinstance(server_tool_use, Mapping) else {}
        tier = d.get("service_tier")
        speed = d.get("speed")
        geo = d.get("inference_geo")
        return cls(
            input_tokens=_count(d.get("input_tokens")),
            output_tokens=_count(d.get("output_tokens")),
            cache_creation_input_tokens=cache_creation,
            cache_read_input_tokens=_count(d.get("cache_read_input_tokens")),
            cache_creation_5m_input_tokens=five_minutes,
            cache_creation_1h_input_tokens=one_hour,
            web_search_requests=_count(tools.get("web_search_requests")),
            service_tier=tier if isinstance(tier, str) else None,
            web_fetch_requests=_count(tools.get("web_fetch_requests")),
            speed=speed if isinstance(speed, str) else None,
            inference_geo=geo if isinstance(geo, str) else None,
        )

    def merged(self, update: Mapping[str, Any]) -> Usage:
        """Apply a ``message_delta.usage``: present fields replace current values, absent ones are kept.

        Streamed counts are cumulative, so they are never added. A field that is None or not an int is
        treated as absent (the API sends null for counts it does not repeat). When the update changes
        ``cache_creation_input_tokens`` without a breakdown, the 1-hour part is kept and the rest counts
        as 5-minute writes.
        """
        if not isinstance(update, Mapping):
            return self
        changes: dict[str, Any] = {}
        for name in _TOP_LEVEL_COUNTS:
            value = _count_if_present(update.get(name))
            if value is not None:
                changes[name] = value
        breakdown = update.get("cache_creation")
        if isinstance(breakdown, Mapping):
            for api_name, field_name in _CACHE_BREAKDOWN:
                value = _count_if_present(breakdown.get(api_name))
                if value is not None:
                    changes[field_name] = value
        elif "cache_creation_input_tokens" in changes:
            total = changes["cache_creation_input_tokens"]
            if self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens != total:
                one_hour = min(self.cache_creation_1h_input_tokens, total)
                changes["cache_creation_1h_input_tokens"] = one_hour
                changes["cache_creation_5m_input_tokens"] = total - one_hour
        server_tool_use = update.get("server_tool_use")
        if isinstance(server_tool_use, Mapping):
            for name in ("web_search_requests", "web_fetch_requests"):
                value = _count_if_present(server_tool_use.get(name))
                if value is not None:
                    changes[name] = value
        for name in ("service_tier", "speed", "inference_geo"):
            text = update.get(name)
            if isinstance(text, str):
                changes[name] = text
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def total_input_tokens(self) -> int:
        """Input tokens including cache writes and reads (OpenTelemetry's ``gen_ai.usage.input_tokens``)."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def to_dict(self) -> dict[str, Any]:
        """Return the usage in the API's shape; `from_dict` reads it back unchanged."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation_1h_input_tokens,
            },
            "server_tool_use": {
                "web_search_requests": self.web_search_requests,
                "web_fetch_requests": self.web_fetch_requests,
            },
            "service_tier": self.service_tier,
            "speed": self.speed,
            "inference_geo": self.inference_geo,
        }


def usage_from_response(body: Mapping[str, Any]) -> Usage:
    """Read the usage of a non-streamed Messages response (zeros when it has none)."""
    return Usage.from_dict(body.get("usage")) if isinstance(body, Mapping) else Usage()


MAX_LINE_BYTES: Final = 1024 * 1024
MAX_EVENT_BYTES: Final = 8 * 1024 * 1024

_LINE_END: Final = re.compile(rb"[\r\n]")
_BOM: Final = b"\xef\xbb\xbf"
_LF: Final = 0x0A
_COLON: Final = 0x3A


class SSEError(ValueError):
    """The event stream broke a parser limit (a line or an event too long)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event.

    Attributes:
        event: The ``event:`` field; None when absent or empty (the default ``message`` type).
        data: The ``data:`` lines joined with ``"\\n"``.
        id: The last event id seen on the stream so far (it persists across events, as in the spec).
        retry: The ``retry:`` value given in this event's block, if any.
    """

    event: str | None
    data: str
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """Parse ``data`` as JSON.

        Raises:
            ValueError: ``data`` is not valid JSON.
        """
        try:
            return json.loads(self.data, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ValueError("event data nests too deeply") from exc


class SSEParser:
    """Incremental parser of a ``text/event-stream`` body (WHATWG rules).

    Any split of the same bytes gives the same events: chunks may end inside a UTF-8 character, a
    ``\\r\\n`` or a field name. Lines end with ``\\n``, ``\\r`` or ``\\r\\n``; a leading BOM is stripped;
    invalid UTF-8 is decoded with replacement characters. Memory is bounded by ``max_line_bytes`` per line
    and ``max_event_bytes`` of data lines per event; past either, `SSEError` is raised and the parser must
    be discarded.

    Example:
        >>> parser = SSEParser()
        >>> parser.feed(b'event: ping\\ndata: {"type": "pi') + parser.feed(b'ng"}\\n\\n')
        [SSEEvent(event='ping', data='{"type": "ping"}', id=None, retry=None)]
    """

    __slots__ = (
        "_closed",
        "_data",
        "_data_bytes",
        "_event_type",
        "_head",
        "_last_id",
        "_line",
        "_max_event_bytes",
        "_max_line_bytes",
        "_retry",
        "_skip_lf",
    )

    def __init__(
        self, max_line_bytes: int = MAX_LINE_BYTES, *, max_event_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        if max_event_bytes < 1:
            raise ValueError("max_event_bytes must be at least 1")
        self._max_line_bytes = max_line_bytes
        self._max_event_bytes = max_event_bytes
        # Bytes held until we know whether the stream starts with a BOM; None once that is decided.
        self._head: bytes | None = b""
        self._line = bytearray()
        # Set after a line ended with \r: a \n that follows (maybe in the next chunk) completes \r\n.
        self._skip_lf = False
        self._event_type = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._last_id: str | None = None
        self._retry: int | None = None
        self._closed = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume the next bytes of the stream and return the events they complete.

        Raises:
            SSEError: A line or an event exceeds its limit.
            RuntimeError: The parser was already closed.
        """
        if self._closed:
            raise RuntimeError("SSEParser.feed() called after close()")
        if self._head is not None:
            head = self._head + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return []
            self._head = None
            chunk = head[len(_BOM) :] if head.startswith(_BOM) else head
        events: list[SSEEvent] = []
        start = 0
        for match in _LINE_END.finditer(chunk):
            end = match.start()
            if self._skip_lf and end == start and chunk[end] == _LF:
                self._skip_lf = False
                start = end + 1
                continue
            if len(self._line) + end - start > self._max_line_bytes:
                raise SSEError(f"event-stream line longer than {self._max_line_bytes} bytes")
            if self._line:
                self._line += chunk[start:end]
                line = bytes(self._line)
                self._line.clear()
            else:
                line = chunk[start:end]
            event = self._process_line(line)
            if event is not None:
                events.append(event)
            self._skip_lf = chunk[end] != _LF
            start = end + 1
        if start < len(chunk):
            self._skip_lf = False
            if len(self._line) + len(chunk) - start > self._max_line_bytes:
                raise SSEError(f"event-stream line longer than {self._max_line_bytes} bytes")
            self._line += chunk[start:]
        return events

    def close(self) -> list[SSEEvent]:
        """End the stream and return the event left pending, if it has data.

        The spec discards an event that lacks its closing blank line; we return it, because a stream cut
        mid-way still carries usage worth metering. A second call returns nothing.
        """
        if self._closed:
            return []
        self._closed = True
        if self._head:
            self._line += self._head
        self._head = None
        events: list[SSEEvent] = []
        if self._line:
            line = bytes(self._line)
            self._line.clear()
            self._process_line(line)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _process_line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == _COLON:
            return None
        field, colon, value = line.decode("utf-8", "replace").partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data_bytes += len(line)
            if self._data_bytes > self._max_event_bytes:
                raise SSEError(f"event-stream event larger than {self._max_event_bytes} bytes")
            self._data.append(value)
        elif field == "event":
            self._event_type = value
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            # Longer than int() accepts from a string: not a real delay, ignore it.
            with contextlib.suppress(ValueError):
                self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        event = None
        if self._data:
            event = SSEEvent(
                event=self._event_type or None,
                data="\n".join(self._data),
                id=self._last_id,
                retry=self._retry,
            )
        self._event_type = ""
        self._data = []
        self._data_bytes = 0
        self._retry = None
        return event


_TRACKED_EVENTS: Final = frozenset({"message_start", "message_delta", "message_stop", "error"})


class StreamUsage:
    """Follows a streamed Messages response: usage, ids, stop reason and a mid-stream error.

    Feed it every `SSEEvent` of the stream (``observe``), or the stream's raw bytes as they pass (``feed``,
    then ``close`` at the end). Events with bad JSON or unknown types are ignored; a byte stream that stops
    being valid SSE stops being followed, keeping what was read until then.

    Example:
        >>> tracker = StreamUsage()
        >>> tracker.observe(SSEEvent("message_delta", '{"type":"message_delta","usage":{"output_tokens":6}}'))
        >>> tracker.usage.output_tokens
        6
    """

    __slots__ = (
        "_error",
        "_finished",
        "_message_id",
        "_model",
        "_parser",
        "_started",
        "_stop_reason",
        "_usage",
    )

    def __init__(self) -> None:
        self._parser: SSEParser | None = SSEParser()
        self._usage = Usage()
        self._message_id: str | None = None
        self._model: str | None = None
        self._stop_reason: str | None = None
        self._error: dict[str, Any] | None = None
        self._started = False
        self._finished = False

    def feed(self, chunk: bytes) -> None:
        """Follow the stream's raw bytes, split anywhere. Never raises."""
        if self._parser is None:
            return
        try:
            events = self._parser.feed(chunk)
        except (SSEError, RuntimeError):
            self._parser = None
            return
        for event in events:
            self.observe(event)

    def close(self) -> None:
        """The byte stream ended (or was cut): take in a last event it left without its blank line."""
        if self._parser is None:
            return
        parser, self._parser = self._parser, None
        try:
            events = parser.close()
        except SSEError:
            return
        for event in events:
            self.observe(event)

    def observe(self, event: SSEEvent) -> None:
        """Update the tracker with one event of the stream. Never raises."""
        name = event.event
        if name is not None and name not in _TRACKED_EVENTS:
            return
        try:
            payload = event.json()
        except ValueError:
            return
        if not isinstance(payload, Mapping):
            return
        if name is None:
            name = payload.get("type")
        if name == "message_start":
            message = payload.get("message")
            if isinstance(message, Mapping):
                self._started = True
                self._usage = Usage.from_dict(message.get("usage"))
                self._message_id = _string_or_none(message.get("id"))
                self._model = _string_or_none(message.get("model"))
                self._stop_reason = _string_or_none(message.get("stop_reason"))
        elif name == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, Mapping) and isinstance(delta.get("stop_reason"), str):
                self._stop_reason = delta["stop_reason"]
            usage = payload.get("usage")
            if isinstance(usage, Mapping):
                self._usage = self._usage.merged(usage)
        elif name == "message_stop":
            self._finished = True
        elif name == "error":
            error = payload.get("error")
            if isinstance(error, Mapping):
                self._error = dict(error)

    @property
    def usage(self) -> Usage:
        """Usage so far: ``message_start``'s, updated by each ``message_delta``."""
        return self._usage

    @property
    def message_id(self) -> str | None:
        """The message id from ``message_start``."""
        return self._message_id

    @property
    def model(self) -> str | None:
        """The model that answered, from ``message_start``."""
        return self._model

    @property
    def stop_reason(self) -> str | None:
        """The latest stop reason (``end_turn``, ``tool_use``, ...); None until the stream gives one."""
        return self._stop_reason

    @property
    def error(self) -> dict[str, Any] | None:
        """The ``error`` object of an ``error`` event (which can arrive after an HTTP 200)."""
        return self._error

    @property
    def started(self) -> bool:
        """Whether ``message_start`` was seen."""
        return self._started

    @property
    def finished(self) -> bool:
        """Whether ``message_stop`` was seen."""
        return self._finished


def _string_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
