"""An incremental parser of ``text/event-stream`` bodies and a follower of Messages streams."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigurationError
from ._usage import Usage

__all__ = ["MAX_EVENT_BYTES", "MAX_LINE_BYTES", "SSEError", "SSEEvent", "SSEParser", "StreamUsage"]


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
            raise ConfigurationError("max_line_bytes must be at least 1")
        if max_event_bytes < 1:
            raise ConfigurationError("max_event_bytes must be at least 1")
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
