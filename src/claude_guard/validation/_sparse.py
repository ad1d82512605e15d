"""One escape standing for a letter inside a word: fewer escapes than a run needs (``_decoders``).

``&#105;gnore``, ``ign&#x6f;re``, ``%69gnore``, ``\\u0069gnore``: each escape that decodes to a letter or a
digit (after canonicalization: ``&iota;`` is a look-alike of ``i``) has its neighbourhood, 256 characters
either side, decoded (every escape in it) and rescanned as a *reading*: most of it is the visible text
around the escape, so its findings get no hidden bonus. Overlapping neighbourhoods merge, so the decoded
text is never longer than the text. Escapes that stand for no letter (``&amp;``, ``%20``, ``\\n``) are
left alone.
"""

from __future__ import annotations

import functools
import html
import re
import urllib.parse
from collections.abc import Iterator
from typing import Final

from ._canonical import canonical_char
from ._decoders import _UNICODE_ESCAPE, Candidate, _printable, _total

__all__ = ["sparse_escapes"]

# One escape standing for a letter inside a word ("&#105;gnore", "ign&#x6f;re", "%69gnore", "\\u0069gnore"):
# fewer than a run needs. Each such escape's neighbourhood is decoded (all its escapes) and rescanned.
_ONE_ESCAPE: Final = re.compile(
    r"&(?:#[0-9]{1,7};?|#[xX][0-9A-Fa-f]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)"
    r"|%[0-9A-Fa-f]{2}|\\(?:u\{?[0-9A-Fa-f]{4,6}\}?|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2})"
)
_ESCAPE_REACH: Final = 256
_ESCAPE_KIND: Final = {"&": "entities", "%": "percent", "\\": "escapes"}


@functools.lru_cache(maxsize=4096)
def _stands_for_letter(escape: str) -> bool:
    """Whether one escape (entity, ``%XX``, ``\\u``/``\\x``) decodes to a letter or digit."""
    if escape[0] == "&":
        char = html.unescape(escape if escape.endswith(";") else escape + ";")
    elif escape[0] == "%" or escape[1] == "x":
        char = chr(int(escape[-2:], 16))
        if not char.isascii():
            return False  # a byte of a UTF-8 sequence
    else:
        value = int(escape.strip("\\uU{}"), 16)
        char = chr(value) if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else ""
    if len(char) != 1 or char == escape:
        return False
    return any(piece.isalnum() for piece in canonical_char(char))


def _decode_sparse(region: str) -> str | None:
    decoded = html.unescape(region) if "&" in region else region
    if "%" in decoded:
        decoded = urllib.parse.unquote(decoded, errors="replace")
    if "\\" in decoded:
        decoded = _UNICODE_ESCAPE.sub(_one_backslash, decoded)
    return _printable(decoded) if decoded != region else None


def _one_backslash(match: re.Match[str]) -> str:
    code, wide, byte = match.groups()
    value = int(code or wide or byte, 16)
    return chr(value) if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"


def _escapes(text: str) -> Iterator[re.Match[str]]:
    """The matches of `_ONE_ESCAPE`, tried only where a marker stands (C substring searches): a pattern scan
    of a long non-ASCII text costs far more than finding its few ``%`` signs."""
    starts: list[int] = []
    for marker in "&%\\":
        position = text.find(marker)
        while position >= 0:
            starts.append(position)
            position = text.find(marker, position + 1)
    end = 0
    for start in sorted(starts):
        if start < end:
            continue
        match = _ONE_ESCAPE.match(text, start)
        if match is not None:
            end = match.end()
            yield match


def sparse_escapes(stripped: str) -> Iterator[Candidate]:
    """The neighbourhoods of escapes standing for letters, merged where they overlap, decoded."""
    region: list[int] = []  # start, end, kind of its first escape
    kind = ""
    for match in _escapes(stripped):
        if not _stands_for_letter(match.group()):
            continue
        start, end = match.start() - _ESCAPE_REACH, match.end() + _ESCAPE_REACH
        if region and start <= region[1]:
            region[1] = end
            continue
        if region:
            yield from _sparse_candidate(stripped, region[0], region[1], kind)
        region = [start, end]
        kind = _ESCAPE_KIND[match.group()[0]]
    if region:
        yield from _sparse_candidate(stripped, region[0], region[1], kind)


def _sparse_candidate(stripped: str, start: int, end: int, kind: str) -> Iterator[Candidate]:
    start, end = max(0, start), min(len(stripped), end)
    decoded = _total(_decode_sparse, stripped[start:end])
    if decoded is not None:
        # A reading: most of it is the visible text around the escapes, which is not hidden.
        yield Candidate(kind, start, end, decoded, "stripped", reading=True)
