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
from typing import Any, Final, Literal, NamedTuple

from ._shapes import DOCUMENT_BLOCKS, KIND_BY_BLOCK_SUFFIX, KIND_BY_FIELD, Node, Role, request_shape

__all__ = [
    "UNKNOWN_CONTENT_POLICIES",
    "Leaf",
    "ObjectKey",
    "UnknownContent",
    "collect_leaves",
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


class Leaf(NamedTuple):
    """One string of a request body, classified (a named tuple: cheap to make, immutable).

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


# Shapes nest (a document in a tool result in a message); past this depth the rest is walked as unknown
# content, iteratively, so no body reaches the recursion limit.
_MAX_DEPTH: Final = 64


def walk_request(body: Any) -> Iterator[Leaf]:
    """Yield every string leaf of a Messages request body, in document order.

    Never raises on any JSON value, and never hits the recursion limit (free-form JSON and unknown content
    are walked iteratively; table shapes nest at most a few levels). A body that is not an object yields
    nothing.

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
    yield from collect_leaves(body, read_only=False)


def collect_leaves(body: Any, *, read_only: bool) -> list[Leaf]:
    """Every leaf of ``body`` as a list; with ``read_only``, only those a protection reads (``text`` and
    ``url``), which skips building the others."""
    out: list[Leaf] = []
    if type(body) is not dict and not isinstance(body, Mapping):
        return out
    walker = _Walk(out, read_only)
    fields = request_shape().fields or {}
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        kind = KIND_BY_FIELD.get(key, "request")
        child = fields.get(key)
        if child is None:
            out.append(Leaf((ObjectKey(key),), key, kind, "text", False, (), False, 0))
            _unknown(value, (key,), kind, (), 0, out)
            continue
        value_type = type(value)
        if value_type in _SCALARS:
            continue  # numbers, booleans and null carry no string (``max_tokens``, ``stream``…)
        if (
            read_only
            and value_type is str
            and (child.role == "structure" or child.role == "credential")
            and _IDENTIFIER.fullmatch(value)
        ):
            continue  # what `_Walk.string` skips when read-only (``model``): the same test, one call less
        walker.visit(value, child, (key,), kind, (), 0)
    return out


_SCALARS: Final = frozenset({int, float, bool, type(None)})


class _Walk:
    __slots__ = ("out", "read_only")

    def __init__(self, out: list[Leaf], read_only: bool) -> None:
        self.out = out
        self.read_only = read_only

    def string(
        self, value: str, role: str | None, path: SegmentPath, kind: str, shape: tuple[str, ...]
    ) -> None:
        if role is None:
            self.out.append(Leaf(path, value, kind, "text", False, shape, False, len(path) - 1))
        elif role == "text" or role == "url":
            self.out.append(Leaf(path, value, kind, role, True, shape))  # type: ignore[arg-type]
        elif role == "opaque":
            if not self.read_only:
                self.out.append(Leaf(path, value, kind, "structure", True, shape, True))
        elif role == "structure" and not _IDENTIFIER.fullmatch(value):
            self.out.append(Leaf(path, value, kind, "text", True, shape))
        elif not self.read_only:
            self.out.append(Leaf(path, value, kind, role, True, shape))  # type: ignore[arg-type]

    def visit(
        self, value: Any, node: Node, path: SegmentPath, kind: str, shape: tuple[str, ...], depth: int
    ) -> None:
        out = self.out
        if type(value) is str:
            self.string(value, node.role, path, kind, shape)
            return
        if depth >= _MAX_DEPTH:
            _unknown(value, path, kind, shape, len(path), out)
            return
        if isinstance(value, list):
            if node.free:
                _free(value, path, kind, shape, out)
                return
            items = node.items
            if items is None:
                _unknown(value, path, kind, shape, len(path), out)
                return
            depth += 1
            for index, item in enumerate(value):
                item_type = type(item)
                if item_type is str:
                    self.string(item, items.role, (*path, index), kind, shape)
                elif item_type is dict or item_type is list or isinstance(item, Mapping | str):
                    self.visit(item, items, (*path, index), kind, shape, depth)
        elif isinstance(value, dict | Mapping):
            if node.free:
                _free(value, path, kind, shape, out)
                return
            fields = node.fields
            union = node.union
            if union is not None:
                tag = value.get("type")
                chosen = union.get(tag) if isinstance(tag, str) and tag else None
                if chosen is None and "type" not in value:
                    chosen = union.get("")
                if chosen is not None:
                    fields = chosen.fields
                    if isinstance(tag, str) and tag:
                        shape = (*shape, tag)
                        kind = _KINDS.get((tag, kind)) or _kind_inside(tag, kind)
                elif fields is None:
                    _unknown(value, path, kind, shape, len(path), out)
                    return
            if fields is not None:
                read_only = self.read_only
                depth += 1
                for key, child_value in value.items():
                    if type(key) is not str:
                        continue
                    child = fields.get(key)
                    if child is None:
                        # An unknown field: its name is read too (it may be all the payload there is).
                        out.append(
                            Leaf((*path, ObjectKey(key)), key, kind, "text", False, shape, False, len(path))
                        )
                        _unknown(child_value, (*path, key), kind, shape, len(path), out)
                        continue
                    value_type = type(child_value)
                    if value_type is str:
                        role = child.role
                        if read_only and (
                            role == "opaque"
                            or (
                                (role == "structure" or role == "credential")
                                and _IDENTIFIER.fullmatch(child_value)
                            )
                        ):
                            continue
                        self.string(child_value, role, (*path, key), kind, shape)
                    elif value_type is dict or value_type is list or isinstance(child_value, Mapping | str):
                        self.visit(child_value, child, (*path, key), kind, shape, depth)
            elif node.values is not None:
                values = node.values
                for key, child_value in value.items():
                    if not isinstance(key, str):
                        continue
                    if not _IDENTIFIER.fullmatch(key):
                        out.append(Leaf((*path, ObjectKey(key)), key, kind, "text", True, shape))
                    self.visit(child_value, values, (*path, key), kind, shape, depth + 1)
            else:
                _unknown(value, path, kind, shape, len(path), out)
        # numbers, booleans and null carry no string


_KINDS: dict[tuple[str, str], str] = {}


def _kind_inside(tag: str, kind: str) -> str:
    inner = kind
    for suffix, switched in KIND_BY_BLOCK_SUFFIX:
        if tag.endswith(suffix):
            inner = switched if kind in ("message", "system") else kind
            break
    else:
        if tag in DOCUMENT_BLOCKS and kind == "message":
            inner = "document"
    if len(_KINDS) < 4096:
        _KINDS[(tag, kind)] = inner
    return inner


def _free(value: Any, path: SegmentPath, kind: str, shape: tuple[str, ...], out: list[Leaf]) -> None:
    # Free-form JSON the model reads (a tool's input, a JSON schema): every string and every key is text.
    _strings(value, path, kind, shape, True, 0, out)


def _unknown(
    value: Any, path: SegmentPath, kind: str, shape: tuple[str, ...], at: int, out: list[Leaf]
) -> None:
    _strings(value, path, kind, shape, False, at, out)


def _strings(
    value: Any, path: SegmentPath, kind: str, shape: tuple[str, ...], known: bool, at: int, out: list[Leaf]
) -> None:
    # An explicit stack: free-form JSON may nest deeper than the recursion limit.
    stack: list[tuple[Any, SegmentPath]] = [(value, path)]
    pop = stack.pop
    push = stack.append
    while stack:
        current, current_path = pop()
        if isinstance(current, str):
            out.append(Leaf(current_path, current, kind, "text", known, shape, False, at))
        elif isinstance(current, list):
            for index in range(len(current) - 1, -1, -1):
                push((current[index], (*current_path, index)))
        elif isinstance(current, Mapping):
            children: list[tuple[Any, SegmentPath]] = []
            for key, child in current.items():
                if isinstance(key, str):
                    children.append((key, (*current_path, ObjectKey(key))))
                    children.append((child, (*current_path, key)))
            children.reverse()
            stack.extend(children)


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
