"""Output scanning: PII and secrets the model wrote itself, reported or redacted, JSON and streamed."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from typing import Any, Final

from ..context import GuardContext
from ..errors import ConfigurationError, PIIUnavailableError
from ..messages import iter_text_segments, replace_text_segments
from ..messages._segments import joined_text
from ..messages._sse import SSEEvent
from ._config import OutputScan
from ._engine import AnalysisUnavailableError, Finding, PIIEngine, merge_findings
from ._restore import PLACEHOLDER, _encode_json, _SSERewriter

__all__ = ["OutputScanner", "SSEOutputScanner", "TextScanner"]

_CONTEXT: Final = 64
"""Characters already released that are analysed again before a window (context words such as "ssn")."""
_SEPARATOR: Final = "\n\n"


class OutputScanner:
    """Finds, in one response, PII and secrets that are not placeholders of the request.

    One per response: it keeps the counts for the decision recorded at its end. ``redact`` replaces each
    finding with ``<ENTITY_TYPE>``; ``report`` only counts. Analysis runs in the engine's pool. When it fails
    and the policy is ``closed``, a ``redact`` scanner raises `PIIUnavailableError` (nothing unscanned is
    released); otherwise the text goes on unscanned and the decision records the failure.

    Example:
        >>> import asyncio
        >>> from claude_guard.pii import PIIConfig, PIIEngine
        >>> engine = PIIEngine(PIIConfig(phone_regions=("US",)))
        >>> scanner = OutputScanner(engine, mode="redact")
        >>> message = {"type": "message", "content": [{"type": "text", "text": "ask bo@example.com"}]}
        >>> asyncio.run(scanner.scan_message(message))["content"][0]["text"], dict(scanner.counts)
        ('ask <EMAIL_ADDRESS>', {'EMAIL_ADDRESS': 1})
        >>> engine.close()
    """

    def __init__(self, engine: PIIEngine, *, mode: OutputScan, hold: int | None = None) -> None:
        if mode not in ("report", "redact"):
            raise ConfigurationError("an OutputScanner reports or redacts")
        self.engine = engine
        self.mode = mode
        self.hold = hold if hold is not None else engine.config.output_hold
        self.counts: Counter[str] = Counter()
        self.failure: str | None = None
        self._recorded = False

    def __repr__(self) -> str:
        return f"OutputScanner(mode={self.mode!r}, hold={self.hold}, counts={dict(self.counts)})"

    @property
    def redacts(self) -> bool:
        return self.mode == "redact"

    async def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text`` that do not touch a placeholder.

        Raises:
            PIIUnavailableError: analysis failed, the scanner redacts and the policy fails closed.
        """
        try:
            findings = await self.engine.analyze(text)
        except AnalysisUnavailableError as exc:
            self.failure = exc.reason
            if self.redacts and self.engine.config.on_failure == "closed":
                raise PIIUnavailableError(code=f"pii_{exc.reason}") from None
            return []
        if not findings:
            return []
        placeholders = [m.span() for m in PLACEHOLDER.finditer(text)]
        return [
            f
            for f in merge_findings(findings)
            if not any(start < f.end and f.start < end for start, end in placeholders)
        ]

    async def scan_message(self, message: Any) -> Any:
        """A Messages response with new findings counted and, with ``redact``, replaced in its text blocks
        and tool inputs (thinking is left alone: its signature covers it). One analysis for the message."""
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            return message
        body = {"messages": [{"role": "assistant", "content": message["content"]}]}
        content = await self._scan_body(body)
        return message if content is None else {**message, "content": content}

    async def scan_block_input(self, value: Any) -> Any:
        """A tool input (a JSON value) with new findings counted and, with ``redact``, replaced."""
        body = {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "input": value}]}]}
        content = await self._scan_body(body)
        return value if content is None else content[0]["input"]

    async def _scan_body(self, body: dict[str, Any]) -> list[Any] | None:
        segments = list(iter_text_segments(body))
        if not segments:
            return None
        joined, offsets = joined_text(segments, _SEPARATOR)
        findings = await self.find(joined)
        starts = [start for start, _ in offsets]
        spans: dict[int, list[Finding]] = {}
        for finding in findings:
            index = max(0, bisect_right(starts, finding.start) - 1)
            while index < len(offsets) and offsets[index][0] < finding.end:
                seg_start, segment = offsets[index]
                local = finding._replace(
                    start=max(finding.start - seg_start, 0),
                    end=min(finding.end - seg_start, len(segment.text)),
                )
                if local.end > local.start:
                    spans.setdefault(index, []).append(local)
                index += 1
        # A finding split by a separator is still one finding.
        self.counts.update(f.entity for f in findings)
        if not self.redacts or not spans:
            return None
        replacements = {
            offsets[index][1].path: _redacted(offsets[index][1].text, found) for index, found in spans.items()
        }
        rewritten = replace_text_segments(body, replacements)
        return list(rewritten["messages"][0]["content"])

    def text_scanner(self, *, json_escaped: bool = False) -> TextScanner:
        """A `TextScanner` for one content block that arrives in pieces."""
        return TextScanner(self, json_escaped=json_escaped)

    def record(self, ctx: GuardContext | None) -> None:
        """Record the outcome once: ``output_found`` with counts per entity type (never values), and an
        analysis failure if there was one."""
        if self._recorded or ctx is None:
            return
        self._recorded = True
        if self.counts:
            action = "redacted" if self.redacts else "reported"
            ctx.decide("pii", "output_found", entities=dict(self.counts), action=action)
        if self.failure is not None:
            policy = self.engine.config.on_failure if self.redacts else "open"
            ctx.decide("pii", "unavailable", reason=self.failure, policy=policy, stage="output")


class TextScanner:
    """Scans one content block's text arriving in pieces, releasing it once it has been analysed.

    Text is kept until ``2 × hold`` characters wait; then the window (with up to 64 released characters of
    left context) is analysed and released up to the last whitespace at least ``hold`` characters before its
    end, never through the middle of a finding. A run without whitespace is cut after ``8 × hold``
    characters. `flush` analyses and releases the rest (the end of the block).

    With ``json_escaped=True`` the text is a fragment of a JSON document (``input_json_delta``): ``"`` also
    ends a window, and a replacement never splits an escape sequence or crosses a string's end.
    """

    __slots__ = ("_boundaries", "_context", "_json", "_pending", "_scanner")

    def __init__(self, scanner: OutputScanner, *, json_escaped: bool = False) -> None:
        self._scanner = scanner
        self._json = json_escaped
        self._boundaries = frozenset(' \t\n\r"') if json_escaped else frozenset(" \t\n\r")
        self._pending = ""
        self._context = ""

    @property
    def held(self) -> int:
        """Characters held back right now."""
        return len(self._pending)

    async def feed(self, text: str) -> str:
        """Take the next piece; return what can be released (redacted with ``redact``)."""
        self._pending += text
        if len(self._pending) < 2 * self._scanner.hold:
            return ""
        return await self._scan(final=False)

    async def flush(self) -> str:
        """Analyse and release everything held (the block ended)."""
        if not self._pending:
            return ""
        return await self._scan(final=True)

    async def _scan(self, *, final: bool) -> str:
        hold = self._scanner.hold
        text = self._context + self._pending
        offset = len(self._context)
        findings = [f for f in await self._scanner.find(text) if f.end > offset]
        if final:
            cut = len(text)
        else:
            cut = self._cut(text, offset, hold)
            for f in reversed(findings):
                if f.start < cut < f.end:
                    # Never release part of a finding; one that began in released text is redacted to its end.
                    cut = f.start if f.start > offset else f.end
            if cut <= offset:
                return ""
        released = [f for f in findings if f.start < cut]
        self._scanner.counts.update(f.entity for f in released)
        window = text[offset:cut]
        if self._scanner.redacts and released:
            local = [f._replace(start=max(f.start - offset, 0), end=f.end - offset) for f in released]
            window = _redacted(window, local, json_escaped=self._json)
        self._context = text[max(0, cut - _CONTEXT) : cut]
        self._pending = text[cut:]
        return window

    def _cut(self, text: str, offset: int, hold: int) -> int:
        limit = len(text) - hold
        for position in range(limit - 1, offset, -1):
            if text[position] in self._boundaries:
                return position + 1
        if len(text) - offset >= 8 * hold:
            return limit
        return offset


def _redacted(text: str, findings: list[Finding], *, json_escaped: bool = False) -> str:
    parts: list[str] = []
    position = 0
    for f in sorted(findings, key=lambda f: f.start):
        start, end = _json_span(text, f.start, f.end) if json_escaped else (f.start, f.end)
        if end <= start or start < position:
            continue
        parts.append(text[position:start])
        parts.append(f"<{f.entity}>")
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _json_span(text: str, start: int, end: int) -> tuple[int, int]:
    # A span of raw JSON text that is safe to replace: not starting inside an escape sequence, not ending in
    # one, and not crossing the end of the string it starts in.
    backslashes = 0
    while start - backslashes > 0 and text[start - backslashes - 1] == "\\":
        backslashes += 1
    if backslashes % 2:
        start += 5 if text.startswith("u", start) else 1
    position = start
    while position < end:
        char = text[position]
        if char == "\\":
            step = 6 if text.startswith("u", position + 1) else 2
            if position + step > end:
                return start, position
            position += step
        elif char == '"':
            return start, position
        else:
            position += 1
    return start, end


class SSEOutputScanner(_SSERewriter):
    """Rewrites a Messages SSE stream with new findings redacted (or only counted), chunk by chunk.

    ``text_delta`` and ``input_json_delta`` of each content block go through a `TextScanner`; what it holds
    is released before ``content_block_stop`` (and before ``message_delta``, ``message_stop`` or
    ``error``). Deltas that release nothing are dropped; every other event passes on unchanged (re-framed).
    When the analysis fails closed, an ``error`` event ends the stream and nothing more is passed on.
    Put an `SSERestorer` after it: placeholders are restored only after the scan, so the request's own values
    are never mistaken for new ones.
    """

    def __init__(self, scanner: OutputScanner) -> None:
        super().__init__()
        self.scanner = scanner
        self._failed = False

    async def feed(self, chunk: bytes) -> bytes:
        """The rewritten bytes for the events this chunk completes (maybe none)."""
        return await self._events(self._parser.feed(chunk))

    async def close(self) -> bytes:
        """The end of the stream: a pending event, and any text still held."""
        out = await self._events(self._parser.close())
        if self._failed:
            return out
        try:
            for index in list(self._blocks):
                out += await self._flush(index)
        except Exception as exc:
            return out + self._fail(exc)
        return out

    async def _events(self, events: list[SSEEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._failed:
                break
            try:
                out.append(await self._event(event))
            except Exception as exc:
                out.append(self._fail(exc))
        return b"".join(out)

    def _fail(self, exc: Exception) -> bytes:
        if not isinstance(exc, PIIUnavailableError):
            raise exc
        self._failed = True
        payload = {"type": "error", "error": {"type": "api_error", "message": exc.message}}
        return _encode_json("error", payload)

    def _block_rewriter(self, *, json_escaped: bool) -> TextScanner:
        return self.scanner.text_scanner(json_escaped=json_escaped)

    async def _rewrite_input(self, value: Any) -> Any:
        return await self.scanner.scan_block_input(value)
