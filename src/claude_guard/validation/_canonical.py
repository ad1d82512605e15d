"""Canonical text for pattern matching, with an offset map back to the original.

Every rule reads the *canonical* form of the prompt, so one pattern covers the spellings an attacker can
choose. Per code point, in this order:

1. invisible characters are dropped: format characters (Unicode ``Cf``: zero-width space and joiners, soft
   hyphen, bidi controls, tag characters), variation selectors, combining grapheme joiner, Hangul fillers
   and control characters other than whitespace;
2. NFKC (fullwidth, mathematical alphanumerics, circled letters, ligatures → ASCII);
3. capital look-alikes map to Latin (Greek ``Ν`` → n), then casefold;
4. combining marks are dropped (``ïgnörë`` → ``ignore``) after a canonical decomposition;
5. the confusable skeleton: Cyrillic, Greek and other look-alikes map to Latin (see ``_confusables``);
6. whitespace: every horizontal space becomes ``" "``, every line break ``"\\n"``.

Then runs of whitespace collapse: spaces to one space, any run holding a line break to one ``"\\n"`` (line
starts matter to the turn-marker rule).

The per-code-point mapping is computed once per distinct code point and applied with ``str.translate``
(C speed; ASCII text takes CPython's fast path). The offset map, which costs a Python loop, is built only
when a rule hit has to be located in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ._confusables import CONFUSABLES

__all__ = [
    "INVISIBLE_RANGES",
    "Canonical",
    "canonical_char",
    "canonicalize",
    "is_invisible",
    "strip_invisible",
]

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
_LINE_BREAKS: Final = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def is_invisible(char: str) -> bool:
    """Whether ``char`` (one code point) renders as nothing and is dropped by canonicalization.

    Example:
        >>> is_invisible("\\u200b"), is_invisible("a"), is_invisible("\\n")
        (True, False, False)
    """
    code = ord(char)
    if any(lo <= code <= hi for lo, hi in INVISIBLE_RANGES):
        return True
    category = unicodedata.category(char)
    if category == "Cf":
        return True
    return category == "Cc" and not char.isspace()


def canonical_char(char: str) -> str:
    """The canonical form of one code point (possibly empty or several characters).

    Example:
        >>> canonical_char("Ｉ"), canonical_char("а"), canonical_char("\\u200b"), canonical_char("\\t")
        ('i', 'a', '', ' ')
    """
    if is_invisible(char):
        return ""
    if char in _LINE_BREAKS:
        return "\n"
    if char.isspace():
        return " "
    out: list[str] = []
    for compatible in unicodedata.normalize("NFKC", char):
        # Capitals first: Greek Ν looks like N, but its lower case ν looks like v.
        if compatible in CONFUSABLES:
            out.append(CONFUSABLES[compatible])
            continue
        for piece in unicodedata.normalize("NFD", compatible.casefold()):
            if unicodedata.combining(piece) or is_invisible(piece):
                continue
            if piece in _LINE_BREAKS:
                out.append("\n")
            elif piece.isspace():
                out.append(" ")
            else:
                out.append(CONFUSABLES.get(piece, piece))
    return "".join(out)


class _CanonicalTable(dict[int, str]):
    """A ``str.translate`` table filled on first sight of each code point."""

    def __missing__(self, code: int) -> str:
        value = canonical_char(chr(code))
        self[code] = value
        return value


# Invisible characters that carry meaning in ordinary text, so the sanitizer leaves them (canonicalization
# still drops them): joiners of emoji sequences and of Persian/Indic words, emoji presentation selectors.
_MEANINGFUL: Final = frozenset("\u200c\u200d\ufe0e\ufe0f")


class _InvisibleTable(dict[int, str | None]):
    """A ``str.translate`` table that drops invisible characters (but `_MEANINGFUL`) and keeps the rest."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value = None if is_invisible(char) and char not in _MEANINGFUL else char
        self[code] = value
        return value


# One table per process, shared by every request: it only ever grows toward a fixed mapping (at most one
# entry per code point seen), and ``dict`` updates are atomic under the GIL.
_TABLE: Final = _CanonicalTable()
_INVISIBLE: Final = _InvisibleTable()
# Each pattern starts with a literal, so ``re`` finds candidates with its fast prefix scan.
_SPACES: Final = re.compile(r"  +")
_SPACE_BREAK: Final = re.compile(r" \n")
_BREAKS: Final = re.compile(r"\n[ \n]+")
_COLLAPSE: Final = ((_SPACES, " "), (_SPACE_BREAK, "\n"), (_BREAKS, "\n"))


def _collapse(text: str) -> str:
    for pattern, replacement in _COLLAPSE:
        text = pattern.sub(replacement, text)
    return text


@dataclass(slots=True)
class Canonical:
    """The canonical form of ``original``; `origin` maps a canonical index back to the original.

    Example:
        >>> c = canonicalize("IGN\\u200bORE  а")
        >>> c.text
        'ignore a'
        >>> c.origin(7), c.original_span(0, 6)
        (9, (0, 7))
    """

    original: str
    text: str
    _offsets: list[int] | None = field(default=None, repr=False)

    def offsets(self) -> list[int]:
        """For each canonical index (and one past the end), the index in ``original`` it came from."""
        if self._offsets is None:
            self._offsets = _build_offsets(self.original, self.text)
        return self._offsets

    def origin(self, index: int) -> int:
        """The original index of canonical index ``index`` (``len(text)`` maps to ``len(original)``)."""
        return self.offsets()[index]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The smallest original span covering canonical ``[start, end)``."""
        offsets = self.offsets()
        if end <= start:
            return offsets[start], offsets[start]
        last = offsets[end - 1]
        # The original end is the start of the next original character that produced output.
        stop = offsets[end] if offsets[end] > last else last + 1
        return offsets[start], stop


def canonicalize(text: str) -> Canonical:
    """Canonicalize ``text`` (see the module docstring); the offset map is built lazily."""
    return Canonical(original=text, text=_collapse(text.translate(_TABLE)))


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters (what the ``sanitize`` mode forwards).

    Zero-width joiners and non-joiners and the emoji presentation selectors stay: emoji sequences and
    Persian or Indic words need them, and the rules read through them anyway.

    Example:
        >>> strip_invisible("ig\\u200bnore\\U000e0041")
        'ignore'
    """
    return text.translate(_INVISIBLE)


def _build_offsets(original: str, expected: str) -> list[int]:
    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(original):
        piece = _TABLE[ord(char)]
        chars.extend(piece)
        offsets.extend([index] * len(piece))
    text = "".join(chars)
    for pattern, replacement in _COLLAPSE:
        text, offsets = _sub_with_offsets(text, offsets, pattern, replacement)
    if text != expected:  # pragma: no cover - the two paths share one table and one pair of patterns
        raise RuntimeError("canonical offset map out of step with the canonical text")
    offsets.append(len(original))
    return offsets


def _sub_with_offsets(
    text: str, offsets: list[int], pattern: re.Pattern[str], replacement: str
) -> tuple[str, list[int]]:
    parts: list[str] = []
    new_offsets: list[int] = []
    position = 0
    for match in pattern.finditer(text):
        parts.append(text[position : match.start()])
        new_offsets.extend(offsets[position : match.start()])
        parts.append(replacement)
        new_offsets.extend([offsets[match.start()]] * len(replacement))
        position = match.end()
    parts.append(text[position:])
    new_offsets.extend(offsets[position:])
    return "".join(parts), new_offsets


def invisible_offsets(original: str) -> list[int]:
    """For ``strip_invisible(original)``: each index (and one past the end) → its index in ``original``."""
    offsets = [index for index, char in enumerate(original) if _INVISIBLE[ord(char)] is not None]
    offsets.append(len(original))
    return offsets


def iter_invisible(text: str) -> Iterable[int]:
    """Indexes of invisible characters in ``text``."""
    return (index for index, char in enumerate(text) if _INVISIBLE[ord(char)] is None)
