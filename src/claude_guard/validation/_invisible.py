"""Invisible characters: which code points `strip_invisible` drops (format and control characters and
`INVISIBLE_RANGES`, less the few that carry meaning in ordinary text), found and deleted with the cheapest
exact pattern for the text at hand. Canonicalization (``_canonical``) drops them too.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from typing import Final

__all__ = ["INVISIBLE_RANGES", "first_invisible", "invisible_offsets", "iter_invisible", "strip_invisible"]

# Code point ranges of characters that render as nothing (besides the whole Cf category).
INVISIBLE_RANGES: Final = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0000, 0xE007F),  # tag characters
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
# Invisible characters that carry meaning in ordinary text, so the sanitizer leaves them (canonicalization
# still drops them): joiners of emoji sequences and of Persian/Indic words, emoji presentation selectors.
_MEANINGFUL: Final = frozenset("\u200c\u200d\ufe0e\ufe0f")


@functools.cache
def _strippable_codes() -> tuple[tuple[int, int], ...]:
    """Ranges of every code point `strip_invisible` drops (computed on first use, ~25 ms).

    Format (``Cf``) and control characters only exist in planes 0, 1 and 14 (a test checks the other planes
    against the running Python's Unicode data); `INVISIBLE_RANGES` are added whole.
    """
    codes: set[int] = set()
    for low, high in INVISIBLE_RANGES:
        codes.update(range(low, high + 1))
    for plane in (0, 1, 14):
        for code in range(plane << 16, (plane + 1) << 16):
            char = chr(code)
            category = unicodedata.category(char)
            if category == "Cf" or (category == "Cc" and not char.isspace()):
                codes.add(code)
    codes.difference_update(map(ord, _MEANINGFUL))
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return tuple(ranges)


@functools.cache
def _strippable(limit: int) -> re.Pattern[str]:
    """Runs of `_strippable_codes` below ``limit``: exact for text without higher code points.

    ``re`` checks a class of code points below 0x10000 against a bitmap, but each range above it one by one
    (about 1.5 ns per character each), so texts without astral characters get a class without them.
    """
    # One match per run (one repeat of one class: linear), so a long run of zero-width characters is one
    # deletion, not one per character. The class comes first, then its repeat: ``re`` gives a pattern that
    # starts with a repeat no prefix scan.
    return re.compile(_strippable_class(limit) + _strippable_class(limit) + "*")


@functools.cache
def _strippable_class(limit: int) -> str:
    ranges = [(low, min(high, limit - 1)) for low, high in _strippable_codes() if low < limit]
    return "[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]"


def _has_astral(text: str) -> bool:
    """Whether ``text`` holds a code point above U+FFFF: each takes two UTF-16 units (a C loop, several
    times cheaper than a regular expression class scan); lone surrogates stay one unit."""
    return len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


def _strippable_in(text: str) -> re.Pattern[str]:
    """The cheapest exact pattern of strippable characters for ``text``."""
    if text.isascii():
        return _strippable(0x80)
    if not _has_astral(text):
        return _strippable(0x10000)
    return _strippable(0x110000)


@functools.cache
def _strippable_char(limit: int) -> re.Pattern[str]:
    """One strippable character below ``limit``: for searching, not deleting.

    A pattern that starts with a repeat gets no prefix scan from ``re`` (each position is a match attempt,
    about four times slower), so the search for the first invisible character is a bare class.
    """
    return re.compile(_strippable_class(limit))


@functools.cache
def _ascii_visible() -> bytes:
    """The ASCII bytes `strip_invisible` keeps (deleted by ``bytes.translate``, the rest is invisible)."""
    pattern = _strippable(0x80)
    return bytes(code for code in range(0x80) if pattern.fullmatch(chr(code)) is None)


def _first_strippable(text: str) -> re.Match[str] | None:
    if text.isascii():
        # ASCII prompts (most of them): one C pass deletes every visible byte; nothing left, nothing to find.
        if not text.encode("ascii").translate(None, _ascii_visible()):
            return None
        return _strippable_char(0x80).search(text)
    if not _has_astral(text):
        return _strippable_char(0x10000).search(text)
    return _strippable_char(0x110000).search(text)


def first_invisible(text: str) -> int | None:
    """Index of the first character `strip_invisible` drops from ``text``, or ``None``."""
    match = _first_strippable(text)
    return None if match is None else match.start()


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters (what the ``sanitize`` mode forwards).

    Zero-width joiners and non-joiners and the emoji presentation selectors stay: emoji sequences and
    Persian or Indic words need them, and the rules read through them anyway.

    Example:
        >>> strip_invisible("ig\\u200bnore\\U000e0041")
        'ignore'
    """
    return text if _first_strippable(text) is None else _strippable_in(text).sub("", text)


def invisible_offsets(original: str) -> list[int]:
    """For ``strip_invisible(original)``: each index (and one past the end) → its index in ``original``."""
    offsets: list[int] = []
    position = 0
    for match in _strippable_in(original).finditer(original):
        offsets.extend(range(position, match.start()))
        position = match.end()
    offsets.extend(range(position, len(original) + 1))
    return offsets


def iter_invisible(text: str) -> Iterator[int]:
    """Indexes of invisible characters in ``text`` (those `strip_invisible` drops)."""
    for match in _strippable_in(text).finditer(text):
        yield from range(*match.span())
