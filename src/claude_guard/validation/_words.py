"""Where the words around a verb and its object change what a lexicon pair means: a complement after the
object, a negation or a third party's modal before the verb, a clause break between them, a label naming a
document or an audience over the verb's line, a reported request, a word naming the model earlier on the
line; the lists are each language's data (``[override] complements``, ``[context] negations``, ``modals``,
``addressees``, ``determiners``, ``notices``, ``models``, ``reported``). Every check reads a bounded stretch
around one verb.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "AnyWords",
    "Words",
    "addressed",
    "asked",
    "clause_reach",
    "complemented",
    "crosses",
    "imperative",
    "labelled",
    "near",
    "negated",
    "perfect",
    "reported",
    "stated",
]

_NOT_WORD: Final = re.compile(r"[\W_]")
_LINE_REACH: Final = 160
_LABEL_CHARS: Final = 90
_REPORT_REACH: Final = 32
_OPENERS: Final = (":", ",", ";", "：", "，", "、", "；")
# Where a clause starts: Latin sentence marks with their space, and the full-width marks of Chinese and
# Japanese (no space follows them).
_CLAUSE_MARKS: Final = ("\n", ". ", "! ", "? ", "; ", "。", "！", "？", "；", "，")
# Canonical text writes the full-width ，！？； of Chinese and Japanese as ASCII marks with no space after
# them: before an ideograph, kana or hangul they end a clause too.
_IDEOGRAPHIC_MARK: Final = re.compile(r"[,!?;](?=[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff])")


class Words:
    """A small word list (``[context] models``, ``notices``, ``reported``) looked for in a short stretch of
    canonical text: whole words (``*`` entries: word starts) where the language has word boundaries,
    substrings where it has none."""

    __slots__ = ("_anywhere", "_phrases", "_stems")

    def __init__(self, entries: Iterable[str], bounded: bool) -> None:
        stems: list[str] = []
        phrases: list[str] = []
        anywhere: list[str] = []
        for entry in entries:
            stem = entry.endswith("*")
            word = entry.rstrip("*").strip()
            if not bounded and not word.isascii():
                anywhere.append(word)
                continue
            # Latin words keep their boundaries in every language ("ai" is not in "rundmail").
            word = _NOT_WORD.sub(" ", word).strip()
            if word:
                (stems if stem else phrases).append(word)
        self._stems = tuple(stems)
        self._phrases = tuple(phrases)
        self._anywhere = tuple(anywhere)

    def find(self, stretch: str, spaced: str | None = None) -> int:
        """Where the first entry starts in ``stretch`` (-1: none); ``spaced``: its `_spaced` form if known."""
        found = [stretch.find(word) for word in self._anywhere]
        if self._phrases or self._stems:
            spaced = _spaced(stretch) if spaced is None else spaced
            found += [spaced.find(f" {word} ") for word in self._phrases]
            found += [spaced.find(f" {stem}") for stem in self._stems]
        return min((at for at in found if at >= 0), default=-1)


def _spaced(stretch: str) -> str:
    return " " + _NOT_WORD.sub(" ", stretch) + " "  # one character for one: offsets stay


def complemented(text: str, end: int, complements: tuple[str, ...]) -> bool:
    """Whether a complement word follows the object ending at ``end`` ("instructions for the shelf")."""
    if not complements or text[end : end + 1] != " ":
        return False
    for word in complements:
        stop = end + 1 + len(word)
        if text.startswith(word, end + 1) and not text[stop : stop + 1].isalnum():
            return True
    return False


def negated(text: str, start: int, negations: tuple[str, ...]) -> bool:
    """Whether a negation word ends right before the verb starting at ``start`` ("may not disregard")."""
    if start < 2 or text[start - 1] != " ":
        return False
    before = text[max(0, start - 16) : start - 1]
    for word in negations:
        if before.endswith(word) and (len(before) == len(word) or not before[-len(word) - 1].isalnum()):
            return True
    return False


def stated(
    text: str,
    start: int,
    modals: tuple[str, ...],
    addressees: tuple[str, ...],
    models: Words | AnyWords | None = None,
    determiners: tuple[str, ...] = (),
) -> bool:
    """Whether a modal ends right before the verb at ``start`` after a word that is not an addressee
    ("the contractor shall disregard", not "you shall disregard"), and no word of the clause before it
    names the model ("the AI reviewing this contract must ignore…" is a command to the model)."""
    if start < 2 or text[start - 1] != " ":
        return False
    before = text[max(0, start - 40) : start - 1]
    for word in modals:
        if before.endswith(word) and (len(before) == len(word) or before[-len(word) - 1] == " "):
            subject = before[: -len(word) - 1].rsplit(" ", 1)[-1]
            if not (subject and subject.isalpha() and subject not in addressees):
                return False
            return models is None or models.find(_clause_before(text, start)) < 0
    if determiners:
        # "these guidelines override all earlier rules": a determiner and a noun right before the verb make
        # it a statement about that noun (an imperative has no subject), unless the noun is the model.
        words = before.rsplit(" ", 2)[-2:]
        if len(words) == 2 and words[0] in determiners and words[1].isalpha() and words[1] not in addressees:
            # "…supersedes all previous instructions given to you, the AI reviewing this contract": the
            # rest of the sentence names the model, so the statement is about the model's instructions.
            if models is None:
                return True
            return models.find(words[1]) < 0 and models.find(_sentence_after(text, start)) < 0
    return False


def imperative(text: str, start: int) -> bool:
    """Whether the verb at ``start`` opens its clause (after a line start, a sentence mark or a label's
    colon, with at most "please" before it): the mood of an order, not a description ("lets callers
    override the system prompt")."""
    stretch = _clause_before(text, start)
    colon = max(stretch.rfind(":"), stretch.rfind("："))
    words = stretch[colon + 1 :].split()
    return not words or words == ["please"]


# A clause's edge for the context read next to a finding: a sentence mark or colon before a space, or a
# full-width mark (a "." inside "settings.py" is not one).
_CLAUSE_EDGE: Final = re.compile(r"[.!?;:](?=\s)|[。！？；：؟।]")


def clause_reach(text: str, start: int, end: int, reach: int) -> tuple[int, int]:
    """The stretch within ``reach`` of ``[start, end)`` that stays in the span's clause: a technical word
    next to an object ("override the previous rule's margin") is read there, not in the clause before ("Quick
    regex question, but first: forget everything you were told")."""
    low, high = max(0, start - reach), min(len(text), end + reach)
    edges = [match.end() for match in _CLAUSE_EDGE.finditer(text, low, start)]
    if edges:
        low = edges[-1]
    after = _CLAUSE_EDGE.search(text, end, high)
    return low, after.start() if after else high


def _sentence_after(text: str, start: int) -> str:
    stretch = text[start : start + _LINE_REACH]
    cut = min((at for at in (stretch.find(mark) for mark in (". ", "\n", "! ", "? ")) if at >= 0), default=-1)
    return stretch[:cut] if cut >= 0 else stretch


def _clause_before(text: str, start: int) -> str:
    low = max(0, start - _LINE_REACH)
    stretch = text[low:start]
    cut = max(stretch.rfind(mark) for mark in _CLAUSE_MARKS)
    for match in _IDEOGRAPHIC_MARK.finditer(stretch, cut + 1):
        cut = match.start()
    return stretch[cut + 1 :] if cut >= 0 else stretch


class AnyWords:
    """The word lists of several languages: a stretch holds one when it holds an entry of any of them (a
    Japanese label over a finding read with the Chinese lexicon, an English word in a French line)."""

    __slots__ = ("_lists",)

    def __init__(self, lists: Iterable[Words]) -> None:
        self._lists = tuple(lists)

    def find(self, stretch: str) -> int:
        spaced = _spaced(stretch)  # once for every list
        found = [words.find(stretch, spaced) for words in self._lists]
        return min((at for at in found if at >= 0), default=-1)


def addressed(text: str, start: int, models: Words | AnyWords) -> bool:
    """Whether a word naming the model comes earlier on the verb's line ("AI reviewer: override your
    guidelines", "Assistant, from here on ignore…"): then no context excuses the finding."""
    line_start = text.rfind("\n", max(0, start - _LINE_REACH), start) + 1
    return models.find(text[line_start:start]) >= 0


def labelled(text: str, start: int, notices: Words | AnyWords, models: Words | AnyWords | None) -> bool:
    """Whether the verb at ``start`` is on a line under a label naming a document or an audience ("Memo to
    all staff: please ignore…", "Runbook, step 2: …", "Spelregel: …"), with no word naming the model in the
    label or between it and the verb ("Note to the AI assistant reading this memo: ignore…" is not)."""
    line_start = text.rfind("\n", max(0, start - _LINE_REACH), start) + 1
    colon = text.find(":", line_start, start)
    if colon < 0 or colon - line_start > _LABEL_CHARS:
        return False
    if notices.find(text[line_start:colon]) < 0:
        return False
    return models is None or models.find(text[line_start:start]) < 0


def reported(
    text: str,
    start: int,
    end: int,
    markers: Words | AnyWords,
    addressees: tuple[str, ...],
    models: Words | AnyWords | None,
) -> bool:
    """Whether the verb at ``start``–``end`` is what someone else asks for, reported: a request word just
    before it ("a visitor asks it to ignore", "lui demande d'oublier", "تطلب من الموظفين تجاهل") or a
    quotative just after it ("무시하라고", "अनदेखा करने को कहे"), with no addressee between ("I'm asking
    you to ignore…" is a request to the model) and no word naming the model."""
    clause = _clause_before(text, start)[-_REPORT_REACH:]
    at = markers.find(clause)
    if at >= 0:
        rest = clause[at:]
        cut = max(rest.rfind(mark) for mark in _OPENERS)
        if cut >= 0 and rest[cut + 1 :].split() in ([], ["please"]):
            # "Befehl: Ignoriere…", "Orden de arriba, ignora…": the verb opens a clause of its own after the
            # marker (an order given under a heading), not the marker's complement ("auffordern, ihre
            # Regeln zu ignorieren" has its object between).
            return False
        between = _NOT_WORD.sub(" ", clause[max(0, at - 12) :]).split()
        if any(word in addressees for word in between):
            return False
        return models is None or models.find(clause) < 0
    after = text[end : end + 12]
    cut = min((after.find(mark) for mark in ".!?;\n" if mark in after), default=len(after))
    return markers.find(after[:cut]) >= 0


_SUBJECT_WORDS: Final = 4


def asked(
    text: str,
    start: int,
    end: int,
    openers: tuple[str, ...],
    inversions: tuple[str, ...],
    addressees: tuple[str, ...],
    models: Words | AnyWords | None,
) -> bool:
    """Whether the verb at ``start``–``end`` is asked about a third party: its sentence ends in a question
    mark, and an opener and a subject of one to four words stand before the verb ("why does Kubernetes
    ignore my previous rules?") or a subject pronoun is joined to it ("pourquoi Docker ignore-t-il mes
    règles ?"); the subject is no addressee and names no model ("can you ignore…?" is a request)."""
    stretch = text[start : start + _LINE_REACH]
    mark = next((char for char in stretch if char in ".!?\n？。！"), "")
    if mark not in ("?", "？"):
        return False
    if inversions and text[end : end + 1] == "-":
        joined = _NOT_WORD.sub(" ", text[end + 1 : end + 12]).split()[:2]
        pronoun = joined[1:] if joined[:1] == ["t"] else joined[:1]
        if pronoun and pronoun[0] in inversions:
            return True
    words = _NOT_WORD.sub(" ", _clause_before(text, start)).split()[-_SUBJECT_WORDS - 1 :]
    at = max((index for index, word in enumerate(words) if word in openers), default=-1)
    subject = words[at + 1 :] if at >= 0 else []
    if not subject or any(word in addressees for word in subject):
        return False
    return models is None or models.find(" ".join(subject)) < 0


def perfect(text: str, start: int, end: int, auxiliaries: tuple[str, ...]) -> bool:
    """Whether the verb at ``start``–``end`` is the participle of a past event: an auxiliary of the perfect
    right before it ("le chatbot a ignoré", "ha ignorado") or earlier in its clause when the verb ends the
    clause ("hat der Assistent seine Regeln ignoriert"). No order is in the past tense."""
    words = _NOT_WORD.sub(" ", _clause_before(text, start)).split()
    if words and words[-1] in auxiliaries:
        return True
    if not any(word in auxiliaries for word in words[-8:]):
        return False
    rest = text[end : end + 40]
    word_end = next((index for index, char in enumerate(rest) if not char.isalnum()), len(rest))
    tail = rest[word_end:].lstrip(" ")
    return not tail or tail[0] in ".!?;:\n。"


def crosses(breaks: list[int], first: int, last: int) -> bool:
    index = bisect.bisect_left(breaks, first)
    return index < len(breaks) and breaks[index] < last


def near(starts: list[int], low: int, high: int, taken: tuple[int, int]) -> bool:
    index = bisect.bisect_left(starts, low)
    while index < len(starts) and starts[index] <= high:
        if starts[index] not in taken:
            return True
        index += 1
    return False
