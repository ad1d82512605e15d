"""Text segments: the strings of a request that the protections read, and a copy-on-write rewrite by path."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ._walker import ObjectKey, UnknownContent, collect_leaves

__all__ = [
    "SegmentPath",
    "TextSegment",
    "adjacent_pairs",
    "iter_text_segments",
    "joined_text",
    "locate",
    "replace_text_segments",
]

SegmentPath = tuple[str | int, ...]


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


class _HasPath(Protocol):
    @property
    def path(self) -> tuple[Any, ...]: ...


_Segment = TypeVar("_Segment", bound=_HasText)
"""A `TextSegment`, or a walker ``Leaf`` (the validator joins leaves, sparing a segment object each)."""


@dataclass(frozen=True, slots=True)
class TextSegment:
    """One string of a request body that the protections read.

    Attributes:
        path: JSON path of the string inside the body, e.g. ``("messages", 1, "content", 0, "text")``; it ends
            with an `ObjectKey` when the string is a key of free-form JSON (a tool input's property name).
        text: The string itself.
        kind: The channel it arrived through: ``"system"``, ``"message"``, ``"tool_input"``,
            ``"tool_result"``, ``"document"``, ``"tool_definition"``, ``"mcp_server"``, ``"metadata"``,
            ``"stop_sequence"`` or ``"request"`` (another top-level field).
        role: ``"text"`` (read by the model) or ``"url"`` (fetched or connected to by the API).
        known: False for unknown content (a block type or field the shape table does not know).
    """

    path: SegmentPath
    text: str
    kind: str
    role: str = "text"
    known: bool = True


def iter_text_segments(body: Mapping[str, Any], *, unknown: UnknownContent = "scan") -> Iterator[TextSegment]:
    """Yield, in document order, every string of a Messages request that a protection must read.

    That is every ``text`` and ``url`` leaf of `walk_request`: everything the model reads (system, messages
    and every block type in them, tool definitions and their JSON schemas, tool inputs and results, documents,
    citations, ``metadata.user_id``, ``stop_sequences``...) and every URL the API fetches. Ids, signatures,
    thinking, base64 data, enum values and credentials (``mcp_servers[].authorization_token``) are never
    yielded. Unknown content is yielded (``known=False``) unless ``unknown`` is ``"forward"``; refusing it is
    the caller's part (`first_unknown`). This never raises on any JSON value.

    Example:
        >>> body = {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]}
        >>> [(s.path, s.kind) for s in iter_text_segments(body)]
        [(('system',), 'system'), (('messages', 0, 'content'), 'message')]
    """
    forward = unknown == "forward"
    for leaf in collect_leaves(body, read_only=True):
        if not (forward and not leaf.known):
            yield TextSegment(leaf.path, leaf.text, leaf.kind, leaf.role, leaf.known)


def replace_text_segments(body: Mapping[str, Any], replacements: Mapping[SegmentPath, str]) -> dict[str, Any]:
    """Return a copy of ``body`` with the strings at the given paths replaced.

    A path ending with an `ObjectKey` renames that key, keeping the order of keys; paths are those of
    ``body`` (values are replaced before any key is renamed, deeper keys before shallower ones). Only the
    containers along changed paths are copied; everything else is shared with ``body``, which is never
    mutated. Treat the result as read-only where it shares structure with the input.

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
    values = [(p, t) for p, t in replacements.items() if not (p and isinstance(p[-1], ObjectKey))]
    keys = [(p, t) for p, t in replacements.items() if p and isinstance(p[-1], ObjectKey)]
    keys.sort(key=lambda item: -len(item[0]))
    for path, text in (*values, *keys):
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
        last = path[-1]
        if isinstance(last, ObjectKey):
            if not isinstance(container, dict) or str(last) not in container:
                raise KeyError(path)
            _rename(container, str(last), text)
            continue
        if not isinstance(_child(container, last, path), str):
            raise KeyError(path)
        container[last] = text
    return root


def _rename(container: dict[str, Any], old: str, new: str) -> None:
    # In place (the container is already a copy), keeping the order of keys. A new name that is already
    # taken gets a suffix: two values redacted to one placeholder must not merge.
    if new == old:
        return
    name = new
    suffix = 2
    while name in container:
        name = f"{new}~{suffix}"
        suffix += 1
    items = [(name if key == old else key, value) for key, value in container.items()]
    container.clear()
    container.update(items)


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
    segments: Iterable[_Segment], separator: str = "\n\n"
) -> tuple[str, list[tuple[int, _Segment]]]:
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
    offsets: list[tuple[int, _Segment]] = []
    position = 0
    for index, segment in enumerate(segments):
        if index:
            parts.append(separator)
            position += len(separator)
        offsets.append((position, segment))
        parts.append(segment.text)
        position += len(segment.text)
    return "".join(parts), offsets


def locate(offsets: Sequence[tuple[int, _Segment]], position: int) -> tuple[_Segment, int]:
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


def adjacent_pairs(offsets: Sequence[tuple[int, _HasPath]]) -> list[int]:
    """Indexes ``i`` where segments ``i`` and ``i + 1`` are consecutive items of one block list: their
    paths differ only in their last index, by one (text blocks of one message, of one tool result, of the
    system prompt; items of one list in tool input). Two messages are never paired. PII redaction and the
    prompt validator both read text cut across such a pair as one.

    Example:
        >>> a, b = TextSegment(("messages", 0, "content", 0, "text"), "EVA", "message"), TextSegment(
        ...     ("messages", 0, "content", 1, "text"), "L(x)", "message")
        >>> adjacent_pairs([(0, a), (5, b)])
        [0]
    """
    pairs = []
    for index in range(len(offsets) - 1):
        a, b = offsets[index][1].path, offsets[index + 1][1].path
        if len(a) != len(b) or not a:
            continue
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        if len(differ) == 1:
            x, y = a[differ[0]], b[differ[0]]
            last = all(not isinstance(part, int) for part in a[differ[0] + 1 :])
            # Not two messages ("messages", 0, "content") and ("messages", 1, "content"): the index that
            # differs must not be a message's.
            message = differ[0] > 0 and a[differ[0] - 1] == "messages"
            if isinstance(x, int) and isinstance(y, int) and y == x + 1 and last and not message:
                pairs.append(index)
    return pairs
