"""The Claude Messages API as data: the request walker, text segments, usage, and an incremental SSE parser.

Framework-free and standard library only, so every middleware shares one reading of the wire format:

- `walk_request` yields every string leaf of a request, classified by the shape table (`request_shape`, built
  from the SDK's request types) as model-visible ``text``, ``url``, ``credential`` or ``structure``; unknown
  block types and fields are unknown content (`first_unknown`).
- `iter_text_segments` / `replace_text_segments` give the strings the protections read (text and URLs) and
  rewrite them by JSON path, without touching ids, signatures, thinking, images or credentials.
- `Usage` reads the API's usage object and applies the streaming rule (``message_delta.usage`` is
  cumulative: it replaces, never adds).
- `SSEParser` turns arbitrary byte chunks into `SSEEvent`s, and `StreamUsage` follows a Messages stream.

Example:
    >>> body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
    >>> [segment.text for segment in iter_text_segments(body)]
    ['Hi']
"""

from __future__ import annotations

from ._segments import (
    SegmentPath,
    TextSegment,
    iter_text_segments,
    joined_text,
    locate,
    replace_text_segments,
)
from ._shapes import ROLES, Node, Role, request_shape, shape_types
from ._sse import MAX_EVENT_BYTES, MAX_LINE_BYTES, SSEError, SSEEvent, SSEParser, StreamUsage
from ._usage import Usage, usage_from_response
from ._walker import UNKNOWN_CONTENT_POLICIES, Leaf, ObjectKey, UnknownContent, first_unknown, walk_request

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_LINE_BYTES",
    "ROLES",
    "UNKNOWN_CONTENT_POLICIES",
    "Leaf",
    "Node",
    "ObjectKey",
    "Role",
    "SSEError",
    "SSEEvent",
    "SSEParser",
    "SegmentPath",
    "StreamUsage",
    "TextSegment",
    "UnknownContent",
    "Usage",
    "first_unknown",
    "iter_text_segments",
    "joined_text",
    "locate",
    "replace_text_segments",
    "request_shape",
    "shape_types",
    "usage_from_response",
    "walk_request",
]
