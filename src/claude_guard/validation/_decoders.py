"""Decoders: each turns a suspicious run of text into candidate text that the validator rescans.

Three families, by what they read:

- *encoded runs* of the text with invisible characters stripped: base64 (standard and URL-safe, also wrapped
  across lines), hex (``69676e``, ``0x69 0x67``, ``69:67``, ``69 67``), percent-encoding, HTML entities,
  ``\\uXXXX`` / ``\\xXX`` escapes, and letters spaced or dotted one by one (``i g n o r e``, ``i.g.n.o.r.e``);
- the *raw* text: Unicode tag characters (U+E0020–E007E carry ASCII invisibly), bidi overrides (text
  between U+202E and U+202C is shown reversed, so it is read reversed), and zero-width characters used as
  word separators (read as spaces);
- the *canonical* text, when the lexicon matcher saw their traces: ROT13 and reversed text (the automaton
  also holds the ROT13 and reversed form of every entry), and leetspeak digits (``1gn0r3``) folded to
  letters.

Run finding is linear: a run's characters are mapped to one byte per class (``bytes.translate``) and the runs
found with literal or single-class searches over those bytes. A decoder never gives up a whole run because
one byte is odd: base64 is decoded leniently (characters outside the alphabet skipped, a dangling last
character dropped), hex drops an odd last digit, bytes that are not UTF-8 become U+FFFD, and a candidate is
kept when at least nine tenths of it is printable. The validator bounds the depth and the total size of
what decoders produce (`ValidationConfig.decode_depth`, four times the prompt in all).
"""

from __future__ import annotations

import binascii
import html
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ._config import WorkMeter
from ._invisible import _first_strippable, _strippable_in

__all__ = ["Candidate", "canonical_candidates", "encoded_runs", "raw_candidates"]

_MIN_DECODED_CHARS: Final = 8
_NON_PRINTABLE: Final = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_LETTER: Final = re.compile(r"[^\W\d_]")

Space = Literal["stripped", "raw", "canonical"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """Decoded text to rescan, and where it came from.

    Attributes:
        decoder: The decoder's name (``base64``, ``rot13``…), which becomes the layer name.
        start: Where the run starts, in the coordinates of ``space``.
        end: Where it ends.
        text: The decoded text.
        space: ``stripped`` (invisible characters removed), ``raw`` or ``canonical`` coordinates.
        unspaced: The decoded words run together (letters spaced one by one without word gaps): the
            lexicon is then matched without word boundaries.
        words_only: Only the lexicon reads it: a reading of visible text that can hide words but no
            markup, URL or encoding (leetspeak).
    """

    decoder: str
    start: int
    end: int
    text: str
    space: Space
    unspaced: bool = False
    words_only: bool = False
    reading: bool = False
    """A reading of mostly visible text (escapes inside words): its findings get no hidden bonus."""


def _printable(text: str) -> str | None:
    if len(text) < _MIN_DECODED_CHARS or len(_NON_PRINTABLE.findall(text)) > len(text) // 10:
        return None
    if _LETTER.search(text) is None:
        return None
    return text


def _text_of(data: bytes) -> str | None:
    return _printable(data.decode("utf-8", errors="replace"))


def _mask(chars: str, hit: bytes, miss: bytes, extra: Mapping[str, bytes] | None = None) -> bytes:
    """A ``bytes.translate`` table: bytes of ``chars`` → ``hit``, the rest → ``miss``.

    Run finding works on ``text.encode("ascii", "replace")`` (one byte per character, every non-ASCII
    character a ``?``) translated through such a table, so it becomes a literal search (``re``'s fast
    prefix scan) instead of a character class tried at every position.
    """
    table = bytearray(miss * 256)
    for char in chars:
        table[ord(char)] = hit[0]
    for char, value in (extra or {}).items():
        table[ord(char)] = value[0]
    return bytes(table)


_ALNUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# base64 (both alphabets); line breaks may wrap it.
_BASE64_MASK: Final = _mask(_ALNUM + "+/=_-", b"a", b" ", {"\n": b"n", "\r": b"n"})
# hex digits, the x of 0x, and separators.
# A line break separates too: hex split across two content blocks is one run of the joined text.
_HEX_MASK: Final = _mask("0123456789ABCDEFabcdefxX", b"h", b" ", dict.fromkeys(",:- \t\r\n", b"s"))
# Plain hex, and hex in groups of any size (1, 2, 3, 4, 5 or more digits) with one or two separators.
_HEX_SEEDS: Final = (
    b"hhhhhhhhhhhhhhhh",
    b"hshshshshshshshsh",
    b"hhshhshhshhsh",
    b"hhsshhsshhss",
    b"hhhshhhshhhsh",
    b"hhhsshhhsshhh",
    b"hhhhshhhhshhhh",
    b"hhhhsshhhhsshhhh",
    b"hhhhhshhhhh",
    b"hhhhhsshhhhh",
)
_HEX_SEPARATORS: Final = b",:- \t\r\n"
"""The characters `_HEX_MASK` maps to ``s``: a run is hex digits and these, between other characters."""
_HEX_GATE: Final = b"h" * 16
"""Sixteen hex characters with only separators between them: every hex run the decoder reads holds this
once its separators are deleted (see `_hex_possible`)."""
_HEX_DIGITS: Final = re.compile(r"[^0-9A-Fa-f]")
_HEX_PREFIX: Final = re.compile(r"(?<![0-9A-Fa-f])0[xX]")
_HEX_SPLIT: Final = re.compile(r"[ ,:\-\t\r\n]+")
# percent, entities and backslash escapes.
_ESCAPE_MASK: Final = _mask(_ALNUM + "#;+._~-", b"a", b" ", {"%": b"p", "&": b"p", "\\": b"p"})
_UNICODE_ESCAPE: Final = re.compile(r"\\u\{?([0-9A-Fa-f]{4,6})\}?|\\U([0-9A-Fa-f]{8})|\\x([0-9A-Fa-f]{2})")
# letters spaced or dotted one by one.
# Letters, "?" (every non-ASCII character after ``encode("ascii", "replace")``: é, ł, ж…) and the
# punctuation that ends a word ("instructions ,") count as letters; the separators between them as "s".
_SPACED_MASK: Final = _mask(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz?,;:!'\"", b"a", b"x", dict.fromkeys(" .-_*|/", b"s")
)
_SPACED_RUN: Final = re.compile(rb"(?:as{1,3}){4,}a")
_SEPARATORS: Final = re.compile(r"[ .\-_*|/]+")


def _decode_base64(run: str) -> str | None:
    core = "".join(run.split()).rstrip("=")
    if "-" in core or "_" in core:
        core = core.replace("-", "+").replace("_", "/")
    core = core[: len(core) - len(core) % 4] if len(core) % 4 == 1 else core
    try:
        return _text_of(binascii.a2b_base64(core + "=" * (-len(core) % 4), strict_mode=False))
    except (binascii.Error, ValueError):
        return None


def _decode_hex(run: str) -> str | None:
    # Tokens between separators; the most common token length is the group size (2 for "69 67", 4 for
    # "6967 6e6f", 1 for "6 9 6 7"). Groups of even size keep every even token, so a stray token beside
    # them ("data: 69 …", "a" is a hex digit) is dropped instead of shifting every byte; odd groups are
    # joined from their first full group; plain hex (long tokens, maybe split by a line break: two content
    # blocks) joins its long tokens.
    tokens = [token for token in _HEX_SPLIT.split(_HEX_PREFIX.sub("", run)) if token]
    if not tokens:
        return None
    lengths = Counter(len(token) for token in tokens)
    group = max(lengths, key=lambda size: (lengths[size], size))
    if group >= 8:
        digits = "".join(token for token in tokens if len(token) >= 8)
    elif group % 2 == 0:
        digits = "".join(token for token in tokens if len(token) % 2 == 0)
    else:
        first = next(index for index, token in enumerate(tokens) if len(token) == group)
        digits = "".join(tokens[first:])
    digits = _HEX_DIGITS.sub("", digits)
    if len(digits) < 16:
        return None
    return _text_of(bytes.fromhex(digits[: len(digits) - len(digits) % 2]))


def _decode_percent(run: str) -> str | None:
    if run.count("%") < 3:
        return None
    decoded = urllib.parse.unquote(run.replace("+", " "), errors="replace")
    return _printable(decoded) if decoded != run else None


def _decode_entities(run: str) -> str | None:
    if run.count("&") < 3:
        return None
    decoded = html.unescape(run)
    return _printable(decoded) if decoded != run else None


def _decode_escapes(run: str) -> str | None:
    if run.count("\\") < 3:
        return None
    pieces: list[str] = []
    pending = bytearray()
    position = 0
    for match in _UNICODE_ESCAPE.finditer(run):
        if match.start() > position:
            if pending:
                pieces.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            pieces.append(run[position : match.start()])
        code, wide, byte = match.groups()
        if byte is not None:
            pending.append(int(byte, 16))
        else:
            if pending:
                pieces.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            value = int(code or wide, 16)
            pieces.append(chr(value) if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd")
        position = match.end()
    if pending:
        pieces.append(pending.decode("utf-8", errors="replace"))
    pieces.append(run[position:])
    decoded = "".join(pieces)
    return _printable(decoded) if decoded != run else None


def _join_spaced(run: str) -> tuple[str, bool]:
    # The separator used most between single letters joins a word's letters; a longer gap, or another
    # separator (the space between dotted words "i.g.n.o.r.e a.l.l"), splits words.
    pieces = [piece for piece in re.split(r"([ .\-_*|/]+)", run) if piece]
    joiners: dict[str, int] = {}
    for piece in pieces:
        if len(piece) == 1 and _SEPARATORS.fullmatch(piece):
            joiners[piece] = joiners.get(piece, 0) + 1
    joiner = max(joiners, key=lambda key: joiners[key]) if joiners else " "
    words: list[str] = []
    current: list[str] = []
    gaps = 0
    for piece in pieces:
        if _SEPARATORS.fullmatch(piece):
            if piece != joiner:
                gaps += 1
                words.append("".join(current))
                current = []
            continue
        current.append(piece)
    words.append("".join(current))
    return " ".join(word for word in words if word), gaps == 0


def _next(mask: bytes, stops: tuple[bytes, ...], position: int) -> int:
    """The first index at or after ``position`` holding one of ``stops`` (``len(mask)`` when none)."""
    best = len(mask)
    for stop in stops:
        index = mask.find(stop, position, best)
        if index >= 0:
            best = index
    return best


def _seeded_runs(
    mask: bytes, seeds: tuple[bytes, ...], stops: tuple[bytes, ...]
) -> Iterator[tuple[int, int]]:
    """Runs of ``mask`` between ``stops`` bytes that contain one of ``seeds``; C substring searches only.

    Each search starts where the previous run ended, so the whole scan is one pass over ``mask`` per seed
    and stop byte.
    """
    position = 0
    size = len(mask)
    while position < size:
        found = _next(mask, seeds, position)
        if found >= size:
            return
        start = max(mask.rfind(stop, position, found) for stop in stops) + 1
        start = max(start, position)
        end = _next(mask, stops, found)
        yield start, end
        position = end + 1


def _total(decoder: Callable[[str], str | None], run: str) -> str | None:
    """A decoder made total: a run it cannot decode (a lone surrogate, any malformed encoding) is not an
    encoded text, never an error of the request."""
    try:
        return decoder(run)
    except (ValueError, UnicodeError, OverflowError):
        return None


_SHORTEST_RUN: Final = 8
"""No encoded run is shorter: base64 needs ``min_encoded_length`` (8 at least), hex 16 characters, escapes 12,
spaced letters 9."""


def _hex_possible(ascii_bytes: bytes) -> bool:
    """Whether ``ascii_bytes`` can hold a hex run the decoder reads: sixteen hex characters with nothing
    but separators between them.

    A run is a stretch of the hex mask without a ``" "`` (a character that is neither a hex character nor a
    separator), and it is decoded only when it holds sixteen ``h``; deleting the separators makes those
    sixteen consecutive. One ``bytes.translate`` and one substring search, instead of the ten seed searches
    of `_seeded_runs`, rule out prose (whose words of only a-f letters are short and few).
    """
    return _HEX_GATE in ascii_bytes.translate(_HEX_MASK, _HEX_SEPARATORS)


def encoded_runs(stripped: str, minimum: int, meter: WorkMeter) -> Iterator[Candidate]:
    """Candidates from encoded runs of ``stripped`` (text without invisible characters)."""
    if len(stripped) < _SHORTEST_RUN:
        return
    ascii_bytes = stripped.encode("ascii", "replace")
    meter.scan("decode.base64", len(stripped))
    mask = ascii_bytes.translate(_BASE64_MASK)
    seed = b"a" * minimum
    position = 0
    while (found := mask.find(seed, position)) >= 0:
        end = _next(mask, (b" ", b"n"), found)
        # A wrapped run goes on after a line break when the next line is base64 too.
        while end < len(mask) and mask[end : end + 1] == b"n":
            following = end + 1 + (mask[end + 1 : end + 2] == b"n")
            if mask[following : following + 4] != b"aaaa":
                break
            end = _next(mask, (b" ", b"n"), following)
        decoded = _total(_decode_base64, stripped[found:end])
        if decoded is not None:
            yield Candidate("base64", found, end, decoded, "stripped")
        position = end
    meter.scan("decode.hex", len(stripped))
    mask = ascii_bytes.translate(_HEX_MASK) if _hex_possible(ascii_bytes) else b""
    for start, end in _seeded_runs(mask, _HEX_SEEDS, (b" ",)):
        # Sixteen digits at least (a timestamp "2024-01-02 10:00:00" has fourteen).
        if mask.count(b"h", start, end) >= 16:
            decoded = _total(_decode_hex, stripped[start:end])
            if decoded is not None:
                yield Candidate("hex", start, end, decoded, "stripped")
    if "%" in stripped or "&" in stripped or "\\" in stripped:
        meter.scan("decode.escapes", len(stripped))
        mask = ascii_bytes.translate(_ESCAPE_MASK)
        # Every escape is its marker and two characters or more ("%69", "&#103;", "\\u0069").
        for start, end in _seeded_runs(mask, (b"paa",), (b" ",)):
            if end - start < 12 or mask.count(b"p", start, end) < 3:
                continue
            run = stripped[start:end]
            for name, decoder in (
                ("percent", _decode_percent),
                ("entities", _decode_entities),
                ("escapes", _decode_escapes),
            ):
                decoded = _total(decoder, run)
                if decoded is not None:
                    yield Candidate(name, start, end, decoded, "stripped")
    meter.scan("decode.spaced", len(stripped))
    mask = ascii_bytes.translate(_SPACED_MASK)
    position = 0
    while (seed_at := mask.find(b"asasasasa", position)) >= 0:
        # Back to the start of the run (short words before the first long one: "d r o p   t h e …").
        floor = seed_at - 512
        while seed_at > max(position, floor, 0) and mask[seed_at - 1] in b"as":
            seed_at -= 1
        while mask[seed_at : seed_at + 1] == b"s":
            seed_at += 1
        extent = _SPACED_RUN.match(mask, seed_at)
        end = extent.end() if extent else seed_at + 9
        joined, unspaced = _join_spaced(stripped[seed_at:end])
        if len(joined) >= _MIN_DECODED_CHARS:
            yield Candidate("spaced", seed_at, end, joined, "stripped", unspaced=unspaced)
        position = end


_TAG_RUN: Final = re.compile("[\U000e0020-\U000e007e]{4,}")
_TAG_CHAR: Final = re.compile("[\U000e0020-\U000e007e]")
_BIDI_OVERRIDE: Final = re.compile("\u202e([^\u202c\u2069\n]{4,2000})")
_BETWEEN_LETTERS: Final = re.compile(r"[^\W\d_]")


def raw_candidates(raw: str, meter: WorkMeter, *, has_invisible: bool | None = None) -> Iterator[Candidate]:
    """Candidates hidden in ``raw`` by invisible characters: tag text, bidi overrides, zero-width gaps.

    ``has_invisible`` is whether ``raw`` holds a character `strip_invisible` drops, when the caller knows.
    """
    if raw.isascii() or has_invisible is False:
        # Tag characters and bidi overrides are invisible characters themselves.
        return
    if _TAG_CHAR.search(raw):
        meter.scan("decode.tags", len(raw))
        for match in _TAG_RUN.finditer(raw):
            smuggled = _printable("".join(chr(ord(char) - 0xE0000) for char in match.group()))
            if smuggled is not None:
                yield Candidate("tags", match.start(), match.end(), smuggled, "raw")
    if "\u202e" in raw:
        meter.scan("decode.bidi", len(raw))
        for match in _BIDI_OVERRIDE.finditer(raw):
            shown = match.group(1)[::-1]
            if _printable(shown) is not None:
                yield Candidate("bidi", match.start(), match.end(), shown, "raw")
    first = _first_strippable(raw)
    if first is not None:
        meter.scan("decode.zero_width", len(raw))
        spaced = _strippable_in(raw).sub(" ", raw)
        if spaced != raw and _BETWEEN_LETTERS.search(spaced):
            yield Candidate("zero_width", first.start(), len(raw), spaced, "raw")


_ROT13: Final = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)
_LEET: Final = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "|": "l",
        "!": "i",
        "+": "t",
    }
)
# Each alternative starts with the digit class, so ``re`` skips to digits with its fast charset scan.
_LEET_TRACE: Final = re.compile(r"[013457@$](?:(?<=[a-z].)(?=[a-z])|(?<![a-z0-9].)(?=[a-z]{2}))")
_LEET_TRACE_CHARS: Final = "013457@$"
"""The characters a trace starts with (the class that starts `_LEET_TRACE`)."""
_LEET_MASK: Final = _mask(_LEET_TRACE_CHARS, b"d", b" ", dict.fromkeys("abcdefghijklmnopqrstuvwxyz", b"l"))
_LEET_L: Final = str.maketrans({**{chr(k): v for k, v in _LEET.items()}, "1": "l"})
_LEET_TRACES_NEEDED: Final = 2
_TRIGGER_REACH: Final = 256


def _leet_traces(text: str, limit: int) -> list[int]:
    """Where the first ``limit`` matches of `_LEET_TRACE` start (those of ``finditer``).

    A trace is one of `_LEET_TRACE_CHARS` followed by a letter a-z (both alternatives look ahead to one):
    those pairs are found with a C substring search over a one-byte-per-character mask, and the pattern is
    tried only where one starts, instead of its class scan of every character (most texts have no pair).
    """
    mask = text.encode("ascii", "replace").translate(_LEET_MASK)
    traces: list[int] = []
    position = mask.find(b"dl")
    while position >= 0 and len(traces) < limit:
        if _LEET_TRACE.match(text, position) is not None:
            traces.append(position)
        position = mask.find(b"dl", position + 1)
    return traces


def canonical_candidates(
    text: str, triggers: Mapping[str, tuple[int, int]], layer: str, meter: WorkMeter
) -> Iterator[Candidate]:
    """ROT13, reversed and leetspeak readings of ``text`` (canonical), where their traces were seen."""
    for name in ("rot13", "reversed") if triggers else ():
        span = triggers.get(name)
        if span is None or layer.endswith(name):
            continue
        start = max(0, span[0] - _TRIGGER_REACH)
        end = min(len(text), span[1] + _TRIGGER_REACH)
        piece = text[start:end]
        yield Candidate(
            name, start, end, piece.translate(_ROT13) if name == "rot13" else piece[::-1], "canonical"
        )
    if layer.endswith("leetspeak"):
        return
    meter.scan("decode.leetspeak", len(text))
    # The first two traces, as ``finditer`` finds them (each trace is one character, so the next search
    # starts right after it); most texts have none, and one failed search ends it.
    traces = _leet_traces(text, _LEET_TRACES_NEEDED)
    if len(traces) < _LEET_TRACES_NEEDED:
        return
    start = max(0, traces[0] - _TRIGGER_REACH)
    piece = text[start:]
    yield Candidate("leetspeak", start, len(text), piece.translate(_LEET), "canonical", words_only=True)
    if "1" in piece:
        # 1 stands for i (1gn0re) as often as for l (ru1es): read it both ways.
        yield Candidate("leetspeak", start, len(text), piece.translate(_LEET_L), "canonical", words_only=True)
