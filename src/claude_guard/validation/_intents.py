"""The lexicon matcher's records and the small pure helpers it runs per finding (positions, merges,
the misspelling reason), apart from `LexiconMatcher` so that module holds the matching itself."""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # annotations only: _config imports the lexicon (lazily) for its languages
    from ._config import WorkMeter

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


def _find_across_breaks(
    text: str,
    meter: WorkMeter,
    found: dict[tuple[int, str, str], _Found],
    automaton: Any,
    entries: list[tuple[_Entry, ...]],
    bounded: tuple[bool, ...],
) -> None:
    """Scripts without spaces (Chinese, Japanese…) can be split mid-word across two content blocks; the
    joined text then has a line break inside the word. Read it once more without line breaks, adding to
    ``found`` the entries of languages without word boundaries whose match spans a break."""
    breaks = [index for index, char in enumerate(text) if char == "\n"] if text.count("\n") < 4096 else []
    if not breaks:
        return
    squeezed = text.replace("\n", "")
    shifted = [position - count for count, position in enumerate(breaks)]
    meter.scan("lexicon.breaks", len(squeezed))
    for key, start, end in _matches(automaton, squeezed):
        low = bisect.bisect_right(shifted, start)
        high = bisect.bisect_right(shifted, end - 1)
        if low == high:
            continue  # no break inside: the first pass saw it
        for entry in entries[key]:
            if entry.transform != "plain" or bounded[entry.language]:
                continue
            slot = found.setdefault((entry.language, entry.section, entry.role), _Found())
            slot.starts.append(start + low)
            slot.ends.append(end + high)


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
