"""The canonical text PII and secrets are looked for in, with the offset map back to the original.

A value can be written so that a pattern misses it while a human or a model still reads it: a zero-width
space inside an API key, full-width ``＠`` or digits, ``%40`` or ``&#64;`` for the ``@``, a key encoded in
base64. Detection runs on the canonical copy, where

- invisible characters (Unicode ``Cf``, variation selectors, fillers) are removed,
- characters whose compatibility form (NFKC) is ASCII become that ASCII (full-width letters and digits,
  ideographic and no-break spaces, mathematical digits, ``﹫``),
- percent escapes of printable ASCII (``%40``) and HTML character references (``&#64;``, ``&#x40;``,
  ``&commat;``, ``&amp;``) are decoded,

and each canonical character remembers the original span it came from, so a finding is mapped back to the
exact original characters (the vault keeps those, so restoring gives back the very bytes that were sent).
Base64 runs of bounded size are decoded separately (`base64_runs`); a finding inside one reports the whole
run. The standard library does the decoding (``html.unescape``, ``unicodedata``, ``base64``); the offset map
is ours, because no library keeps one.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Iterator
from typing import Final

from .._credentials import CharClasses

__all__ = ["INVISIBLE", "Canonical", "base64_runs", "canonicalize"]

# Every Unicode format character (category Cf) plus variation selectors: none of them is visible, so a
# zero-width space inside an API key hides it from a pattern without changing what a human or a model reads.
INVISIBLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
    "]"
)

# What may change: a percent escape, an HTML character reference, a run of non-ASCII characters.
_CHANGES: Final = re.compile(
    r"(?:%[0-9A-Fa-f]{2})+|&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|[^\x00-\x7f]+"
)


class _CharTable(dict[int, str]):
    """``str.translate`` table of non-ASCII characters, filled on first sight of each code point."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char
        if 0xD800 <= code <= 0xDFFF:
            # A lone surrogate (valid JSON, not UTF-8) reads as U+FFFD, one for one: Presidio's tokenizer and
            # the credential automaton encode their text as UTF-8 and would fail on it.
            value = "\ufffd"
        elif INVISIBLE.fullmatch(char):
            value = ""
        else:
            compatible = unicodedata.normalize("NFKC", char)
            if compatible != char and compatible.isascii() and 0 < len(compatible) <= 4:
                value = compatible
        self[code] = value
        return value


_TABLE: Final = _CharTable()
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _decode_percent(token: str) -> list[tuple[str, int, int]]:
    # A run of percent escapes: UTF-8 as a whole (``%E2%80%8B`` is a zero-width space, dropped), else each
    # escape of printable ASCII on its own; offsets relative to the run.
    raw = bytes.fromhex(token.replace("%", ""))
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and not decoded.isascii():
        mapped = decoded.translate(_TABLE)
        if mapped.isprintable():
            return [(mapped, 0, len(token))]
    out = []
    for index, byte in enumerate(raw):
        start = 3 * index
        out.append((chr(byte) if 0x20 <= byte < 0x7F else token[start : start + 3], start, start + 3))
    return out


def _decode_escape(token: str) -> str:
    decoded = html.unescape(token)
    if decoded == token or len(decoded) != 1:
        return token
    mapped = decoded.translate(_TABLE) if not decoded.isascii() else decoded
    return mapped if mapped.isascii() and mapped.isprintable() else token


class Canonical:
    """A canonical text and, for each of its characters, the original span it came from.

    Example:
        >>> c = canonicalize("ada&#64;example.com AK\\u200bIA")
        >>> c.text
        'ada@example.com AKIA'
        >>> c.span(0, 15), c.span(16, 20)
        ((0, 19), (20, 25))
    """

    __slots__ = ("_ends", "_starts", "text")

    def __init__(self, text: str, starts: list[int] | None = None, ends: list[int] | None = None) -> None:
        self.text = text
        self._starts = starts
        self._ends = ends

    @property
    def identity(self) -> bool:
        """Whether the canonical text is the original itself."""
        return self._starts is None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the canonical span ``[start, end)``."""
        if self._starts is None or self._ends is None or start >= end:
            return start, end
        return self._starts[start], self._ends[end - 1]


def canonicalize(text: str, *, enabled: bool = True) -> Canonical:
    """The canonical form of ``text`` (see the module docstring); the identity when nothing changes.

    Example:
        >>> canonicalize("ｂｏ＠ｅｘａｍｐｌｅ．ｃｏｍ").text
        'bo@example.com'
    """
    if not enabled or (text.isascii() and "%" not in text and "&" not in text):
        if not enabled and _SURROGATE.search(text):  # the one change made with canonicalization off
            size = len(text)
            return Canonical(_SURROGATE.sub("\ufffd", text), list(range(size)), list(range(1, size + 1)))
        return Canonical(text)
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    changed = False
    for match in _CHANGES.finditer(text):
        token = match.group()
        base = match.start()
        if token[0] == "%":
            decoded = _decode_percent(token)
            if "".join(value for value, _, _ in decoded) == token:
                continue
            pieces = [(value, base + start, base + end) for value, start, end in decoded]
        elif token[0] == "&":
            replacement = _decode_escape(token)
            if replacement == token:
                continue
            pieces = [(replacement, match.start(), match.end())]
        else:
            translated = token.translate(_TABLE)
            if translated == token:
                continue
            pieces = [(char.translate(_TABLE), base + i, base + i + 1) for i, char in enumerate(token)]
        changed = True
        start = match.start()
        if position < start:
            parts.append(text[position:start])
            starts.extend(range(position, start))
            ends.extend(range(position + 1, start + 1))
        for value, origin_start, origin_end in pieces:
            if value:
                parts.append(value)
                starts.extend([origin_start] * len(value))
                ends.extend([origin_end] * len(value))
        position = match.end()
    if not changed:
        return Canonical(text)
    if position < len(text):
        parts.append(text[position:])
        starts.extend(range(position, len(text)))
        ends.extend(range(position + 1, len(text) + 1))
    return Canonical("".join(parts), starts, ends)


_BASE64_RUN: Final = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{24,8192}={0,2}(?![A-Za-z0-9+/=_\-])")
# Every run holds 24 base64 characters in a row: on an ASCII text's class copy, a plain substring search
# (the run pattern starts with a look-behind, which re tries at every position of prose).
_BASE64_CLASSES: Final = CharClasses({"b": re.compile(r"[A-Za-z0-9+/_\-]").fullmatch})
_BASE64_SHORTEST: Final = b"b" * 24


def base64_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, decoded)`` for each base64 (or base64url) run of 24 to 8192 characters in ``text``
    that decodes to printable UTF-8 text.

    Example:
        >>> import base64
        >>> encoded = base64.b64encode(b"password=hunter2-fake-canary").decode()
        >>> [(s, e, d) for s, e, d in base64_runs("blob " + encoded)]
        [(5, 45, 'password=hunter2-fake-canary')]
    """
    copy = _BASE64_CLASSES.copy(text)
    if copy is not None and _BASE64_SHORTEST not in copy:
        return
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        # A run of letters only (a long word, a hex digest) is not worth decoding.
        if run.isalpha() or run.isdigit():
            continue
        body = run.rstrip("=")
        padded = body + "=" * (-len(body) % 4)
        try:
            raw = (
                base64.urlsafe_b64decode(padded)
                if "-" in body or "_" in body
                else base64.b64decode(padded, validate=True)
            )
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if not decoded or sum(c.isprintable() or c in "\n\r\t" for c in decoded) < 0.95 * len(decoded):
            continue
        yield match.start(), match.end(), decoded
