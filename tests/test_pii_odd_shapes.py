"""Values written the way a stranger writes them: a seed phrase one word a line (real, tab or JSON-escaped
line breaks), its words in two blocks that meet without a space, and a lone surrogate beside PII."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from claude_guard._credentials import CREDENTIALS, _twelve_listed_words, find_credentials
from claude_guard.pii import PIIConfig, PIIEngine, Redactor
from claude_guard.pii._engine import _Analyzer
from data.secrets_corpus import seed_phrase

SSN = "536-90-4399"


@pytest.fixture(scope="module")
def analyzer() -> _Analyzer:
    return _Analyzer(PIIConfig())


@pytest.mark.parametrize("separator", [" ", "\n", "\r\n", "\t", "\\n", " \\n "], ids=repr)
def test_a_seed_phrase_is_found_with_every_separator_its_pattern_takes(separator: str) -> None:
    rng = random.Random(len(separator) * 7 + ord(separator[-1]))
    for words in (12, 24):
        phrase = seed_phrase(rng, words)
        text = f"my words:{separator}{separator.join(phrase.split())}{separator}thanks"
        assert _twelve_listed_words(text)
        (hit,) = [m for m in find_credentials(text) if m.entity == "SEED_PHRASE"]
        assert text[hit.start : hit.end].replace("\\n", " ").split() == phrase.split()


def test_the_seed_phrase_row_is_anchored_on_every_separator_of_its_pattern() -> None:
    row = next(r for r in CREDENTIALS if r.id == "bip39_seed_phrase")
    assert {" ", "\n", "\t", "\\n"} <= set(row.anchors)


def test_a_seed_phrase_split_across_two_blocks_at_a_word_is_found(analyzer: _Analyzer) -> None:
    words = seed_phrase(random.Random(9), 12).split()
    for cut in range(1, 12):
        tail, head = "my words: " + " ".join(words[:cut]), " ".join(words[cut:]) + " ok"
        (found,) = analyzer.analyze_windows([(tail, head)])
        joined = tail + head  # the window's offsets: the two texts as they are, no space between
        assert any(f.entity == "SEED_PHRASE" and joined[f.start : f.end].startswith(words[0]) for f in found)
        seed = next(f for f in found if f.entity == "SEED_PHRASE")
        assert joined[seed.end - len(words[-1]) : seed.end] == words[-1], cut


def test_a_value_cut_inside_a_word_is_still_read_joined(analyzer: _Analyzer) -> None:
    key = "sk-ant-api03-" + "Ab3_-x" * 15 + "abcAA"
    for cut in (15, 40, 80):
        found = analyzer.analyze_windows([("key " + key[:cut], key[cut:] + " end")])[0]
        joined = "key " + key + " end"
        assert any(joined[f.start : f.end] == key for f in found), cut


def test_a_lone_surrogate_beside_pii_is_read_around(analyzer: _Analyzer) -> None:
    text = f"x\ud800 ssn {SSN} \udc00 mail ada@example.com sk-ant-api03-{'Ab3_-x' * 15}abcAA"
    assert {text[f.start : f.end] for f in analyzer.analyze(text)} >= {SSN, "ada@example.com"}
    assert find_credentials(text)  # the credential automaton reads around it too
    plain = _Analyzer(PIIConfig(strip_invisible=False))
    assert SSN in {text[f.start : f.end] for f in plain.analyze(text)}


async def test_a_request_with_a_lone_surrogate_is_redacted_not_refused() -> None:
    engine = PIIEngine(PIIConfig(executor="thread"))
    await engine.astart()
    try:
        body: dict[str, Any] = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": f"note \ud800 my ssn is {SSN}"}],
        }
        redaction = await Redactor(engine=engine).redact(body, principal="key_1")
        sent = json.dumps(redaction.body)
        assert SSN not in sent and "\\ud800" in sent  # redacted; the rest forwarded as written
    finally:
        engine.close()
