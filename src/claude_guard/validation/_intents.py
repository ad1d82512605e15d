"""The lexicon matcher's records and the small pure helpers it runs per finding (positions, merges,
the misspelling reason), apart from `LexiconMatcher` so that module holds the matching itself."""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["IntentFinding"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class IntentFinding:
    """One intent found in one text layer (positions in that layer's canonical text)."""

    rule_id: str
    score: float
    start: int
    end: int
    reasons: tuple[str, ...]
    language: str = ""
    verb: int = -1
    """Where the verb starts (quotation and code context are judged there), or -1."""
    addressed: bool = False
    """A word naming the model comes earlier on the verb's line: no technical or chat-line context lowers
    it."""


@dataclass(frozen=True, slots=True)
class _Entry:
    language: int
    section: str
    role: str
    stem: bool
    transform: str

    @property
    def slot(self) -> tuple[int, str, str]:
        return (self.language, self.section, self.role)


_Slot = tuple[int, str, str]
_Group = tuple[tuple[str, ...], tuple[_Slot, ...], tuple[_Slot, ...], tuple[_Slot, ...]]


@dataclass(slots=True)
class _Found:
    """Positions of one (language, section, role) in one layer."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


def _flat(text: str) -> str:
    # A phrase split across two content blocks has a line break where its space was; reading line breaks
    # as spaces keeps every offset (one character for one).
    return text.replace("\n", " ") if "\n" in text else text


def _typo_reason(finding: IntentFinding, repaired: list[tuple[int, int]]) -> IntentFinding:
    index = bisect.bisect_left(repaired, (finding.start, -1))
    if index and repaired[index - 1][1] > finding.start:
        index -= 1
    if index < len(repaired) and repaired[index][0] < finding.end:
        return dataclasses.replace(finding, reasons=(*finding.reasons, "typoglycemia"))
    return finding


def _matches(automaton: Any, text: str) -> list[tuple[int, int, int]]:
    """``(entry, start, end)`` of every overlapping match; a lone surrogate (valid JSON, not UTF-8) reads as
    U+FFFD, one character for one, so offsets stay."""
    try:
        found: list[tuple[int, int, int]] = automaton.find_matches_as_indexes(text, overlapping=True)
    except UnicodeEncodeError:
        found = automaton.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text), overlapping=True)
    return found


def _merge(first: _Found | None, second: _Found | None) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for slot in (first, second):
        if slot is not None:
            pairs.extend(zip(slot.starts, slot.ends, strict=True))
    # At one start, the longest entry first ("instructions" before the stem "instruct").
    pairs.sort(key=lambda pair: (pair[0], -pair[1]))
    return pairs


def _keep(best: dict[str, IntentFinding], finding: IntentFinding) -> None:
    current = best.get(finding.rule_id)
    if current is None or finding.score > current.score:
        best[finding.rule_id] = finding
