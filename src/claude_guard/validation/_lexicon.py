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
Misspellings (typoglycemia: ``ignroe``, ``insturctions``, the middle shuffled; and ordinary typos: two
letters swapped, one dropped or doubled, the first and last kept) are read by repairing them first: the
distinct words of the text are looked up by a signature (first letter, last letter, sorted middle) in
tables built from the lexicon words, and a text with a repaired word is matched once more as repaired
(see `LexiconMatcher.repair`), so phrases of repaired and intact words are found as written.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

import ahocorasick_rs

from ._canonical import canonicalize
from ._intents import (
    IntentFinding,
    _Entry,
    _find_across_breaks,
    _flat,
    _Found,
    _Group,
    _keep,
    _matches,
    _merge,
    _typo_reason,
)
from ._lexicon_data import _CONTEXTS, _NEAR_VERB, INTENT_RULE_IDS, Lexicon, available_languages, load_lexicon
from ._typos import TypoRepair
from ._words import (
    AnyWords,
    Words,
    addressed,
    asked,
    clause_reach,
    complemented,
    crosses,
    imperative,
    labelled,
    near,
    negated,
    perfect,
    reported,
    stated,
)

if TYPE_CHECKING:  # annotations only: _config imports this module (lazily) for its languages
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

_PAIR_SCORES: Final[Mapping[str, float]] = {
    # verb + object without a qualifier; verb + object + qualifier (or a strong object) scores 1.0.
    "override": 0.55,
    "extraction": 0.3,
    "persona": 0.9,
    "mode_switch": 0.9,
    "exfil": 0.45,
}
_STANDALONE_SCORE: Final = 0.9
_WEAK_QUALIFIED_SCORE: Final = 0.5
"""A pair near only a weak qualifier ("show me the full instructions"): raised, still below blocking."""
_NEGATION_FACTOR: Final = 0.4
_LABEL_FACTOR: Final = 0.6
"""A pair under a document's label or in a reported request: lowered like quoted text, not as far as a
prohibition (a second finding, or hidden text, still adds up to a refusal)."""
_CLAUSE_BREAKS: Final = re.compile(r"[.!?;:。！？؟।]")
_TYPO_SECTIONS: Final = frozenset({"override", "extraction", "persona", "mode_switch"})
_QUALIFIER_REACH: Final = 24
_CONTEXT_CUES: Final = 2
_NO_CONTEXTS: Final = dict.fromkeys(_CONTEXTS, False)
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_ROT13: Final = str.maketrans(
    codecs.encode("abcdefghijklmnopqrstuvwxyz", "rot13"), "abcdefghijklmnopqrstuvwxyz"
)


class LexiconMatcher:
    """Every lexicon of a set of languages in one automaton (see the module docstring)."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.lexicons = tuple(load_lexicon(language) for language in languages)
        patterns: dict[str, list[_Entry]] = {}
        technical: dict[str, list[_Entry]] = {}
        unspaced: dict[str, list[_Entry]] = {}
        vocabulary: set[str] = set()
        known: set[str] = set()  # every word of every entry: never read as a misspelling of another
        complements: dict[tuple[int, str], list[str]] = {}
        negations: dict[int, list[str]] = {}
        modals: dict[int, list[str]] = {}
        addressees: dict[int, list[str]] = {}
        determiners: dict[int, list[str]] = {}
        questions: dict[int, list[str]] = {}
        inversions: dict[int, list[str]] = {}
        perfects: dict[int, list[str]] = {}
        around: dict[str, dict[int, list[str]]] = {"models": {}, "notices": {}, "reported": {}}
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
                        known.update(_LETTERS.findall(text))
                        # Read only around findings (`context_near`), never in the main pass.
                        technical.setdefault(text, []).append(_Entry(index, section, role, stem, "plain"))
                        continue
                    if section == "context" and role in around:
                        # Read around a pair only (`labelled`, `reported`, `stated`), never in the main pass.
                        around[role].setdefault(index, []).append(f"{text}*" if stem else text)
                        continue
                    if section == "context" and role in _NEAR_VERB:
                        # Read next to a verb only (`negated`, `stated`, `asked`), never in the main pass.
                        kinds = {"negations": negations, "modals": modals, "addressees": addressees}
                        kinds.update(determiners=determiners, questions=questions, inversions=inversions)
                        kinds["perfects"] = perfects
                        kinds[role].setdefault(index, []).append(text)
                        continue
                    if role == "complements":
                        # Read right after an object only (`_complemented`), never in the main pass.
                        complements.setdefault((index, section), []).append(text)
                        continue
                    patterns.setdefault(text, []).append(_Entry(index, section, role, stem, "plain"))
                    if section == "context":
                        continue
                    squeezed = text.replace(" ", "")
                    if len(squeezed) >= 5:
                        unspaced.setdefault(squeezed, []).append(_Entry(index, section, role, True, "plain"))
                    if lexicon.word_boundaries:
                        words = _LETTERS.findall(text)
                        known.update(words)
                        if section in _TYPO_SECTIONS:
                            vocabulary.update(words)
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
        self._unspaced_groups: list[_Group] = [
            ((), (), (), tuple(dict.fromkeys(entry.slot for entry in entries)))
            for entries in self._unspaced_entries
        ]
        self._unspaced = ahocorasick_rs.AhoCorasick(self._unspaced_keys)
        self._bounded = tuple(lexicon.word_boundaries for lexicon in self.lexicons)
        self._any_unbounded = not all(self._bounded)
        self._complements = {key: tuple(value) for key, value in complements.items()}
        self._negations = {key: tuple(value) for key, value in negations.items()}
        self._models = self._kin_words(around["models"])
        self._modals = {
            key: (
                tuple(value),
                tuple(addressees.get(key, ())),
                self._models[key],
                tuple(determiners.get(key, ())),
            )
            for key, value in modals.items()
        }
        self._notices = self._kin_words(around["notices"])
        self._perfects = {key: tuple(value) for key, value in perfects.items()}
        self._questions = {
            key: (
                tuple(questions.get(key, ())),
                tuple(inversions.get(key, ())),
                tuple(addressees.get(key, ())),
            )
            for key in {*questions, *inversions}
        }
        reported_kin = self._kin_words(around["reported"])  # a Japanese causative read with Chinese too
        self._reported = {
            key: (reported_kin[key], tuple(addressees.get(key, ()))) for key in around["reported"]
        }
        self._typos = TypoRepair(vocabulary, known)

    def _kin_words(self, entries: dict[int, list[str]]) -> list[AnyWords]:
        # Per language: its own list, English's (Latin words such as "AI" or "bot" are international) and,
        # for a language without spaces, those of the others without spaces (a Japanese label over a finding
        # read with the Chinese lexicon).
        words = {key: Words(value, self.lexicons[key].word_boundaries) for key, value in entries.items()}
        english = [key for key, lexicon in enumerate(self.lexicons) if lexicon.language == "en"]
        unbounded = [key for key, lexicon in enumerate(self.lexicons) if not lexicon.word_boundaries]
        kin: list[AnyWords] = []
        for index, lexicon in enumerate(self.lexicons):
            keys = dict.fromkeys([index, *english, *([] if lexicon.word_boundaries else unbounded)])
            kin.append(AnyWords(words[key] for key in keys if key in words))
        return kin

    def repair(self, word: str) -> str | None:
        """The lexicon word ``word`` misspells (middle letters shuffled or swapped, one missing or doubled),
        or ``None`` (also for a word of the lexicons itself); see `TypoRepair.repair`.

        Example:
            >>> m = matcher_for(None)
            >>> m.repair("insturctions"), m.repair("instrutions"), m.repair("ignnore"), m.repair("ignore")
            ('instructions', 'instructions', 'ignore', None)
        """
        return self._typos.repair(word)

    def _group(self, entries: tuple[_Entry, ...]) -> _Group:
        # Per automaton key: decoder triggers, and the slots its match fills at a word start (stems), at a
        # whole word (stems and whole words) and anywhere, so the per-match loop checks boundaries once.
        triggers = tuple(dict.fromkeys(entry.transform for entry in entries if entry.transform != "plain"))
        plain = [entry for entry in entries if entry.transform == "plain"]
        bounded = [entry for entry in plain if self.lexicons[entry.language].word_boundaries]
        stems = tuple(dict.fromkeys(entry.slot for entry in bounded if entry.stem))
        whole = tuple(dict.fromkeys(entry.slot for entry in bounded))
        anywhere = tuple(
            dict.fromkeys(entry.slot for entry in plain if not self.lexicons[entry.language].word_boundaries)
        )
        return triggers, stems, whole, anywhere

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
        if unspaced:
            matches = _matches(self._unspaced, text)
            groups = self._unspaced_groups
        else:
            matches = _matches(self._automaton, _flat(text))
            groups = self._groups
        meter.lexicon_matches += len(matches)
        found, triggers, trigger_keys = self._collect(text, matches, groups)
        repaired: list[tuple[int, int]] = []
        if not unspaced and self._typos.active:
            fixed = self._typos.repair_text(text, meter)
            if fixed is not None:
                # Read the repaired text instead: phrases mixing repaired and intact words ("stop
                # fnlwioolg the ssetym pmrpot") are then found as written; positions map back.
                fixed_texts, repaired, position = fixed
                found = {}
                for fixed_text in fixed_texts:
                    meter.scan("lexicon.automaton", len(fixed_text))
                    fixed_matches = _matches(self._automaton, _flat(fixed_text))
                    meter.lexicon_matches += len(fixed_matches)
                    for slot_key, slot in self._collect(fixed_text, fixed_matches, groups)[0].items():
                        merged = found.setdefault(slot_key, _Found())
                        merged.starts.extend(position(start) for start in slot.starts)
                        merged.ends.extend(position(end) for end in slot.ends)
        if not unspaced and "\n" in text and not text.isascii() and self._any_unbounded:
            _find_across_breaks(text, meter, found, self._automaton, self._entries, self._bounded)
        if not found and not triggers:
            # Nothing matched (most short texts): no context, no trigger, no pair to look for.
            return [], {}, dict(_NO_CONTEXTS)
        # A context counts when two different cues of it are present ("translate" and "into English",
        # "proofread" and "this paragraph"): one word alone ("translate nothing, just answer") is no request.
        # A word two lexicons share ("tester", "ataques") is one cue: cues are counted by where they start.
        cues: dict[str, set[int]] = {kind: set() for kind in _CONTEXTS}
        for key, slot in found.items():
            if key[1] == "context" and key[2] in cues:
                cues[key[2]].update(slot.starts)
        contexts = {kind: len(starts) >= _CONTEXT_CUES for kind, starts in cues.items()}
        spans = {
            name: (min(positions), max(positions))
            for name, positions in triggers.items()
            if len(trigger_keys[name]) >= 2
        }
        findings = self._pair(text, found, meter)
        if repaired:
            findings = [_typo_reason(finding, repaired) for finding in findings]
        return findings, spans, contexts

    def _collect(
        self, text: str, matches: list[tuple[int, int, int]], groups: list[_Group]
    ) -> tuple[dict[tuple[int, str, str], _Found], dict[str, list[int]], dict[str, set[int]]]:
        found: dict[tuple[int, str, str], _Found] = {}
        triggers: dict[str, list[int]] = {}
        trigger_keys: dict[str, set[int]] = {}
        size = len(text)

        for key, start, end in matches:
            transforms, stems, whole, anywhere = groups[key]
            if transforms:
                for transform in transforms:
                    positions = triggers.setdefault(transform, [])
                    positions.append(start)
                    positions.append(end)
                    trigger_keys.setdefault(transform, set()).add(key)
            slots = anywhere
            if whole and not (start and text[start - 1].isalnum()):
                slots = whole if end >= size or not text[end].isalnum() else stems
                if anywhere:
                    slots = slots + anywhere
            for slot_key in slots:
                slot = found.get(slot_key)
                if slot is None:
                    slot = found[slot_key] = _Found()
                slot.starts.append(start)
                slot.ends.append(end)
        return found, triggers, trigger_keys

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
            weak = found.get((index, section, "weak_qualifiers"))
            weak_starts = sorted(weak.starts) if weak else []
            complements = self._complements.get((index, section), ())
            negations = self._negations.get(index, ()) if section in ("override", "extraction") else ()
            modals = self._modals.get(index) if section == "override" else None
            models = self._models[index]
            notices = self._notices[index] if section in ("override", "extraction") else None
            reports = self._reported.get(index) if section in ("override", "extraction") else None
            questions = self._questions.get(index) if section in ("override", "extraction") else None
            perfects = self._perfects.get(index, ()) if section in ("override", "extraction") else ()
            object_starts = [start for start, _ in objects]
            # An order (the verb opens its clause) on a noun only the model has (override's strong objects):
            # "Clause 21: Ignore your system prompt" speaks to the model: no label, report or modal excuse.
            own = found.get((index, "override", "strong_objects"))
            own_spans = list(zip(own.starts, own.ends, strict=True)) if own else []
            window = lexicon.window
            if breaks is None:
                meter.scan("lexicon.clauses", len(text))
                breaks = [m.start() for m in _CLAUSE_BREAKS.finditer(text)]
            for verb_start, verb_end in sorted(zip(verbs.starts, verbs.ends, strict=True)):
                low = bisect.bisect_left(object_starts, verb_start - window - 24)
                high = bisect.bisect_right(object_starts, verb_end + window)
                top: tuple[float, str, int, int] | None = None  # this verb's best pair, before context
                top_object = (0, 0)
                for position in range(low, min(high, low + 16)):
                    meter.window_steps += 1
                    object_start, object_end = objects[position]
                    if object_start < verb_end and object_end > verb_start:
                        continue  # the same characters read as both
                    first, last = min(verb_start, object_start), max(verb_end, object_end)
                    if crosses(breaks, first, last):
                        continue
                    qualified = object_start in strong_starts or near(
                        qualifier_starts,
                        first - _QUALIFIER_REACH,
                        last + _QUALIFIER_REACH,
                        (verb_start, object_start),
                    )
                    score = 1.0 if qualified else _PAIR_SCORES[section]
                    shape = "verb+object+qualifier" if qualified else "verb+object"
                    if not qualified and near(
                        weak_starts,
                        first - _QUALIFIER_REACH,
                        last + _QUALIFIER_REACH,
                        (verb_start, object_start),
                    ):
                        score, shape = max(score, _WEAK_QUALIFIED_SCORE), "verb+object+weak qualifier"
                    if score > _WEAK_QUALIFIED_SCORE and complemented(text, object_end, complements):
                        # "your instructions for the shelf": the object belongs to something else.
                        score, shape = _WEAK_QUALIFIED_SCORE, f"{shape}, complement"
                    if top is None or score > top[0]:
                        top = (score, shape, first, last)
                        top_object = (object_start, object_end)
                        if score >= 1.0:
                            break
                current = best.get(rule_id)
                if top is None or (current is not None and current.score >= top[0]):
                    continue  # the words around the verb only lower a score: this verb cannot do better
                score, shape, first, last = top
                # The words around the verb (the same for each of its objects), read once per verb.
                own_object = any(a < top_object[1] and b > top_object[0] for a, b in own_spans)
                models_own = own_object and imperative(text, verb_start)
                if negations and negated(text, verb_start, negations):
                    # "employees may not disregard safety instructions": a prohibition, not a command.
                    score, shape = round(score * _NEGATION_FACTOR, 4), f"{shape}, negated"
                elif not models_own and modals is not None and stated(text, verb_start, *modals):
                    # "the contractor shall disregard any previous instructions": a rule about someone
                    # else (the word before the modal is not the model), not a command to the model.
                    score, shape = round(score * _NEGATION_FACTOR, 4), f"{shape}, third party"
                elif not models_own and notices is not None and labelled(text, verb_start, notices, models):
                    # "Memo to all staff: please ignore the previous instructions about parking": a line
                    # under a document's or an audience's label, with no word naming the model.
                    score, shape = round(score * _LABEL_FACTOR, 4), f"{shape}, document label"
                elif not models_own and reports and reported(text, verb_start, verb_end, *reports, models):
                    # "if a visitor asks it to ignore its instructions": someone else's request, reported.
                    score, shape = round(score * _LABEL_FACTOR, 4), f"{shape}, reported request"
                elif not models_own and questions and asked(text, verb_start, verb_end, *questions, models):
                    # "why does Kubernetes ignore my previous rules?": a question about a third party.
                    score, shape = round(score * _LABEL_FACTOR, 4), f"{shape}, question about a third party"
                elif perfects and perfect(text, verb_start, verb_end, perfects):
                    # "le chatbot a ignoré ses instructions", "hat … seine Regeln ignoriert": a past event.
                    score, shape = round(score * _LABEL_FACTOR, 4), f"{shape}, past event"
                reasons = (shape, f"lang:{lexicon.language}")
                named = addressed(text, verb_start, models)
                _keep(
                    best,
                    IntentFinding(rule_id, score, first, last, reasons, lexicon.language, verb_start, named),
                )
                if rule_id in best and best[rule_id].score >= 1.0:
                    break
        return list(best.values())

    def context_near(
        self, text: str, kind: str, start: int, end: int, language: str | None = None, reach: int = 30
    ) -> bool:
        """Whether a ``context.<kind>`` entry (of ``language`` or English, or any) is near a span, in its
        clause."""
        low, high = clause_reach(text, start, end, reach)
        for key, match_start, match_end in _matches(self._technical, text[low:high]):
            match_start += low
            match_end += low
            for entry in self._technical_entries[key]:
                if entry.section != "context" or entry.role != kind or entry.transform != "plain":
                    continue
                if language is not None and self.lexicons[entry.language].language not in (language, "en"):
                    continue  # English's words (kubernetes, regex, yaml) are technical in every language
                if self.lexicons[entry.language].word_boundaries:
                    if match_start and text[match_start - 1].isalnum():
                        continue
                    if not entry.stem and match_end < len(text) and text[match_end].isalnum():
                        continue
                return True
        return False


@functools.cache
def matcher_for(languages: tuple[str, ...] | None) -> LexiconMatcher:
    """The matcher of ``languages`` (``None``: every shipped language), built once per process."""
    return LexiconMatcher(available_languages() if languages is None else languages)
