"""The misspelling pass of the lexicon matcher: typoglycemia (``ignroe``, ``insturctions``: the middle
shuffled) and ordinary typos (two letters swapped, one dropped or doubled; the first and last kept).

The distinct words of a text are looked up by a signature (first letter, last letter, sorted middle) in
tables built from the lexicon words, and the text is rewritten with the repaired words, with a map from
its positions back to the original (`TypoRepair.repair_text`); `LexiconMatcher.find` then matches the
repaired text as it matches any text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # type-only: the matcher passes its meter in (no import cycle through _config)
    from ._config import WorkMeter

__all__ = ["TYPO_MIN", "TypoRepair"]

TYPO_MIN: Final = 5
"""Words this long or longer are read through typos (shorter ones survive scrambling, or are ambiguous)."""
_TYPO_DROP_MIN: Final = 6
"""A lexicon word this long or longer is also recognised with one middle letter missing."""
_REPAIR_MEMO: Final = 1 << 16
_UNSEEN: Final = "\x00"
_CLEAN_TOKEN: Final = 40
_TYPO_MAX_REPAIRS: Final = 256
_TYPO_READINGS: Final = 4
"""At most this many readings of a repaired text (a signature shared by several lexicons' words)."""
"""At most this many misspelled words are repaired per layer: enough to read any intent, bounded by design."""
_DOUBLED: Final = re.compile(r"(.)\1")


def _typo_key(word: str) -> str:
    return word[0] + word[-1] + "".join(sorted(word[1:-1]))


def _dropped(word: str) -> Iterable[str]:
    """``word`` with one middle letter missing, each way (the first and last letters stay)."""
    return dict.fromkeys(word[:index] + word[index + 1 :] for index in range(1, len(word) - 1))


def _undoubled(word: str) -> Iterable[str]:
    """``word`` with one letter of a doubled pair removed, for each doubled pair in its middle."""
    return dict.fromkeys(
        word[:index] + word[index + 1 :]
        for index in range(1, len(word) - 2)
        if word[index] == word[index + 1]
    )


class TypoRepair:
    """Signature tables of a set of lexicon words, and the repair of words and texts through them."""

    def __init__(self, vocabulary: set[str], known: set[str]) -> None:
        # Three tables from a misspelling's signature (first letter, last letter, sorted middle) to the
        # lexicon word: the middle shuffled (which covers two letters swapped), one middle letter missing
        # (long words only), and (looked up after removing one letter of a doubled pair) one letter doubled.
        self._vocabulary = frozenset(vocabulary | known)
        self._shuffled: dict[str, str] = {}
        self._missing: dict[str, str] = {}
        self._twins: dict[str, list[str]] = {}
        shapes: set[tuple[str, str, int]] = set()
        for word in sorted(vocabulary):
            if len(word) < TYPO_MIN:
                continue
            key = _typo_key(word)
            if self._shuffled.setdefault(key, word) != word:
                # Two lexicon words, one signature (French "regles", Dutch "regels"): both are read.
                self._twins.setdefault(self._shuffled[key], []).append(word)
            shapes.add((word[0], word[-1], len(word)))
            shapes.add((word[0], word[-1], len(word) + 1))
            if len(word) >= _TYPO_DROP_MIN:
                shapes.add((word[0], word[-1], len(word) - 1))
                for shorter in _dropped(word):
                    key = _typo_key(shorter)
                    if self._missing.setdefault(key, word) != word:
                        self._twins.setdefault(self._missing[key], []).append(word)
        self._typo_shapes = frozenset(shapes)
        # Words recur from prompt to prompt: each distinct word is signed once per process (a bounded memo,
        # emptied when full; a dict's single-key operations are atomic under the GIL).
        self._repairs: dict[str, str | None] = {}
        self._clean: set[str] = set()
        letters = sorted({char for word in vocabulary for char in word})
        self._typo_letters = "".join(letters)
        if letters:
            word_class = "[" + re.escape(self._typo_letters) + "]"
            # A class first, not a repeat: only then does ``re`` scan for the first letter in C.
            typo_word = f"{word_class}{word_class}{{{TYPO_MIN - 1},}}"
            self._typo_word: re.Pattern[str] | None = re.compile(typo_word)
            self._typo_bounds = (f"(?<!{word_class})(?:", f")(?!{word_class})")
        else:
            self._typo_word = None

    @property
    def active(self) -> bool:
        """Whether any lexicon word is long enough to be read through typos."""
        return self._typo_word is not None

    def repair(self, word: str) -> str | None:
        """The lexicon word ``word`` misspells (middle letters shuffled or swapped, one missing or doubled),
        or ``None`` (also for a word of the lexicons itself).

        Example:
            >>> t = TypoRepair({"instructions", "ignore"}, set())
            >>> t.repair("insturctions"), t.repair("instrutions"), t.repair("ignnore"), t.repair("ignore")
            ('instructions', 'instructions', 'ignore', None)
        """
        if word in self._vocabulary or len(word) < TYPO_MIN:
            return None
        first, last, size = word[0], word[-1], len(word)
        if (first, last, size) not in self._typo_shapes:
            return None
        key = _typo_key(word)
        fix = self._shuffled.get(key) or self._missing.get(key)
        if fix is None and size > TYPO_MIN and _DOUBLED.search(word, 1, size - 1):
            for shorter in _undoubled(word):
                fix = self._shuffled.get(_typo_key(shorter))
                if fix is not None:
                    break
        return fix

    def repair_text(
        self, text: str, meter: WorkMeter
    ) -> tuple[list[str], list[tuple[int, int]], Callable[[int], int]] | None:
        """``text`` with misspelled lexicon words repaired (see `repair`; a second text when a repaired
        word has a twin of the same signature in another lexicon), the repaired words' spans in
        ``text``, and the map from a repaired-text position back to ``text``; ``None`` if nothing changed.

        One C-speed pass collects the distinct words, and only those of a lexicon word's shape (first letter,
        last letter, length) are signed: the cost is one probe per distinct word, whatever the text.
        """
        assert self._typo_word is not None
        meter.scan("lexicon.typos", len(text))
        fixes: dict[str, str] = {}
        memo, clean = self._repairs, self._clean
        if len(clean) >= _REPAIR_MEMO:
            clean.clear()
        # Whitespace-separated tokens (a C-speed split), less those already known to hold no misspelling:
        # ordinary prose costs a set difference, and only new tokens are read word by word. (One search of
        # the word pattern over the whole text instead was measured 4-5 µs per KB slower on known text and
        # no faster on new text.)
        for token in set(text.split()) - clean:
            fixed = False
            for word in self._typo_word.findall(token):
                if word in self._vocabulary:
                    continue
                fix = memo.get(word, _UNSEEN)
                if fix is _UNSEEN:
                    fix = self.repair(word)
                    if len(memo) >= _REPAIR_MEMO:
                        memo.clear()
                    memo[word] = fix
                if fix is not None:
                    fixes[word] = fix
                    fixed = True
            if not fixed and len(token) <= _CLEAN_TOKEN:
                clean.add(token)
        if not fixes:
            return None
        head, tail = self._typo_bounds
        pattern = re.compile(head + "|".join(map(re.escape, sorted(fixes, key=len, reverse=True))) + tail)
        meter.scan("lexicon.typos", len(text))
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        ends: list[int] = []
        shifts: list[int] = [0]
        last = 0
        for match in pattern.finditer(text):
            start, end = match.span()
            fix = fixes[match.group()]
            pieces.append(text[last:start])
            pieces.append(fix)
            last = end
            spans.append((start, end))
            ends.append(start + shifts[-1] + len(fix))
            shifts.append(shifts[-1] + len(fix) - (end - start))
            if len(spans) >= _TYPO_MAX_REPAIRS:
                break
        pieces.append(text[last:])
        size = len(text)

        def position(fixed: int) -> int:
            return min(size, max(0, fixed - shifts[bisect.bisect_right(ends, fixed)]))

        texts = ["".join(pieces)]
        # Twins have the same length as the word they stand for: one position map serves every reading.
        readings = [[fix, *self._twins.get(fix, ())] for fix in pieces[1::2]]
        for variant in range(1, min(_TYPO_READINGS, max(map(len, readings)))):
            pieces[1::2] = [choices[min(variant, len(choices) - 1)] for choices in readings]
            texts.append("".join(pieces))
        return texts, spans, position
