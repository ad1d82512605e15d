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

from ._segments import TextSegment, iter_text_segments, replace_text_segments
from ._usage import Usage
from ._walker import Leaf, ObjectKey, walk_request

__all__ = [
    "Leaf",
    "ObjectKey",
    "TextSegment",
    "Usage",
    "iter_text_segments",
    "replace_text_segments",
    "walk_request",
]
