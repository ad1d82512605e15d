"""The table of Messages API request shapes that the walker follows.

The table (``claude_guard/data/message_shapes.json``) is generated from the ``anthropic`` SDK's request
TypedDicts (``MessageCreateParams`` and ``MessageCountTokensParams``, plain and beta, and every TypedDict they
reach, found with ``typing.get_type_hints``) by ``python -m claude_guard.messages._shapes``; a test
regenerates it from the installed SDK and fails when the SDK knows a shape the packaged table does not, so a
new block type or field is one regeneration away, and the tests that iterate the table grow with it. Each
string-bearing field gets a *role*:

- ``text``: read by the model; every protection scans it (the default for any ``str`` field);
- ``url``: a URL the API fetches or connects to; scanned like text (PII and secrets hide in query strings);
- ``credential``: a token the caller means to hand to a third party (``mcp_servers[].authorization_token``);
  never scanned, rewritten or logged;
- ``structure``: ids, names, model names, enum values (``Literal`` fields), media types; not scanned, but a
  ``structure`` string that does not look like an identifier is demoted to ``text`` by the walker, so prose
  smuggled into an id field is still read;
- ``opaque``: bytes that must reach the API byte for byte and are never read as text (thinking text and
  signatures, redacted thinking, encrypted results, base64 payloads). Reported as ``structure``.

The SDK's types say which fields are ``str``, ``Literal``, free-form ``dict[str, object]`` (tool inputs and
JSON schemas: every string *and key* inside is text) or nested shapes; the few choices a type cannot express
(that ``url`` is a URL, that a ``signature`` is opaque) are the override tables below. Written by hand rather
than with a schema library: the walk must be total over arbitrary JSON, preserve everything it does not
rewrite, and cost a few microseconds per kilobyte; no JSON-schema validator offers that classification.
"""

from __future__ import annotations

import collections.abc
import json
import threading
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "KIND_BY_FIELD",
    "ROLES",
    "Node",
    "Role",
    "request_shape",
    "shape_types",
]

Role = Literal["text", "url", "credential", "structure"]
ROLES: Final[tuple[Role, ...]] = ("text", "url", "credential", "structure")

# Internal roles: the four public ones plus "opaque" (reported as "structure", never demoted).
_RANK: Final = {"text": 4, "url": 3, "credential": 2, "opaque": 1, "structure": 0}

# --- overrides: what the SDK's types cannot say ------------------------------------------------------------

FIELD_ROLES: Final[dict[str, str]] = {
    "url": "url",
    "authorization_token": "credential",
    "token": "credential",
    # Opaque to the API but free text to the caller: PII lands here (it must not, FACTS.md says).
    "user_id": "text",
    "signature": "opaque",
    "encrypted_content": "opaque",
    "encrypted_index": "opaque",
    "encrypted_stdout": "opaque",
    # Identifiers and names: validated by the API (tool and model names, ids), or harmless bookkeeping.
    "id": "structure",
    "name": "structure",
    "model": "structure",
    "media_type": "structure",
    "version": "structure",
    "server_name": "structure",
    "mcp_server_name": "structure",
    "tool_name": "structure",
    "toolset_name": "structure",
    "inference_geo": "structure",
    "page_age": "structure",
    "retrieved_at": "structure",
}
"""Role of a ``str`` field by its name, in any shape (fields ending in ``_id`` are ``structure`` too)."""

SHAPE_FIELD_ROLES: Final[dict[tuple[str, str], str]] = {
    # Thinking is covered by its signature: any change makes the API refuse the turn.
    ("thinking", "thinking"): "opaque",
    ("redacted_thinking", "data"): "opaque",
    # Base64 image and PDF payloads are binary, not text.
    ("base64", "data"): "opaque",
}
"""Role of a field of one shape (the object's ``type``), overriding ``FIELD_ROLES``."""

_TOKEN_FIELDS: Final = frozenset({"fallback_credit_token"})
"""Fields whose plain-string form is a credential."""

KIND_BY_FIELD: Final[dict[str, str]] = {
    "system": "system",
    "messages": "message",
    "tools": "tool_definition",
    "mcp_servers": "mcp_server",
    "metadata": "metadata",
    "stop_sequences": "stop_sequence",
}
"""The channel (``TextSegment.kind``) of each top-level field; any other field is ``request``."""

KIND_BY_BLOCK_SUFFIX: Final[tuple[tuple[str, str], ...]] = (
    ("tool_use", "tool_input"),
    ("tool_result", "tool_result"),
)
"""Blocks whose type ends with a suffix switch the channel of everything inside them."""

DOCUMENT_BLOCKS: Final = frozenset({"document", "search_result", "web_fetch_result"})
"""Blocks read as documents (when not already inside a tool result)."""


# --- the compiled table ------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Node:
    """How to read one JSON value. A node may accept several JSON types (``str | list[...]``).

    Attributes:
        role: Role of the value when it is a string (None: a string here is unknown content).
        items: Node of each element when the value is a list.
        fields: Known fields when the value is an object without a ``type`` discriminator.
        union: Shapes by ``type`` when the value is an object chosen by its ``type``; ``""`` is the shape for
            an object without ``type`` (a custom tool).
        values: Node of each value of a map (``dict[str, X]``); keys are ``structure``.
        free: Free-form JSON (tool input, a JSON schema): every string and key inside is text.
        name: The shape's ``type`` value, for a node taken from ``union``.
    """

    role: str | None = None
    items: Node | None = None
    fields: dict[str, Node] | None = None
    union: dict[str, Node] | None = None
    values: Node | None = None
    free: bool = False
    name: str = ""
    sources: list[str] = field(default_factory=list)


_WRAPPERS: Final = frozenset({"Required", "NotRequired", "ReadOnly", "Annotated"})


def _strip(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is not None and getattr(origin, "_name", None) in _WRAPPERS:
        return _strip(typing.get_args(hint)[0])
    if origin is typing.Annotated:
        return _strip(typing.get_args(hint)[0])
    return hint


def _is_typed_dict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__total__")


def _is_literal(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return True
    try:
        import typing_extensions as te

        return origin is te.Literal
    except ImportError:  # pragma: no cover
        return False


def _alternatives(hint: Any) -> list[Any]:
    hint = _strip(hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(hint):
            out.extend(_alternatives(arg))
        return out
    return [hint]


def _literal_values(hint: Any) -> list[str]:
    values: list[str] = []
    for alt in _alternatives(hint):
        if _is_literal(alt):
            values.extend(v for v in typing.get_args(alt) if isinstance(v, str))
    return values


def _string_role(shape: str, name: str) -> str:
    role = SHAPE_FIELD_ROLES.get((shape, name))
    if role is not None:
        return role
    role = FIELD_ROLES.get(name)
    if role is not None:
        return role
    if name.endswith("_id") or name.endswith("_ids"):
        return "structure"
    return "text"


def _merge_role(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _RANK[a] >= _RANK[b] else b


class _Builder:
    def __init__(self) -> None:
        self.typed: dict[type, Node] = {}
        self.names: set[str] = set()

    def hint(self, hint: Any, shape: str, name: str) -> Node:
        """The node for a field ``name`` of ``shape`` typed ``hint``."""
        node = Node()
        for alt in _alternatives(hint):
            self._add(node, alt, shape, name)
        return node

    def _add(self, node: Node, alt: Any, shape: str, name: str) -> None:
        origin = typing.get_origin(alt)
        if alt is str:
            role = "credential" if name in _TOKEN_FIELDS else _string_role(shape, name)
            node.role = _merge_role(node.role, role)
        elif _is_literal(alt):
            if any(isinstance(v, str) for v in typing.get_args(alt)):
                node.role = _merge_role(node.role, "structure")
        elif _is_typed_dict(alt):
            typed = self.typed_dict(alt)
            tags = _literal_values(typing.get_type_hints(alt, include_extras=True).get("type", type(None)))
            required = "type" in getattr(alt, "__required_keys__", frozenset())
            if tags:
                union = node.union if node.union is not None else {}
                for tag in tags:
                    union[tag] = _merge_nodes(union[tag], typed) if tag in union else typed
                if not required:
                    union[""] = _merge_nodes(union[""], typed) if "" in union else typed
                node.union = union
            elif node.fields is None:
                # Shared, not copied: the shape may still be filling (a recursive type).
                node.fields = typed.fields
            else:
                node.fields = _merge_fields(node.fields, typed.fields or {})
        elif origin in (dict, collections.abc.Mapping) or alt in (dict, object):
            args = typing.get_args(alt)
            value = args[1] if len(args) == 2 else object
            if _is_typed_dict(_strip(value)):
                node.values = self.hint(value, shape, name)
            else:
                node.free = True
        elif origin in (list, tuple, collections.abc.Iterable, collections.abc.Sequence) or (
            origin is not None and getattr(origin, "__name__", "") == "SequenceNotStr"
        ):
            args = typing.get_args(alt)
            item = self.hint(args[0], shape, name) if args else Node(free=True)
            node.items = item if node.items is None else _merge_nodes(node.items, item)
        elif getattr(alt, "__name__", "") == "SequenceNotStr":
            node.items = Node(role=_string_role(shape, name))
        # int, float, bool, None, IO[bytes], PathLike: nothing to read as a string.

    def typed_dict(self, td: type) -> Node:
        existing = self.typed.get(td)
        if existing is not None:
            return existing
        hints = typing.get_type_hints(td, include_extras=True)
        tags = _literal_values(hints.get("type", type(None)))
        shape = tags[0] if tags else ""
        node = Node(fields={}, name=shape, sources=[td.__name__])
        self.typed[td] = node
        for tag in tags:
            self.names.add(tag)
        assert node.fields is not None
        for key, hint in hints.items():
            node.fields[key] = self.hint(hint, shape, key)
        return node


def _merge_fields(a: dict[str, Node] | None, b: dict[str, Node]) -> dict[str, Node]:
    out = dict(a or {})
    for key, node in b.items():
        out[key] = _merge_nodes(out[key], node) if key in out else node
    return out


def _merge_nodes(a: Node, b: Node, _seen: set[tuple[int, int]] | None = None) -> Node:
    # Two shapes with one ``type`` (the plain and the beta text block): the union of what each knows.
    if a is b:
        return a
    seen = _seen if _seen is not None else set()
    if (id(a), id(b)) in seen:
        return a
    seen.add((id(a), id(b)))
    merged = Node(
        role=_merge_role(a.role, b.role),
        free=a.free or b.free,
        name=a.name or b.name,
        sources=[*a.sources, *b.sources],
    )
    if a.items is not None and b.items is not None:
        merged.items = _merge_nodes(a.items, b.items, seen)
    else:
        merged.items = a.items or b.items
    if a.values is not None and b.values is not None:
        merged.values = _merge_nodes(a.values, b.values, seen)
    else:
        merged.values = a.values or b.values
    if a.fields is not None or b.fields is not None:
        fields = dict(a.fields or {})
        for key, node in (b.fields or {}).items():
            fields[key] = _merge_nodes(fields[key], node, seen) if key in fields else node
        merged.fields = fields
    if a.union is not None or b.union is not None:
        union = dict(a.union or {})
        for key, node in (b.union or {}).items():
            union[key] = _merge_nodes(union[key], node, seen) if key in union else node
        merged.union = union
    return merged


def build_table() -> dict[str, Any]:
    """Build the table from the installed SDK's request TypedDicts, as JSON-able data.

    ``python -m claude_guard.messages._shapes`` writes it to ``claude_guard/data/message_shapes.json``; a test
    fails when the installed SDK knows a shape the packaged table does not.
    """
    import anthropic
    from anthropic.types import message_count_tokens_params, message_create_params
    from anthropic.types.beta import message_count_tokens_params as beta_count
    from anthropic.types.beta import message_create_params as beta_create

    builder = _Builder()
    roots = (
        message_create_params.MessageCreateParamsStreaming,
        message_create_params.MessageCreateParamsNonStreaming,
        beta_create.MessageCreateParamsStreaming,
        beta_create.MessageCreateParamsNonStreaming,
        message_count_tokens_params.MessageCountTokensParams,
        beta_count.MessageCountTokensParams,
    )
    request = Node(fields={}, name="request")
    for root in roots:
        built = builder.typed_dict(root)
        request.fields = _merge_fields(request.fields, built.fields or {})
    return _dump(request, anthropic.__version__)


def _dump(root: Node, version: str) -> dict[str, Any]:
    index: dict[int, int] = {}
    nodes: list[dict[str, Any]] = []

    def ref(node: Node) -> int:
        if id(node) in index:
            return index[id(node)]
        index[id(node)] = len(nodes)
        entry: dict[str, Any] = {}
        nodes.append(entry)
        if node.name:
            entry["name"] = node.name
        if node.role is not None:
            entry["role"] = node.role
        if node.free:
            entry["free"] = True
        if node.items is not None:
            entry["items"] = ref(node.items)
        if node.values is not None:
            entry["values"] = ref(node.values)
        if node.fields is not None:
            entry["fields"] = {key: ref(child) for key, child in sorted(node.fields.items())}
        if node.union is not None:
            entry["union"] = {key: ref(child) for key, child in sorted(node.union.items())}
        return index[id(node)]

    root_index = ref(root)
    return {"sdk_version": version, "root": root_index, "nodes": nodes}


def _load(data: dict[str, Any]) -> tuple[Node, frozenset[str]]:
    raw = data["nodes"]
    nodes = [
        Node(name=entry.get("name", ""), role=entry.get("role"), free=entry.get("free", False))
        for entry in raw
    ]
    names: set[str] = set()
    for node, entry in zip(nodes, raw, strict=True):
        if "items" in entry:
            node.items = nodes[entry["items"]]
        if "values" in entry:
            node.values = nodes[entry["values"]]
        if "fields" in entry:
            node.fields = {key: nodes[i] for key, i in entry["fields"].items()}
        if "union" in entry:
            node.union = {key: nodes[i] for key, i in entry["union"].items()}
            names.update(key for key in entry["union"] if key)
    return nodes[data["root"]], frozenset(names)


_TABLE_FILE: Final = "message_shapes.json"
_lock = threading.Lock()
_table: tuple[Node, frozenset[str]] | None = None


def packaged_table() -> dict[str, Any]:
    """The packaged table (``claude_guard/data/message_shapes.json``) as data."""
    from importlib.resources import files

    text = files("claude_guard").joinpath("data", _TABLE_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def request_shape() -> Node:
    """The root node of the table: the fields of a Messages (or count_tokens) request body.

    Example:
        >>> shape = request_shape()
        >>> shape.fields["model"].role, shape.fields["metadata"].fields["user_id"].role
        ('structure', 'text')
    """
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = _load(packaged_table())
    return _table[0]


def shape_types() -> frozenset[str]:
    """Every ``type`` value the table knows (block types, source types, tool types, ...)."""
    request_shape()
    assert _table is not None
    return _table[1]


if __name__ == "__main__":  # pragma: no cover - the table's generator
    from pathlib import Path

    target = Path(__file__).resolve().parent.parent / "data" / _TABLE_FILE
    target.write_text(json.dumps(build_table(), indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {target}")
