"""Tool calls in the model's answers, checked before the app can run them: whole JSON answers, and
streams whose tool blocks are held until complete (bounded) while text passes at once."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .._json import loads_strict
from ..errors import InvalidJSONError
from ..messages._sse import SSEEvent, SSEParser
from ._policy import ToolPolicy, Violation, check_tool_call

__all__ = [
    "AMBIGUOUS",
    "DEFAULT_MAX_HOLD_BYTES",
    "SSEToolCallFilter",
    "parse_answer",
    "refusal_text",
    "rewrite_message",
]

DEFAULT_MAX_HOLD_BYTES = 1024 * 1024
"""How much of one tool block's stream is held before the call is refused as too large to check."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")

# Called with each violation; returns whether the call is replaced (False in shadow mode).
OnViolation = Callable[[Violation], bool]


class _Ambiguous:
    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS: Any = _Ambiguous()
"""What `parse_answer` returns for JSON that parsers may read differently (a duplicated key, a lone
surrogate): the guard cannot know which reading the app will run, so such an answer is never released."""


def parse_answer(raw: bytes) -> Any:
    """A JSON answer read strictly; `AMBIGUOUS` when only a lenient parser accepts it, ``None`` when it is
    not JSON at all (then it is no Messages answer, and passes as it came).

    Example:
        >>> parse_answer(b'{"a": 1}'), parse_answer(b'{"a": 1, "a": 2}'), parse_answer(b"oops")
        ({'a': 1}, AMBIGUOUS, None)
    """
    try:
        return loads_strict(raw)
    except InvalidJSONError:
        pass
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return AMBIGUOUS


def refusal_text(violation: Violation) -> str:
    """The text that stands in the answer where a refused call was: the tool's name and the rule id only.

    Example:
        >>> refusal_text(Violation("Bash", "command.denied", "command"))
        '[claude_guard] The call to the tool Bash was refused by the sandbox policy (command.denied).'
    """
    name = _SAFE_NAME.sub("", violation.tool)[:64] or "?"
    return f"[claude_guard] The call to the tool {name} was refused by the sandbox policy ({violation.rule})."


def rewrite_message(
    message: Any, policies: Mapping[str, ToolPolicy], on_violation: OnViolation
) -> tuple[Any, list[Violation]]:
    """A JSON Messages answer with each refused ``tool_use`` replaced by a text block; the answer itself
    (the same object) when nothing is replaced. ``stop_reason`` becomes ``end_turn`` when no call is left.

    Example:
        >>> answer = {"content": [{"type": "tool_use", "id": "t1", "name": "Read",
        ...            "input": {"file_path": "/etc/shadow"}}], "stop_reason": "tool_use"}
        >>> from ._policy import DEFAULT_TOOL_POLICIES
        >>> new, found = rewrite_message(answer, DEFAULT_TOOL_POLICIES["analysis"], lambda v: True)
        >>> new["content"][0]["type"], new["stop_reason"], found[0].rule
        ('text', 'end_turn', 'path.denied')
    """
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message, []
    violations: list[Violation] = []
    content: list[Any] = []
    replaced = kept_calls = 0
    for block in message["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            violation = check_tool_call(policies, block.get("name"), block.get("input"))
            if violation is not None:
                violations.append(violation)
                if on_violation(violation):
                    content.append({"type": "text", "text": refusal_text(violation)})
                    replaced += 1
                    continue
            kept_calls += 1
        content.append(block)
    if not replaced:
        return message, violations
    out = {**message, "content": content}
    if out.get("stop_reason") == "tool_use" and not kept_calls:
        out["stop_reason"] = "end_turn"
    return out, violations


def _encode(event: SSEEvent) -> bytes:
    head = f"event: {event.event}\n" if event.event is not None else ""
    data = "".join(f"data: {line}\n" for line in event.data.split("\n"))
    return f"{head}{data}\n".encode()


def _encode_json(name: str, payload: Mapping[str, Any]) -> bytes:
    return (
        f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()
    )


class SSEToolCallFilter:
    """Follows a Messages stream and holds each ``tool_use`` block from its start to its stop.

    Every other event is passed on as soon as it is complete (re-framed, its data unchanged), so text
    deltas are never held. At the tool block's stop its input is checked: an allowed call is released as it
    came; a refused one is replaced by a text block holding `refusal_text`. A block larger than
    ``max_hold_bytes`` is refused unchecked (``input.too_large``), and a stream that ends inside a tool block
    never releases it. In ``error`` mode a refusal ends the stream with an ``error`` event instead.

    Example:
        >>> import json
        >>> from ._policy import DEFAULT_TOOL_POLICIES
        >>> def event(p): return f"event: {p['type']}\\ndata: {json.dumps(p)}\\n\\n".encode()
        >>> call = {"type": "tool_use", "id": "t", "name": "Read", "input": {}}
        >>> delta = {"type": "input_json_delta", "partial_json": json.dumps({"file_path": "/etc/shadow"})}
        >>> f = SSEToolCallFilter(DEFAULT_TOOL_POLICIES["analysis"], lambda v: True)
        >>> f.feed(event({"type": "content_block_start", "index": 0, "content_block": call}))
        b''
        >>> f.feed(event({"type": "content_block_delta", "index": 0, "delta": delta}))
        b''
        >>> out = f.feed(event({"type": "content_block_stop", "index": 0}))
        >>> b"tool_use" in out, b"path.denied" in out
        (False, True)
    """

    def __init__(
        self,
        policies: Mapping[str, ToolPolicy],
        on_violation: OnViolation,
        *,
        max_hold_bytes: int = DEFAULT_MAX_HOLD_BYTES,
        error: bool = False,
    ) -> None:
        self._policies = policies
        self._on_violation = on_violation
        self._max = max_hold_bytes
        self._error = error
        self._parser = SSEParser()
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._index: Any = None
        self._block: dict[str, Any] = {}
        self._json: list[str] = []
        self._too_large = False
        self._kept_calls = 0
        self._replaced = 0
        self._ended = False
        self.violations: list[Violation] = []

    @property
    def holding(self) -> bool:
        return self._index is not None

    def feed(self, chunk: bytes) -> bytes:
        if self._ended:
            return b""
        return b"".join(self._event(event) for event in self._parser.feed(chunk))

    def close(self) -> bytes:
        if self._ended:
            return b""
        out = b"".join(self._event(event) for event in self._parser.close())
        # A tool block still open at the end never completed: its call is not released.
        self._held.clear()
        self._index = None
        return out

    def _event(self, event: SSEEvent) -> bytes:
        if self._ended:
            return b""
        raw = _encode(event)
        try:
            payload = json.loads(event.data) if event.data.startswith("{") else None
        except ValueError:
            payload = None
        kind = payload.get("type") if isinstance(payload, dict) else None
        if self._index is not None:
            return self._while_holding(raw, payload, kind)
        if kind == "content_block_start":
            block = payload.get("content_block") if isinstance(payload, dict) else None
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._index = payload.get("index") if isinstance(payload, dict) else None
                self._block = block
                self._json = []
                self._held = [raw]
                self._held_bytes = len(raw)
                self._too_large = False
                return b""
        if kind == "message_delta" and isinstance(payload, dict) and self._replaced and not self._kept_calls:
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason") == "tool_use":
                return _encode_json(
                    event.event or "message_delta", {**payload, "delta": {**delta, "stop_reason": "end_turn"}}
                )
        return raw

    def _while_holding(self, raw: bytes, payload: Any, kind: Any) -> bytes:
        assert isinstance(payload, dict) or kind is None
        same_block = isinstance(payload, dict) and payload.get("index") == self._index
        if kind == "content_block_delta" and same_block:
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "input_json_delta":
                piece = delta.get("partial_json")
                if isinstance(piece, str):
                    self._json.append(piece)
        if not self._too_large:
            self._held.append(raw)
            self._held_bytes += len(raw)
            if self._held_bytes > self._max:
                self._too_large = True
                self._held.clear()
                self._json.clear()
        if kind == "content_block_stop" and same_block:
            return self._decide(raw)
        if kind in ("message_delta", "message_stop", "error"):
            # The block never stopped: drop the unchecked call, pass the end of the stream.
            self._held.clear()
            self._index = None
            return raw
        return b""

    def _decide(self, stop: bytes) -> bytes:
        index, block = self._index, self._block
        held = self._held
        self._index, self._held, self._held_bytes = None, [], 0
        name = block.get("name")
        violation: Violation | None
        if self._too_large:
            violation = Violation(str(name) if isinstance(name, str) else "?", "input.too_large")
        else:
            text = "".join(self._json)
            # Strict: with a duplicated key the app's parser may run the copy the check did not read.
            try:
                tool_input = loads_strict(text) if text.strip() else block.get("input", {})
            except InvalidJSONError:
                tool_input = None
            if tool_input is None:
                violation = Violation(str(name) if isinstance(name, str) else "?", "input.unparseable")
            else:
                violation = check_tool_call(self._policies, name, tool_input)
        if violation is None:
            self._kept_calls += 1
            return b"".join(held)
        self.violations.append(violation)
        if not self._on_violation(violation):
            if self._too_large:
                # Shadow mode cannot pass what it no longer holds: the call is dropped all the same.
                return self._replacement(index, violation)
            self._kept_calls += 1
            return b"".join(held)
        if self._error:
            self._ended = True
            return _encode_json(
                "error",
                {"type": "error", "error": {"type": "permission_error", "message": violation.describe()}},
            )
        return self._replacement(index, violation)

    def _replacement(self, index: Any, violation: Violation) -> bytes:
        self._replaced += 1
        return (
            _encode_json(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            + _encode_json(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": refusal_text(violation)},
                },
            )
            + _encode_json("content_block_stop", {"type": "content_block_stop", "index": index})
        )
