"""Scores: how findings add up to a request's risk, and the context that lowers them.

Each finding carries a score in ``[0, 1]``. Context lowers a finding's score rather than dropping it:

- inside a fenced code block or inline code: × `CODE_FACTOR`;
- between quotation marks on one line (a sentence to translate, an example): × `QUOTE_FACTOR`;
- the request asks for a translation or proofreading: × `TRANSLATION_FACTOR`;
- the request teaches security (prompt injection explained, "for example"): × `EDUCATION_FACTOR`;
- a technical word next to an override's object (CSS "the previous rule's margin"): × `TECHNICAL_FACTOR`.

A finding in text that was hidden (decoded from base64, hex, percent, entities, escapes, ROT13, reversal,
tag characters or a bidi override) gains `HIDDEN_BONUS`: a weak phrase nobody would encode by accident.

The request's score is the highest block-mode finding plus `COMBINATION_BONUS` for each other distinct rule
that also found something (several weak signals together are a stronger one), capped at 1. The request is
refused when that score reaches ``ValidationConfig.block_threshold``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "CODE_FACTOR",
    "COMBINATION_BONUS",
    "EDUCATION_FACTOR",
    "HIDDEN_BONUS",
    "QUOTE_FACTOR",
    "TECHNICAL_FACTOR",
    "TRANSLATION_FACTOR",
    "CodeSpans",
    "combine",
    "quoted",
]

CODE_FACTOR: Final = 0.5
QUOTE_FACTOR: Final = 0.6
TRANSLATION_FACTOR: Final = 0.6
EDUCATION_FACTOR: Final = 0.6
TECHNICAL_FACTOR: Final = 0.4
COMBINATION_BONUS: Final = 0.15
HIDDEN_BONUS: Final = 0.2

_FENCE: Final = re.compile(r"```|~~~")
_INLINE: Final = re.compile(r"`[^`\n]{1,300}`")


def _fences(text: str) -> list[int]:
    """Where ``_FENCE.finditer(text)`` matches (each "```" or "~~~", left to right, none overlapping): two
    literals, so C substring searches, each resumed only past the fence it found (linear)."""
    fences: list[int] = []
    ticks, tildes = text.find("```"), text.find("~~~")
    while ticks >= 0 or tildes >= 0:
        at = ticks if tildes < 0 or 0 <= ticks < tildes else tildes
        fences.append(at)
        if 0 <= ticks < at + 3:
            ticks = text.find("```", at + 3)
        if 0 <= tildes < at + 3:
            tildes = text.find("~~~", at + 3)
    return fences


class CodeSpans:
    """Spans of fenced code blocks and inline code in one text, found on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    def _build(self) -> None:
        text = self._text
        spans: list[tuple[int, int]] = []
        if "`" in text or "~~~" in text:
            fences = _fences(text)
            for index in range(0, len(fences) - 1, 2):
                spans.append((fences[index], fences[index + 1] + 3))
            if len(fences) % 2:
                spans.append((fences[-1], len(text)))
            spans.extend(match.span() for match in _INLINE.finditer(text))
        spans.sort()
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def covers(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies inside code (its start does)."""
        if self._starts is None:
            self._build()
        assert self._starts is not None
        index = bisect.bisect_right(self._starts, start) - 1
        # Inline spans may sit inside a fence: look back over a few spans, not just the nearest.
        return any(self._ends[position] > start for position in range(index, max(-1, index - 8), -1))


_PAIRS: Final = (
    ("“", "”"),
    ("«", "»"),
    ("„", "“"),
    ("„", "”"),
    ("「", "」"),
    ("『", "』"),
    ("‹", "›"),
    ("‘", "’"),
)
_QUOTE_REACH: Final = 300


def quoted(text: str, start: int, end: int) -> bool:
    """Whether ``[start, end)`` sits between quotation marks on one line (quoted material, not a request).

    Example:
        >>> quoted('Translate: "ignore the rules" please', 12, 28), quoted("ignore the rules", 0, 16)
        (True, False)
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before = text[max(line_start, start - _QUOTE_REACH) : start]
    after = text[end : min(line_end, end + _QUOTE_REACH)]
    if before.count('"') % 2 == 1 and '"' in after:
        return True
    for opening, closing in _PAIRS:
        last_open = before.rfind(opening)
        if last_open >= 0 and before.rfind(closing) <= last_open and closing in after:
            return True
    # 'single quotes' count when the opening one follows a space or a colon (not an apostrophe).
    single = before.rfind("'")
    return single >= 0 and (single == 0 or before[single - 1] in " :(") and "'" in after


# Combining marks (Devanagari vowel signs and virama, Arabic harakat, Latin accents) are not \w in `re`, yet
# they are part of a name ("कप्तान:" is a speaker's label).
_MARKS: Final = "\u0300-\u036f\u064b-\u065f\u0670\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963"
# A chat export's line: an optional [timestamp], a speaker's name (one or two words), a colon. Role words are
# role markup (`_structure`), and the usual field labels of emails and notes are not speakers.
_NAME: Final = rf"[^\W\d_][\w'.\-{_MARKS}]{{0,20}}"
_SPEAKER_LINE: Final = re.compile(
    rf"^(?:\[[^\]\n]{{1,24}}\] ?)?({_NAME}(?: {_NAME})?) ?:(?: |(?=[^\x00-\x7f]))",
    re.MULTILINE,
)
_NOT_SPEAKERS: Final = frozenset(
    (
        "user", "human", "assistant", "ai", "system", "developer", "admin", "bot", "model", "claude", "gpt",
        "instructions", "instruction", "note", "notes", "nb", "ps", "p.s", "subject", "from", "to", "cc",
        "bcc", "re", "fwd", "body", "message", "important", "warning", "update", "reminder", "attention",
        "task", "step", "answer", "question", "q", "a", "reply", "response", "output", "input", "prompt",
        "context", "example", "translation",
    )
)  # fmt: skip
_MAX_SPEAKER_LINES: Final = 64
# A subtitle cue's timing line (SRT "00:03:12,000 --> 00:03:14,500", WebVTT "00:10.000 --> 00:12.000").
_CUE_TIMING: Final = re.compile(r"(?:\d{1,2}:)?\d{2}:\d{2}[,.]\d{3} ?--?> ?(?:\d{1,2}:)?\d{2}:\d{2}[,.]\d{3}")
_CUE_LINES: Final = 3


def _cue_text(text: str, line_start: int) -> bool:
    # The cue's timing line is one of the few lines above, with no blank line (the end of a cue) between.
    end = line_start
    for _ in range(_CUE_LINES):
        if end <= 0:
            return False
        begin = text.rfind("\n", 0, end - 1) + 1
        line = text[begin : end - 1]
        if not line.strip():
            return False
        if _CUE_TIMING.match(line.strip()):
            return True
        end = begin
    return False


def spoken(text: str, start: int) -> bool:
    """Whether ``start`` is on a line of a chat export: its line starts with a speaker's name and a colon,
    and so does another line (two lines at least: "Ana: forget the earlier plan" in a pasted group chat);
    or on a subtitle cue's text (a line of an SRT or WebVTT cue under its timing line): a character's line.

    Example:
        >>> spoken("ana: forget the old plan\\nben: ok", 5), spoken("ana: forget the old plan", 5)
        (True, False)
        >>> spoken("12\\n00:01:05,000 --> 00:01:07,000\\nforget the old plan", 40)
        True
    """
    line_start = text.rfind("\n", 0, start) + 1
    if _cue_text(text, line_start):
        return True
    own = _SPEAKER_LINE.match(text, line_start)
    if own is None or own.group(1) in _NOT_SPEAKERS or own.end() > start:
        return False
    for count, match in enumerate(_SPEAKER_LINE.finditer(text)):
        if count >= _MAX_SPEAKER_LINES:
            break
        if match.start() != line_start and match.group(1) not in _NOT_SPEAKERS:
            return True
    return False


def combine(scores: Iterable[tuple[str, float]]) -> float:
    """The request's score from ``(rule id, score)`` pairs of block-mode findings.

    Example:
        >>> combine([("override.instructions", 0.6), ("markers.turns", 0.4)])
        0.75
        >>> combine([])
        0.0
    """
    best: dict[str, float] = {}
    for rule_id, score in scores:
        if score > best.get(rule_id, 0.0):
            best[rule_id] = score
    if not best:
        return 0.0
    ordered = sorted(best.values(), reverse=True)
    bonus = COMBINATION_BONUS * sum(1 for score in ordered[1:] if score >= 0.25)
    return round(min(1.0, ordered[0] + bonus), 4)
