"""Canonical text for pattern matching, with an offset map back to the original.

Every rule reads the *canonical* form of the prompt, so one pattern covers the spellings an attacker can
choose. Per code point, in this order:

1. invisible characters are dropped: format characters (Unicode ``Cf``: zero-width space and joiners, soft
   hyphen, bidi controls, tag characters), variation selectors, combining grapheme joiner, Hangul fillers
   and control characters other than whitespace; so are lone surrogates and U+FFFD (read past inside a
   word: ``ign\ud800ore`` is ``ignore``);
2. NFKC (fullwidth, mathematical alphanumerics, circled letters, ligatures → ASCII);
3. capital look-alikes map to Latin (Greek ``Ν`` → n), then casefold;
4. combining marks are dropped (``ïgnörë`` → ``ignore``) after a canonical decomposition;
5. the confusable skeleton: Cyrillic, Greek and other look-alikes map to Latin (see ``_confusables``);
6. whitespace: every horizontal space becomes ``" "``, every line break ``"\\n"``.

Then runs of whitespace collapse: spaces to one space, any run holding a line break to one ``"\\n"`` (line
starts matter to the turn-marker rule).

The per-code-point mapping is computed once per distinct code point. ASCII text goes through
``bytes.translate`` (encoded, translated, decoded: C loops over bytes). Other text would pay
``str.translate``'s generic path (a dictionary lookup per character, about 40 ns), so it goes through a
*charmap* instead (`_Charmap`): the characters of ASCII, of common punctuation and of the script page of
the text's first other character are given one byte each, the text is encoded with
``codecs.charmap_encode`` and decoded with ``codecs.charmap_decode`` through a table of their canonical
forms (both C loops, about 2 ns per character); characters outside that alphabet are translated run by
run from an error handler. The result is the same string, character for character. The offset map is
built only when a rule hit has to be located in the original text, run by run (a run of characters of
one-character canonical forms is a ``range``; only those dropped or expanded are read one by one).
"""

from __future__ import annotations

import codecs
import functools
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final

from ._confusables import CONFUSABLES
from ._invisible import INVISIBLE_RANGES, first_invisible, strip_invisible

__all__ = [
    "INVISIBLE_RANGES",
    "Canonical",
    "canonical_char",
    "canonicalize",
    "first_invisible",
    "is_invisible",
    "strip_invisible",
    "translate_canonical",
]

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
    if char == "\ufffd" or "\ud800" <= char <= "\udfff":
        # A lone surrogate (valid JSON, not UTF-8: an upstream reads it as U+FFFD, if at all) or a
        # replacement character inside a word is read past like an invisible one: "ign\ud800ore" is
        # "ignore" to the model, so it is to the rules.
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


# One table per process, shared by every request: it only ever grows toward a fixed mapping (at most one
# entry per code point seen), and ``dict`` updates are atomic under the GIL.
_TABLE: Final = _CanonicalTable()
# Each pattern starts with a literal, so ``re`` finds candidates with its fast prefix scan.
_SPACES: Final = re.compile(r"  +")
_SPACE_BREAK: Final = re.compile(r" \n")
_BREAKS: Final = re.compile(r"\n[ \n]+")
_COLLAPSE: Final = ((_SPACES, " "), (_SPACE_BREAK, "\n"), (_BREAKS, "\n"))


def _collapse(text: str) -> str:
    # Each substitution runs only when its literal start is present (``in``: a C substring search).
    if "  " in text:
        text = _SPACES.sub(" ", text)
    if "\n" in text:  # the other two hold a line break (one C ``memchr`` rules both out)
        if " \n" in text:
            text = text.replace(" \n", "\n")  # a literal: `_SPACE_BREAK.sub` without the regex engine
        if "\n " in text or "\n\n" in text:
            text = _BREAKS.sub("\n", text)
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
    visible: bool = field(default=False, repr=False)
    """True when the translation showed, as a by-product, that ``original`` holds no character
    `strip_invisible` drops (False: not known; `first_invisible` tells)."""

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
    translated, visible = _translate(text)
    return Canonical(original=text, text=_collapse(translated), visible=visible)


def translate_canonical(text: str) -> str:
    """``text`` with every code point replaced by `canonical_char` (before whitespace runs collapse).

    Equal to ``"".join(canonical_char(c) for c in text)``, at C speed for ASCII text and for text in one
    alphabetic script (see the module docstring).
    """
    return _translate(text)[0]


def _ascii_bytes_table() -> tuple[bytes, bytes]:
    # `_TABLE` over ASCII as a ``bytes.translate`` table and the bytes it deletes (every ASCII character's
    # canonical form is one ASCII character or empty: case, spaces, controls), cheaper for pure-ASCII text
    # (most prompts) than ``str.translate``'s per-character cache lookup.
    table, dropped = bytearray(range(256)), bytearray()
    for code in range(0x80):
        if len(canonical := _TABLE[code]) > 1 or not canonical.isascii():  # pragma: no cover - never
            raise RuntimeError(f"U+{code:04X} has no one-byte canonical form")
        table[code] = ord(canonical) if canonical else code
        if not canonical:
            dropped.append(code)
    return bytes(table), bytes(dropped)


_ASCII_BYTES: Final = _ascii_bytes_table()


def _translate(text: str) -> tuple[str, bool]:
    """`translate_canonical`, and whether that showed ``text`` to hold no invisible character (every one has
    an empty canonical form: in a charmap's output it is a `_DROP`, in ideographic text it sits in a run)."""
    if text.isascii():  # `first_invisible` has its own C test for ASCII
        return text.encode("ascii").translate(*_ASCII_BYTES).decode("ascii"), False
    charmap = _charmap_for(text)
    if charmap is None:
        charmap = _alphabet_charmap(text)
    if charmap is None:
        return _translate_runs_seen(text)
    return charmap.translate_seen(text)


# --- ideographic text -----------------------------------------------------------------------------------
#
# Text with thousands of distinct characters (Chinese, Japanese) has no charmap; most of its characters are
# their own canonical form (every CJK unified ideograph, most kana, the ideographic full stop…), so only the
# runs of other characters (fullwidth punctuation, Latin capitals…) go through ``str.translate``: a regular
# expression split (a C loop) finds them. Korean is not sped up (Hangul syllables decompose to jamo).
_IDENTITY_RANGES: Final = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))
"""CJK unified ideographs (and extension A): each is its own canonical form (tests check every one)."""


def _identity_class() -> str:
    codes = [code for code in range(0x80) if _TABLE[code] == chr(code)]
    # Kana and CJK punctuation: the code points that are their own canonical form (not the voiced kana, which
    # decompose and lose their mark).
    codes += [code for code in range(0x3000, 0x3100) if _TABLE[code] == chr(code)]
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    ranges.extend(_IDENTITY_RANGES)
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in ranges
    )


# A class first, then its repeat: a pattern that starts with a repeat gets no prefix scan from ``re``.
_NOT_IDENTITY: Final = re.compile(f"([^{_identity_class()}][^{_identity_class()}]*)")


def _translate_runs(text: str) -> str:
    return _translate_runs_seen(text)[0]


def _translate_runs_seen(text: str) -> tuple[str, bool]:
    parts = _NOT_IDENTITY.split(text)
    if len(parts) == 1:
        return text, True  # no run: every character is its own canonical form, none invisible
    if len(parts) > 1 + len(text) // 4:  # mostly other characters (Hangul): one translate is cheaper
        return text.translate(_TABLE), False
    # Invisible characters are never their own canonical form, so they all sit in the runs.
    visible = first_invisible("".join(parts[1::2])) is None
    memo = _RUNS
    if len(memo) >= _RUNS_MEMO:
        memo.clear()
    parts[1::2] = [
        done if (done := memo.get(part)) is not None else _translate_run_of(part) for part in parts[1::2]
    ]
    return "".join(parts), visible


# The runs of ideographic text are mostly one or two characters (a fullwidth comma, a voiced kana) that recur
# in every prompt: their translations are remembered (a bounded memo, emptied when full; a dict's
# single-key operations are atomic under the GIL), a lookup instead of a ``str.translate`` call each.
_RUNS: Final[dict[str, str]] = {}
_RUNS_MEMO: Final = 4096
_RUN_MEMO_CHARS: Final = 8


def _translate_run_of(part: str) -> str:
    done = part.translate(_TABLE)
    if len(part) <= _RUN_MEMO_CHARS:
        _RUNS[part] = done
    return done


# --- the charmap fast path ---------------------------------------------------------------------------------
#
# Decoded stand-ins. Canonical text never holds a control character other than "\n" (controls are invisible
# and dropped), so these cannot collide with real output: _DROP marks a character whose canonical form is
# empty, _SLOT a run the error handler translated on its own, and each _EXPANSION_MARKS character one
# alphabet character whose canonical form has several characters ("…" → "...").
_DROP: Final = "\x00"
_SLOT: Final = "\x01"
_SLOT_BYTE: Final = b"\x01"
_EXPANSION_MARKS: Final = tuple(chr(code) for code in (*range(0x02, 0x09), *range(0x0E, 0x20)))
_ERRORS: Final = "claude_guard.validation.canonical"
# Non-ASCII characters common in text of any script: spaces, dashes, quotes, bullets, zero-width and
# direction marks, the byte order mark.
_COMMON: Final = (
    "\u00a0\u00ab\u00bb\u00ad\u00b0\u00b7\u00a9\u00ae\u00a7\u00d7"
    "\u2002\u2003\u2009\u200a\u200b\u200c\u200d\u200e\u200f\u202f\u2060\ufeff"
    "\u2010\u2011\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026\u2039\u203a\u20ac\u2116"
)
_UNCOMMON: Final = re.compile("[^\x00-\x7f" + _COMMON + "]")
# Pages (128 code points) of alphabetic scripts, Latin-1 to General Punctuation, that get a charmap: each has
# at most 128 characters, and their number bounds the cache. Other pages (CJK, Hangul, astral planes) take
# ``str.translate``.
_LAST_PAGE: Final = 0x2080 >> 7
_NO_PAGE: Final = -1
# A run of characters outside the alphabet costs one handler call; past this many calls per 64 characters
# of progress (alternating scripts), the handler translates the rest of the text in one go, so the charmap
# never costs much more than ``str.translate`` alone.
_SLOW_RUNS_ALLOWED: Final = 8
_local = threading.local()


@dataclass(frozen=True, slots=True)
class _Charmap:
    """Up to 255 characters, one byte each, and the canonical form of each byte."""

    encoding: Any
    """``codecs.charmap_build`` of the alphabet (an ``EncodingMap``)."""
    decoding: str
    """256 characters: the canonical form of each byte, or a stand-in."""
    expansions: tuple[tuple[str, str], ...]
    """(stand-in, canonical form) of alphabet characters whose canonical form has several characters."""

    def translate(self, text: str) -> str:
        return self.translate_seen(text)[0]

    def translate_seen(self, text: str) -> tuple[str, bool]:
        """`translate`, and whether every character was in the alphabet and none had an empty canonical
        form (then ``text`` holds no invisible character: each of those has one)."""
        runs: list[str] = []
        _local.runs = runs
        try:
            data = codecs.charmap_encode(text, _ERRORS, self.encoding)[0]
        finally:
            _local.runs = None
        out: str = codecs.charmap_decode(data, "strict", self.decoding)[0]
        visible = not runs
        if _DROP in out:
            visible = False
            out = out.replace(_DROP, "")
        for mark, expansion in self.expansions:
            if mark in out:
                out = out.replace(mark, expansion)
        if runs:
            parts = out.split(_SLOT)
            pieces = [parts[0]]
            for run, part in zip(runs, parts[1:], strict=True):
                pieces.append(run)
                pieces.append(part)
            out = "".join(pieces)
        return out, visible


def _translate_run(error: UnicodeError) -> tuple[bytes, int]:
    """Error handler of the charmap: translate a run outside the alphabet, leave a `_SLOT` byte."""
    runs: list[str] | None = getattr(_local, "runs", None)
    if not isinstance(error, UnicodeEncodeError) or runs is None:
        raise error
    start = error.start
    end = error.end if len(runs) < _SLOW_RUNS_ALLOWED + start // 64 else len(error.object)
    runs.append(error.object[start:end].translate(_TABLE))
    return _SLOT_BYTE, end


codecs.register_error(_ERRORS, _translate_run)


def _charmap_for(text: str) -> _Charmap | None:
    uncommon = _UNCOMMON.search(text)
    page = _NO_PAGE if uncommon is None else ord(uncommon.group()) >> 7
    if page > _LAST_PAGE:
        return None
    return _build_charmap(page)


# Scripts with thousands of characters (CJK, Hangul) have no page charmap. A long text gets a charmap of the
# characters of two 1 KB samples of it (building one costs about as much as translating 4 KB); characters
# outside it are translated run by run by the error handler, as for page charmaps.
_ALPHABET_LIMIT: Final = 240
_ALPHABET_MIN_TEXT: Final = 4096
_SAMPLE: Final = 1024


def _alphabet_charmap(text: str) -> _Charmap | None:
    if len(text) < _ALPHABET_MIN_TEXT:
        return None
    middle = len(text) // 2
    distinct = frozenset(text[:_SAMPLE] + text[middle : middle + _SAMPLE])
    if len(distinct) > _ALPHABET_LIMIT:
        return None
    return _build_alphabet_charmap(distinct)


@functools.lru_cache(maxsize=256)
def _build_alphabet_charmap(distinct: frozenset[str]) -> _Charmap | None:
    alphabet = ["\x00", "\ufffe"]
    decoding = [_DROP, _SLOT]
    expansions: list[tuple[str, str]] = []
    for char in sorted(distinct - {"\x00", "\ufffe"}):
        canonical = _TABLE[ord(char)]
        if len(canonical) > 1:
            if len(expansions) == len(_EXPANSION_MARKS):
                return None
            mark = _EXPANSION_MARKS[len(expansions)]
            expansions.append((mark, canonical))
            canonical = mark
        alphabet.append(char)
        decoding.append(canonical or _DROP)
    alphabet.extend("\ufffe" * (256 - len(alphabet)))
    decoding.extend("\ufffe" * (256 - len(decoding)))
    return _Charmap(codecs.charmap_build("".join(alphabet)), "".join(decoding), tuple(expansions))


@functools.cache
def _build_charmap(page: int) -> _Charmap:
    # Byte 0 must encode "\x00" for ``charmap_build`` to return its fast ``EncodingMap``; byte 1 is the
    # handler's slot (U+FFFE: no character encodes to it). Then ASCII, the common characters, and as much of
    # the page as fits, in code point order, skipping unassigned code points and controls.
    alphabet = ["\x00", "\ufffe", *(chr(code) for code in range(1, 0x80))]
    decoding = [_DROP, _SLOT, *(_TABLE[code] or _DROP for code in range(1, 0x80))]
    expansions: list[tuple[str, str]] = []
    page_chars = [] if page == _NO_PAGE else [chr(code) for code in range(page << 7, (page + 1) << 7)]
    for char in dict.fromkeys((*_COMMON, *page_chars)):
        if len(alphabet) == 256:
            break
        if char.isascii() or unicodedata.category(char) in ("Cn", "Cs", "Cc"):
            continue
        canonical = _TABLE[ord(char)]
        if len(canonical) > 1:
            if len(expansions) == len(_EXPANSION_MARKS):
                continue
            mark = _EXPANSION_MARKS[len(expansions)]
            expansions.append((mark, canonical))
            canonical = mark
        alphabet.append(char)
        decoding.append(canonical or _DROP)
    alphabet.extend("\ufffe" * (256 - len(alphabet)))
    decoding.extend("\ufffe" * (256 - len(decoding)))
    return _Charmap(codecs.charmap_build("".join(alphabet)), "".join(decoding), tuple(expansions))


class _PieceMarks(dict[int, str]):
    """``str.translate`` table: ``"."`` for a code point of one-character canonical form, else ``"#"``."""

    def __missing__(self, code: int) -> str:
        self[code] = value = "." if len(_TABLE[code]) == 1 else "#"
        return value


_MARKS: Final = _PieceMarks()
_IRREGULAR: Final = re.compile("#+")


def _build_offsets(original: str, expected: str) -> list[int]:
    # A run of characters of one-character canonical forms maps one for one (a ``range``); see above.
    offsets: list[int] = []
    position = 0
    for match in _IRREGULAR.finditer(original.translate(_MARKS)):
        start, end = match.span()
        offsets.extend(range(position, start))
        for index in range(start, end):
            offsets.extend([index] * len(_TABLE[ord(original[index])]))
        position = end
    offsets.extend(range(position, len(original)))
    text = _translate(original)[0]
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
