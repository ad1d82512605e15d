"""Request bodies generated from the walker's shape table, one per string-bearing position.

`positions()` walks the table (``claude_guard.messages.request_shape()``) and yields, for every shape and
field whose strings the protections must read (roles ``text`` and ``url``, keys of free-form JSON included), a
`Position`: a function placing a given string there, inside a complete, schema-valid Messages request. A shape
or field added to the table (a new SDK) becomes a new position without any change here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from claude_guard.messages._shapes import Node, request_shape

MODEL = "claude-sonnet-4-6"
FILLER_TEXT = "plain words for the model"
FILLER_URL = "https://example.com/resource"
FILLER_ID = "id_0123"
SIGNATURE = "c2lnbmF0dXJlLWNhbmFyeS0wMTIz"  # base64 of a fake signature, compared byte for byte
TOOL_USE_ID = "toolu_walker_0001"

# Fields whose value must be one of a few words for our schema check or FakeClaude.
_FIXED = {"role": "user"}
_MAX_DEPTH = 14


@dataclass(frozen=True)
class Position:
    """One string-bearing position of the table."""

    id: str
    role: str
    key: bool
    build: Callable[[str], dict[str, Any]]


def _tags(node: Node) -> list[str]:
    assert node.union is not None
    tags = [tag for tag in node.union if tag]
    # A predictable, simple choice for filler: text blocks and base64 sources first.
    tags.sort(key=lambda t: (t not in ("text", "base64", "ephemeral", "auto", "url"), t))
    return tags


def sample(node: Node, depth: int = 0, name: str = "") -> Any:
    """A benign filler value for ``node`` (None: nothing worth sending)."""
    if depth > 6:
        return None
    if node.role is not None:
        if name in _FIXED:
            return _FIXED[name]
        if node.role == "url":
            return FILLER_URL
        if node.role in ("text",):
            return FILLER_TEXT
        return FILLER_ID
    if node.free:
        return {}
    if node.union is not None:
        tags = _tags(node)
        if not tags:
            return None
        return _object(node.union[tags[0]], tags[0], depth)
    if node.fields is not None:
        return _object(node, None, depth)
    if node.items is not None:
        item = sample(node.items, depth + 1, name)
        return [] if item is None else [item]
    return None


def _object(node: Node, tag: str | None, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, child in (node.fields or {}).items():
        if key == "type":
            continue
        value = sample(child, depth + 1, key)
        if value is not None:
            out[key] = value
    if tag is not None:
        out = {"type": tag, **out}
    return out


Step = tuple[
    str, Any
]  # ("field", key) | ("item", None) | ("union", tag) | ("free-value", key) | ("free-key", key)


def _walk(
    node: Node, steps: tuple[Step, ...], on_chain: frozenset[int]
) -> Iterator[tuple[tuple[Step, ...], str, Node]]:
    if len(steps) > _MAX_DEPTH or id(node) in on_chain:
        return
    chain = on_chain | {id(node)}
    if node.role in ("text", "url"):
        yield steps, node.role, node
    if node.free:
        yield (*steps, ("free-key", "k_key")), "key", node
        yield (*steps, ("free-value", "k_value")), "text", node
        return
    if node.items is not None:
        yield from _walk(node.items, (*steps, ("item", None)), chain)
    if node.union is not None:
        for tag in sorted(t for t in node.union if t):
            yield from _walk(node.union[tag], (*steps, ("union", tag)), chain)
    if node.fields is not None:
        for key in sorted(node.fields):
            if key != "type":
                yield from _walk(node.fields[key], (*steps, ("field", key)), chain)


def _place(node: Node, steps: tuple[Step, ...], text: str, depth: int = 0) -> Any:
    """``node``'s filler with ``text`` at the end of ``steps``."""
    if not steps:
        return text
    kind, arg = steps[0]
    rest = steps[1:]
    if kind == "free-key":
        return {text: "value"}
    if kind == "free-value":
        return {"k": text}
    if kind == "item":
        assert node.items is not None
        return [_place(node.items, rest, text, depth + 1)]
    if kind == "union":
        assert node.union is not None
        shape = node.union[arg]
        base = _object(shape, arg, depth)
        if rest:
            key = rest[0][1]
            base[key] = _place(shape.fields[key], rest[1:], text, depth + 1)  # type: ignore[index]
        return base
    # a field of an untyped object
    assert node.fields is not None
    base = _object(node, None, depth)
    base[arg] = _place(node.fields[arg], rest, text, depth + 1)
    return base


def _normalize(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    # ("union", tag) is followed by its ("field", key): _place consumes both at once.
    return steps


def _position_id(steps: tuple[Step, ...]) -> str:
    parts = []
    for kind, arg in steps:
        if kind == "item":
            parts.append("[]")
        elif kind == "union":
            parts.append(f"<{arg}>")
        elif kind == "free-key":
            parts.append("{key}")
        elif kind == "free-value":
            parts.append("{value}")
        else:
            parts.append(str(arg))
    return ".".join(parts)


def positions() -> list[Position]:
    """One position per (two innermost shapes, field, role): each string-bearing field of each shape, once
    (an image's URL source and an MCP server's URL, both ``<url>.url``, are two positions)."""
    root = request_shape()
    seen: set[tuple[str, ...]] = set()
    out: list[Position] = []
    for steps, role, _node in _walk(root, (), frozenset()):
        if not steps or steps[0][0] != "field":
            continue
        tags = [arg for kind, arg in steps if kind == "union"]
        inner = tuple(tags[-2:]) if tags else (steps[0][1],)
        last = steps[-1]
        signature = (*inner, str(last), role)
        if signature in seen:
            continue
        seen.add(signature)
        out.append(Position(_position_id(steps), role, role == "key", _builder(root, steps)))
    return out


def _builder(root: Node, steps: tuple[Step, ...]) -> Callable[[str], dict[str, Any]]:
    top = steps[0][1]

    def build(text: str) -> dict[str, Any]:
        assert root.fields is not None
        value = _place(root.fields[top], steps[1:], text)
        history = conversation_prefix()
        body: dict[str, Any] = {"model": MODEL, "max_tokens": 32}
        if top == "messages":
            (message,) = value
            message = {**message, "role": "user"}
            body["messages"] = [*history, message]
        else:
            body["messages"] = [*history, {"role": "user", "content": FILLER_TEXT}]
            if top not in ("model", "max_tokens"):
                body[top] = value
        return body

    return build


def conversation_prefix() -> list[dict[str, Any]]:
    """A turn with a signed thinking block and a tool call, whose opaque parts must arrive unchanged."""
    return [
        {"role": "user", "content": FILLER_TEXT},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me think about the weather.", "signature": SIGNATURE},
                {"type": "redacted_thinking", "data": SIGNATURE + "-redacted"},
                {"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "Sunny."}],
        },
        {"role": "assistant", "content": "Noted."},
    ]
