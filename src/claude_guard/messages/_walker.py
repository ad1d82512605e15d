"""The whole-request walker: every string leaf of a Messages request, classified by the shape table.

`walk_request` follows the table of `._shapes` over a parsed body and yields one `Leaf` per string (and per
key of free-form JSON such as a tool's input or a JSON schema, which the model reads too). What the table does
not know (a block type, a field, a value of an unexpected JSON type) is *unknown content*: its strings are
yielded as ``text`` with ``known=False``, so a protection reads them by default; ``unknown_content`` decides
whether they are scanned, refused or forwarded unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._shapes import DOCUMENT_BLOCKS, KIND_BY_BLOCK_SUFFIX, KIND_BY_FIELD, Node, Role, request_shape

__all__ = [
    "UNKNOWN_CONTENT_POLICIES",
    "Leaf",
    "ObjectKey",
    "UnknownContent",
    "first_unknown",
    "walk_request",
]

UnknownContent = Literal["scan", "refuse", "forward"]
UNKNOWN_CONTENT_POLICIES: Final[tuple[UnknownContent, ...]] = ("scan", "refuse", "forward")

SegmentPath = tuple[str | int, ...]

# A structure string (an id, a name, an enum value) that does not look like one is read as text.
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9_.:/+=\-]{0,256}")


class ObjectKey(str):
    """The last element of a path that addresses an object's *key* rather than its value.

    Keys of free-form JSON (a tool's input, a JSON schema's property names) reach the model like values;
    `replace_text_segments` renames the key when given such a path.

    A key never equals the plain string: ``(..., "city")`` (the value) and ``(..., ObjectKey("city"))`` (the
    key) are different paths.

    Example:
        >>> key = ObjectKey("city")
        >>> key == "city", key == ObjectKey("city"), str(key)
        (False, True, 'city')
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectKey) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("claude_guard.ObjectKey", str(self)))

    def __repr__(self) -> str:
        return f"ObjectKey({str.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class Leaf:
    """One string of a request body, classified.

    Attributes:
        path: JSON path of the string (ends with an `ObjectKey` for a key).
        text: The string.
        kind: The channel: ``system``, ``message``, ``tool_input``, ``tool_result``, ``document``,
            ``tool_definition``, ``mcp_server``, ``metadata``, ``stop_sequence``, ``request``.
        role: ``text`` (the model reads it), ``url``, ``credential`` or ``structure`` (ids, names, enum
            values, signatures, base64 payloads).
        known: False when the table does not know where the string sits (unknown content).
        shape: The ``type`` of each typed object around the string, outermost first, e.g.
            ``("tool_result", "image", "base64")``.
        opaque: The string must reach the API byte for byte and is never read (thinking and its signature,
            redacted thinking, encrypted results, base64 data).
        unknown_at: For unknown content, how many elements of ``path`` lead to where the table stops knowing
            (``path[:unknown_at]`` is safe to name in an error: it holds no caller-chosen key).
    """

    path: SegmentPath
    text: str
    kind: str
    role: Role
    known: bool = True
    shape: tuple[str, ...] = ()
    opaque: bool = False
    unknown_at: int = 0


_Item = tuple[Any, "Node | None", SegmentPath, str, tuple[str, ...], int]


def walk_request(body: Any) -> Iterator[Leaf]:
    """Yield every string leaf of a Messages request body, in document order.

    Never raises on any JSON value, and never recurses (an explicit stack: tool input may nest deeper than
    the recursion limit). A body that is not an object yields nothing.

    Example:
        >>> body = {"model": "claude-haiku-4-5", "metadata": {"user_id": "u-1"},
        ...         "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
        >>> for leaf in walk_request(body):
        ...     print(leaf.path, leaf.role, leaf.kind)
        ('model',) structure request
        ('metadata', 'user_id') text metadata
        ('messages', 0, 'role') structure message
        ('messages', 0, 'content', 0, 'type') structure message
        ('messages', 0, 'content', 0, 'text') text message
    """
    if not isinstance(body, Mapping):
        return
    root = request_shape()
    fields = root.fields or {}
    stack: list[_Item] = []
    for key, value in reversed(list(body.items())):
        if not isinstance(key, str):
            continue
        kind = KIND_BY_FIELD.get(key, "request")
        child = fields.get(key)
        stack.append((value, child, (key,), kind, (), -1 if child is not None else 0))
        if child is None:
            stack.append((key, None, (ObjectKey(key),), kind, (), 0))
    yield from _drain(stack)


def _drain(stack: list[_Item]) -> Iterator[Leaf]:
    while stack:
        value, node, path, kind, shape, unknown_at = stack.pop()
        if node is None:
            # Unknown content: every string and key below, as text.
            at = unknown_at if unknown_at >= 0 else len(path) - 1
            yield from _unknown(value, path, kind, shape, at, stack)
            continue
        if isinstance(value, str):
            role = node.role
            if role is None:
                yield Leaf(path, value, kind, "text", False, shape, False, max(0, len(path) - 1))
            elif role == "opaque":
                yield Leaf(path, value, kind, "structure", True, shape, True)
            elif role == "structure" and not _IDENTIFIER.fullmatch(value):
                yield Leaf(path, value, kind, "text", True, shape)
            else:
                yield Leaf(path, value, kind, role, True, shape)  # type: ignore[arg-type]
        elif isinstance(value, list):
            if node.free:
                _push_free(value, path, kind, shape, stack)
            elif node.items is None:
                stack.append((value, None, path, kind, shape, len(path)))
            else:
                items = node.items
                stack.extend(
                    (item, items, (*path, i), kind, shape, -1) for i, item in reversed(list(enumerate(value)))
                )
        elif isinstance(value, Mapping):
            if node.free:
                _push_free(value, path, kind, shape, stack)
                continue
            fields = node.fields
            if node.union is not None:
                tag = value.get("type")
                chosen = node.union.get(tag) if isinstance(tag, str) and tag else None
                if chosen is None and "type" not in value:
                    chosen = node.union.get("")
                if chosen is None:
                    if fields is None:
                        stack.append((value, None, path, kind, shape, len(path)))
                        continue
                else:
                    fields = chosen.fields
                    if isinstance(tag, str) and tag:
                        shape = (*shape, tag)
                        kind = _kind_inside(tag, kind)
            if fields is not None:
                children: list[_Item] = []
                for key, child_value in value.items():
                    if not isinstance(key, str):
                        continue
                    child = fields.get(key)
                    if child is None:
                        # An unknown field: its name is read too (it may be all the payload there is).
                        children.append((key, None, (*path, ObjectKey(key)), kind, shape, len(path)))
                        children.append((child_value, None, (*path, key), kind, shape, len(path)))
                    else:
                        children.append((child_value, child, (*path, key), kind, shape, -1))
                stack.extend(reversed(children))
            elif node.values is not None:
                values = node.values
                children = []
                for key, child_value in value.items():
                    if not isinstance(key, str):
                        continue
                    if not _IDENTIFIER.fullmatch(key):
                        children.append((key, Node(role="text"), (*path, ObjectKey(key)), kind, shape, -1))
                    children.append((child_value, values, (*path, key), kind, shape, -1))
                stack.extend(reversed(children))
            else:
                stack.append((value, None, path, kind, shape, len(path)))
        # numbers, booleans and null carry no string


def _kind_inside(tag: str, kind: str) -> str:
    for suffix, inner in KIND_BY_BLOCK_SUFFIX:
        if tag.endswith(suffix):
            return inner if kind in ("message", "system") else kind
    if tag in DOCUMENT_BLOCKS and kind == "message":
        return "document"
    return kind


_TEXT_NODE: Final = Node(role="text")


def _push_free(value: Any, path: SegmentPath, kind: str, shape: tuple[str, ...], stack: list[_Item]) -> None:
    # Free-form JSON the model reads: every string and every key is text. Pushed as individual items so
    # the shared stack keeps document order and bounded depth.
    if isinstance(value, list):
        stack.extend(
            (item, _FREE, (*path, i), kind, shape, -1) for i, item in reversed(list(enumerate(value)))
        )
    elif isinstance(value, Mapping):
        children: list[_Item] = []
        for key, child_value in value.items():
            if not isinstance(key, str):
                continue
            children.append((key, _TEXT_NODE, (*path, ObjectKey(key)), kind, shape, -1))
            children.append((child_value, _FREE, (*path, key), kind, shape, -1))
        stack.extend(reversed(children))


_FREE: Final = Node(role="text", free=True)


def _unknown(
    value: Any, path: SegmentPath, kind: str, shape: tuple[str, ...], at: int, stack: list[_Item]
) -> Iterator[Leaf]:
    if isinstance(value, str):
        yield Leaf(path, value, kind, "text", False, shape, False, at)
        return
    local: list[tuple[Any, SegmentPath]] = [(value, path)]
    while local:
        current, current_path = local.pop()
        if isinstance(current, str):
            yield Leaf(current_path, current, kind, "text", False, shape, False, at)
        elif isinstance(current, list):
            local.extend((item, (*current_path, i)) for i, item in reversed(list(enumerate(current))))
        elif isinstance(current, Mapping):
            children: list[tuple[Any, SegmentPath]] = []
            for key, child in current.items():
                if not isinstance(key, str):
                    continue
                children.append((key, (*current_path, ObjectKey(key))))
                children.append((child, (*current_path, key)))
            local.extend(reversed(children))


def first_unknown(body: Any) -> Leaf | None:
    """The first string of unknown content in ``body``, or None when the table knows every string.

    Example:
        >>> body = {"messages": [{"role": "user", "content": [{"type": "hologram", "text": "hi"}]}]}
        >>> leaf = first_unknown(body)
        >>> leaf.path[: leaf.unknown_at]
        ('messages', 0, 'content', 0)
    """
    for leaf in walk_request(body):
        if not leaf.known:
            return leaf
    return None
