"""The misspelling pass re-reads only around the repaired words when they kept their length (a shuffle):
the automaton's matches are then those of the whole repaired text, in the same order."""

from __future__ import annotations

import json
import random
from pathlib import Path

from claude_guard.validation._canonical import canonicalize
from claude_guard.validation._config import WorkMeter
from claude_guard.validation._intents import _flat, _matches, _touches, rematch
from claude_guard.validation._lexicon import matcher_for

CORPUS = Path(__file__).resolve().parent / "data" / "injection_corpus.jsonl"


def _texts() -> list[str]:
    texts: list[str] = []
    with CORPUS.open(encoding="utf-8") as fh:  # the development part's plain-text messages
        for case in map(json.loads, fh):
            if case["split"] == "dev":
                texts += [m["content"] for m in case["body"]["messages"] if isinstance(m["content"], str)]
    # Lexicon words shuffled (typoglycemia) among everyday words that are shuffles of lexicon words
    # themselves ("stale" of "slate" and "salte"), joined every way a text joins them.
    rng = random.Random(20261206)
    vocabulary = sorted(matcher_for(None)._typos._vocabulary)
    filler = ["the", "and", "your", "all", "previous", "stale", "service", "state", "clean", "now"]

    def shuffled(word: str) -> str:
        middle = list(word[1:-1])
        rng.shuffle(middle)
        return word[0] + "".join(middle) + word[-1]

    for _ in range(3000):
        words = [
            shuffled(rng.choice(vocabulary)) if rng.random() < 0.3 else rng.choice(filler)
            for _ in range(rng.randint(2, 40))
        ]
        texts.append(rng.choice([" ", "\n", ", ", ""]).join(words))
    return texts


def test_rematching_around_repairs_equals_matching_the_whole_repaired_text() -> None:
    matcher = matcher_for(None)
    meter = WorkMeter()
    compared = 0
    for raw in _texts():
        text = canonicalize(raw).text
        repaired = matcher._typos.repair_text(text, meter)
        if repaired is None or repaired[2] is not None:  # nothing repaired, or a repair changed a length
            continue
        matches = _matches(matcher._automaton, _flat(text))
        for fixed in repaired[0]:
            compared += 1
            found = rematch(matcher._automaton, matcher._longest, matches, fixed, repaired[1])
            assert found == _matches(matcher._automaton, _flat(fixed))
    assert compared > 500


def test_touches_reads_sorted_disjoint_spans() -> None:
    spans = [(2, 4), (10, 15)]
    assert [_touches(spans, s, e) for s, e in [(0, 2), (0, 3), (4, 10), (3, 11), (14, 20), (15, 20)]] == [
        False,
        True,
        False,
        True,
        True,
        False,
    ]
    assert not _touches([], 0, 5)
