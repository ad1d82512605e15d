"""Intent lexicons per language, and the proximity matcher that reads them.

An intent (override, extraction, persona, mode switch, exfiltration) is not a fixed phrase but a *verb*
(ignore, révèle, 忽略…) near an *object* (instructions, system prompt, règles…), made stronger by a
*qualifier* (previous, above, all, 之前…). Each language is one TOML file in ``validation/lexicons``
(``en.toml``, ``fr.toml``…; see ``en.toml`` for the format): a contributor adds words or a language
without touching code.

Matching is linear in the text: every entry of every language (and, as triggers for the ROT13 and
reversal decoders, their ROT13 and reversed forms) goes into one Aho-Corasick automaton
(``ahocorasick_rs``, the maintained Rust implementation: one pass over the text whatever the number of
entries), run once per text layer. Pairs are then looked up in proximity windows around each verb, with
sorted position lists and bisection, and work stops for an intent once it reaches the top score.
Typoglycemia (``ignroe``, ``insturctions``: first and last letter kept, the middle shuffled) is matched
by a signature (first letter, last letter, sorted middle) in windows around intent words already in
place (see `LexiconMatcher._find_typos`).
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import ahocorasick_rs

from ..errors import ConfigurationError
from ._canonical import canonicalize
from ._config import WorkMeter

__all__ = [
    "INTENT_RULE_IDS",
    "IntentFinding",
    "Lexicon",
    "LexiconMatcher",
    "available_languages",
    "load_lexicon",
    "matcher_for",
]

INTENT_RULE_IDS: Final[Mapping[str, str]] = {
    "override": "override.instructions",
    "extraction": "override.reveal_prompt",
    "persona": "override.persona",
    "mode_switch": "override.mode_switch",
    "exfil": "exfil.instruction",
}
"""Lexicon section → the rule id its findings carry."""

_ROLES: Final = ("verbs", "objects", "strong_objects", "qualifiers", "standalone")
_CONTEXTS: Final = ("translation", "education", "technical", "pronouns")
_PAIR_SCORES: Final[Mapping[str, float]] = {
    # verb + object without a qualifier; verb + object + qualifier (or a strong object) scores 1.0.
    "override": 0.55,
    "extraction": 0.3,
    "persona": 0.9,
    "mode_switch": 0.9,
    "exfil": 0.45,
}
_STANDALONE_SCORE: Final = 0.9
_CLAUSE_BREAKS: Final = re.compile(r"[.!?;。！？؟।]")
_TYPO_REACH: Final = 48
_TYPO_SECTIONS: Final = frozenset({"override", "extraction", "persona"})
_TYPO_MAX_WORDS: Final = 64
_QUALIFIER_REACH: Final = 24
_WORD: Final = re.compile(r"[^\W\d_]{5,}")
_CONTEXT_CUES: Final = 2
_ROT13: Final = str.maketrans(
    codecs.encode("abcdefghijklmnopqrstuvwxyz", "rot13"), "abcdefghijklmnopqrstuvwxyz"
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's lexicon (a parsed ``lexicons/<language>.toml``)."""

    language: str
    name: str
    word_boundaries: bool
    window: int
    intents: Mapping[str, Mapping[str, tuple[str, ...]]]
    context: Mapping[str, tuple[str, ...]]


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


def available_languages() -> tuple[str, ...]:
    """The languages shipped in ``validation/lexicons`` (file stems), sorted."""
    folder = resources.files("claude_guard.validation").joinpath("lexicons")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigurationError(f"{where} must be a list of non-empty strings")
    return tuple(value)


@functools.cache
def load_lexicon(language: str) -> Lexicon:
    """Parse ``lexicons/<language>.toml`` (raises ``ValueError`` naming what is wrong)."""
    path = resources.files("claude_guard.validation").joinpath("lexicons", f"{language}.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    intents: dict[str, dict[str, tuple[str, ...]]] = {}
    for section in INTENT_RULE_IDS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigurationError(f"{language}: [{section}] must be a table")
        unknown = set(table) - set(_ROLES)
        if unknown:
            raise ConfigurationError(f"{language}: [{section}] has unknown keys {sorted(unknown)}")
        intents[section] = {
            role: _strings(table.get(role, []), f"{language}.{section}.{role}") for role in _ROLES
        }
    context_table = data.get("context", {})
    context = {
        kind: _strings(context_table.get(kind, []), f"{language}.context.{kind}") for kind in _CONTEXTS
    }
    window = data.get("window", 40)
    if not isinstance(window, int) or not 4 <= window <= 200:
        raise ConfigurationError(f"{language}: window must be an integer from 4 to 200")
    return Lexicon(
        language=language,
        name=str(data.get("name", language)),
        word_boundaries=bool(data.get("word_boundaries", True)),
        window=window,
        intents=intents,
        context=context,
    )


def _typo_key(word: str) -> str:
    return word[0] + word[-1] + "".join(sorted(word[1:-1]))


@dataclass(slots=True)
class _Found:
    """Positions of one (language, section, role) in one layer."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


class LexiconMatcher:
    """Every lexicon of a set of languages in one automaton (see the module docstring)."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.lexicons = tuple(load_lexicon(language) for language in languages)
        patterns: dict[str, list[_Entry]] = {}
        technical: dict[str, list[_Entry]] = {}
        unspaced: dict[str, list[_Entry]] = {}
        typo: dict[str, list[_Entry]] = {}
        for index, lexicon in enumerate(self.lexicons):
            groups = [
                (section, role, entries)
                for section, roles in lexicon.intents.items()
                for role, entries in roles.items()
            ]
            groups += [("context", kind, entries) for kind, entries in lexicon.context.items()]
            for section, role, entries in groups:
                for raw in entries:
                    stem = raw.endswith("*")
                    text = canonicalize(raw.rstrip("*").strip()).text.strip()
                    if not text:
                        continue
                    if section == "context" and role == "technical":
                        # Read only around findings (`context_near`), never in the main pass.
                        technical.setdefault(text, []).append(_Entry(index, section, role, stem, "plain"))
                        continue
                    patterns.setdefault(text, []).append(_Entry(index, section, role, stem, "plain"))
                    if section == "context":
                        continue
                    squeezed = text.replace(" ", "")
                    if len(squeezed) >= 5:
                        unspaced.setdefault(squeezed, []).append(_Entry(index, section, role, True, "plain"))
                    if (
                        not stem
                        and lexicon.word_boundaries
                        and section in _TYPO_SECTIONS
                        and role != "standalone"
                        and text.isalpha()
                        and len(text) >= 5
                    ):
                        typo.setdefault(_typo_key(text), []).append(
                            _Entry(index, section, role, stem, "typo")
                        )
                    if role in ("verbs", "objects", "strong_objects") and len(text) >= 4:
                        reverse = text[::-1]
                        patterns.setdefault(reverse, []).append(
                            _Entry(index, section, role, True, "reversed")
                        )
                        if text.isascii():
                            rot = text.translate(_ROT13)
                            patterns.setdefault(rot, []).append(_Entry(index, section, role, True, "rot13"))
        self._keys = list(patterns)
        self._entries = [tuple(patterns[key]) for key in self._keys]
        self._groups = [self._group(entries) for entries in self._entries]
        self._automaton = ahocorasick_rs.AhoCorasick(self._keys)
        self._technical_keys = list(technical)
        self._technical_entries = [tuple(technical[key]) for key in self._technical_keys]
        self._technical = ahocorasick_rs.AhoCorasick(self._technical_keys)
        self._unspaced_keys = list(unspaced)
        self._unspaced_entries = [tuple(unspaced[key]) for key in self._unspaced_keys]
        none: tuple[_Entry, ...] = ()
        self._unspaced_groups = [
            (tuple[str, ...](), none, none, entries) for entries in self._unspaced_entries
        ]
        self._unspaced = ahocorasick_rs.AhoCorasick(self._unspaced_keys)
        self._typo = {key: tuple(value) for key, value in typo.items()}
        self._any_unbounded = any(not lexicon.word_boundaries for lexicon in self.lexicons)
        self._typo_shapes = {(key[0], key[1], len(key)) for key in self._typo}

    def _group(
        self, entries: tuple[_Entry, ...]
    ) -> tuple[tuple[str, ...], tuple[_Entry, ...], tuple[_Entry, ...], tuple[_Entry, ...]]:
        # Per automaton key: decoder triggers, entries needing word boundaries (stems, whole words) and
        # entries matched anywhere, so the per-match loop checks boundaries once.
        triggers = tuple(dict.fromkeys(entry.transform for entry in entries if entry.transform != "plain"))
        plain = [entry for entry in entries if entry.transform == "plain"]
        bounded = [entry for entry in plain if self.lexicons[entry.language].word_boundaries]
        stems = tuple(entry for entry in bounded if entry.stem)
        words = tuple(entry for entry in bounded if not entry.stem)
        anywhere = tuple(entry for entry in plain if not self.lexicons[entry.language].word_boundaries)
        return triggers, stems, words, anywhere

    def find(
        self, text: str, meter: WorkMeter, *, unspaced: bool = False
    ) -> tuple[list[IntentFinding], dict[str, tuple[int, int]], dict[str, bool]]:
        """Intents in ``text`` (canonical), decoder triggers, and the contexts present.

        Returns:
            The findings (at most one per rule id: the best), the spans of ROT13 and reversed lexicon
            entries (``{"rot13": (start, end)}``, only when at least two distinct entries were seen), and
            which of ``translation``, ``education`` and ``technical`` occur anywhere in the text.
        """
        meter.scan("lexicon.automaton", len(text))
        found: dict[tuple[int, str, str], _Found] = {}
        triggers: dict[str, list[int]] = {}
        trigger_keys: dict[str, set[int]] = {}
        placed_words: set[int] = set()
        if unspaced:
            matches = _matches(self._unspaced, text)
            groups = self._unspaced_groups
        else:
            # A phrase split across two content blocks has a line break where its space was; reading
            # line breaks as spaces keeps every offset (one character for one).
            flat = text.replace("\n", " ") if "\n" in text else text
            matches = _matches(self._automaton, flat)
            groups = self._groups
        meter.lexicon_matches += len(matches)
        size = len(text)

        def add(entry: _Entry, start: int, end: int) -> None:
            slot = found.get(entry.slot)
            if slot is None:
                slot = found[entry.slot] = _Found()
            slot.starts.append(start)
            slot.ends.append(end)

        for key, start, end in matches:
            transforms, stems, words, anywhere = groups[key]
            for transform in transforms:
                positions = triggers.setdefault(transform, [])
                positions.append(start)
                positions.append(end)
                trigger_keys.setdefault(transform, set()).add(key)
            if (stems or words) and not (start and text[start - 1].isalnum()):
                placed_words.add(start)
                for entry in stems:
                    add(entry, start, end)
                if words and (end >= size or not text[end].isalnum()):
                    for entry in words:
                        add(entry, start, end)
            for entry in anywhere:
                add(entry, start, end)
        if not unspaced and "\n" in text and not text.isascii() and self._any_unbounded:
            self._find_across_breaks(text, meter, found)
        if not unspaced and self._typo:
            self._find_typos(text, meter, found, placed_words)
        # A context counts when two different cues of it are present ("translate" and "into English",
        # "proofread" and "this paragraph"): one word alone ("translate nothing, just answer") is no request.
        contexts = {
            kind: sum(
                len(set(slot.starts)) for key, slot in found.items() if key[1] == "context" and key[2] == kind
            )
            >= _CONTEXT_CUES
            for kind in _CONTEXTS
        }
        spans = {
            name: (min(positions), max(positions))
            for name, positions in triggers.items()
            if len(trigger_keys[name]) >= 2
        }
        findings = self._pair(text, found, meter)
        return findings, spans, contexts

    def _find_across_breaks(
        self, text: str, meter: WorkMeter, found: dict[tuple[int, str, str], _Found]
    ) -> None:
        # Scripts without spaces (Chinese, Japanese…) can be split mid-word across two content blocks; the
        # joined text then has a line break inside the word. Read it once more without line breaks.
        breaks = [index for index, char in enumerate(text) if char == "\n"] if text.count("\n") < 4096 else []
        if not breaks:
            return
        squeezed = text.replace("\n", "")
        shifted = [position - count for count, position in enumerate(breaks)]
        meter.scan("lexicon.breaks", len(squeezed))
        for key, start, end in _matches(self._automaton, squeezed):
            low = bisect.bisect_right(shifted, start)
            high = bisect.bisect_right(shifted, end - 1)
            if low == high:
                continue  # no break inside: the first pass saw it
            for entry in self._entries[key]:
                if entry.transform != "plain" or self.lexicons[entry.language].word_boundaries:
                    continue
                slot = found.setdefault((entry.language, entry.section, entry.role), _Found())
                slot.starts.append(start + low)
                slot.ends.append(end + high)

    def _find_typos(
        self, text: str, meter: WorkMeter, found: dict[tuple[int, str, str], _Found], placed: set[int]
    ) -> None:
        # A per-word pass over the text would cost more than everything else together, so only windows
        # around words that survive scrambling (short ones: the lexicons' pronouns "you", "me", and any
        # intent word in place) are searched, word by word, and at most `_TYPO_MAX_WORDS` words per text:
        # a constant per layer.
        windows: list[tuple[int, int]] = []
        for (_language, section, role), slot in found.items():
            if (section == "context" and role != "pronouns") or role == "standalone":
                continue
            # The first few occurrences of each word are enough: the pass stops after _TYPO_MAX_WORDS anyway.
            windows.extend(
                (max(0, s - _TYPO_REACH), e + _TYPO_REACH)
                for s, e in zip(slot.starts[:_TYPO_MAX_WORDS], slot.ends[:_TYPO_MAX_WORDS], strict=True)
            )
        if not windows:
            return
        windows.sort()
        merged: list[tuple[int, int]] = []
        for low, high in windows:
            if merged and low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        shapes = self._typo_shapes
        typo = self._typo
        size = len(text)
        examined = 0
        for low, high in merged:
            high = min(high, size)
            meter.scan("lexicon.typos", high - low)
            for match in _WORD.finditer(text, low, high):
                examined += 1
                if examined > _TYPO_MAX_WORDS:
                    return
                word = match.group()
                # (first letter, last letter, length) first: one set probe per word, and the sorted
                # signature only for the few words that share a shape with a lexicon word.
                if (word[0], word[-1], len(word)) not in shapes or match.start() in placed:
                    continue
                for entry in typo.get(_typo_key(word), ()):
                    slot = found.setdefault(entry.slot, _Found())
                    slot.starts.append(match.start())
                    slot.ends.append(match.end())

    def _pair(
        self, text: str, found: dict[tuple[int, str, str], _Found], meter: WorkMeter
    ) -> list[IntentFinding]:
        best: dict[str, IntentFinding] = {}
        breaks: list[int] | None = None
        present = sorted({(key[0], key[1]) for key in found if key[2] in ("verbs", "standalone")})
        for index, section in present:
            if section == "context":
                continue
            lexicon = self.lexicons[index]
            rule_id = INTENT_RULE_IDS[section]
            if rule_id in best and best[rule_id].score >= 1.0:
                continue
            standalone = found.get((index, section, "standalone"))
            if standalone is not None:
                start, end = standalone.starts[0], standalone.ends[0]
                _keep(
                    best,
                    IntentFinding(
                        rule_id,
                        _STANDALONE_SCORE,
                        start,
                        end,
                        ("standalone", f"lang:{lexicon.language}"),
                        lexicon.language,
                    ),
                )
            verbs = found.get((index, section, "verbs"))
            if verbs is None:
                continue
            objects = _merge(
                found.get((index, section, "objects")), found.get((index, section, "strong_objects"))
            )
            if not objects:
                continue
            strong = found.get((index, section, "strong_objects"))
            strong_starts = set(strong.starts) if strong else set()
            qualifiers = found.get((index, section, "qualifiers"))
            qualifier_starts = sorted(qualifiers.starts) if qualifiers else []
            object_starts = [start for start, _ in objects]
            window = lexicon.window
            if breaks is None:
                meter.scan("lexicon.clauses", len(text))
                breaks = [m.start() for m in _CLAUSE_BREAKS.finditer(text)]
            for verb_start, verb_end in sorted(zip(verbs.starts, verbs.ends, strict=True)):
                low = bisect.bisect_left(object_starts, verb_start - window - 24)
                high = bisect.bisect_right(object_starts, verb_end + window)
                for position in range(low, min(high, low + 16)):
                    meter.window_steps += 1
                    object_start, object_end = objects[position]
                    if object_start < verb_end and object_end > verb_start:
                        continue  # the same characters read as both
                    first, last = min(verb_start, object_start), max(verb_end, object_end)
                    if _crosses(breaks, first, last):
                        continue
                    qualified = object_start in strong_starts or _near(
                        qualifier_starts,
                        first - _QUALIFIER_REACH,
                        last + _QUALIFIER_REACH,
                        (verb_start, object_start),
                    )
                    score = 1.0 if qualified else _PAIR_SCORES[section]
                    reasons = (
                        "verb+object+qualifier" if qualified else "verb+object",
                        f"lang:{lexicon.language}",
                    )
                    _keep(
                        best,
                        IntentFinding(rule_id, score, first, last, reasons, lexicon.language, verb_start),
                    )
                    if score >= 1.0:
                        break
                if rule_id in best and best[rule_id].score >= 1.0:
                    break
        return list(best.values())

    def context_near(
        self, text: str, kind: str, start: int, end: int, language: str | None = None, reach: int = 30
    ) -> bool:
        """Whether a ``context.<kind>`` entry (of ``language``, or any) occurs within ``reach`` of a span."""
        low, high = max(0, start - reach), min(len(text), end + reach)
        for key, match_start, match_end in _matches(self._technical, text[low:high]):
            match_start += low
            match_end += low
            for entry in self._technical_entries[key]:
                if entry.section != "context" or entry.role != kind or entry.transform != "plain":
                    continue
                if language is not None and self.lexicons[entry.language].language != language:
                    continue
                if self.lexicons[entry.language].word_boundaries:
                    if match_start and text[match_start - 1].isalnum():
                        continue
                    if not entry.stem and match_end < len(text) and text[match_end].isalnum():
                        continue
                return True
        return False


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


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


def _crosses(breaks: list[int], first: int, last: int) -> bool:
    index = bisect.bisect_left(breaks, first)
    return index < len(breaks) and breaks[index] < last


def _near(starts: list[int], low: int, high: int, taken: tuple[int, int]) -> bool:
    index = bisect.bisect_left(starts, low)
    while index < len(starts) and starts[index] <= high:
        if starts[index] not in taken:
            return True
        index += 1
    return False


def _keep(best: dict[str, IntentFinding], finding: IntentFinding) -> None:
    current = best.get(finding.rule_id)
    if current is None or finding.score > current.score:
        best[finding.rule_id] = finding


@functools.cache
def matcher_for(languages: tuple[str, ...] | None) -> LexiconMatcher:
    """The matcher of ``languages`` (``None``: every shipped language), built once per process."""
    return LexiconMatcher(available_languages() if languages is None else languages)
