"""The shortcuts a clean prompt takes through the credential table, the prefilter and the base64 scan (class
copies of ASCII text, row gates, the whitespace-run check) decide exactly what the full searches decide:
over the corpus and fuzzed strings (ASCII and not, with İ, which lower-cases to two characters, and
values cut across two blocks)."""

from __future__ import annotations

import base64
import dataclasses
import random
import re
import string

import pytest

from claude_guard._credentials import CREDENTIALS, CharClasses, Credential, find_credentials
from claude_guard.pii import PIIConfig
from claude_guard.pii._canonical import base64_runs
from claude_guard.pii._engine import _Analyzer
from claude_guard.pii._patterns import PII_PATTERNS
from claude_guard.pii._prefilter import _FASTER, _phone_cluster
from data.secrets_corpus import corpus, seed_phrase

ROWS = (*CREDENTIALS, *PII_PATTERNS)
SHORTCUT_ROWS = [row for row in ROWS if row.gate is not None or row.min_run]
# Without gates and min_run, each row runs its pattern on every anchored text: the reference.
PLAIN = {row.id: dataclasses.replace(row, gate=None, min_run=0) for row in SHORTCUT_ROWS}


def _corpus_blocks() -> list[str]:
    out = []
    for part in ("development", "held_out"):
        c = corpus(part)
        out += [block for s in c.samples for block in s.blocks]
        out += [text for _, text in c.lookalikes]
    return out


def _fuzzed(rng: random.Random, values: list[str]) -> str:
    # Prose pieces, digits, whitespace of every kind, non-ASCII letters and digits, and corpus values, some
    # cut short (a value split across two blocks is searched as a tail and a head).
    pieces = [
        *("the ", "a ", "on-call ", "09:12 ", "4111 1111 1111 1111", "-", " ", "\t", "\n", "\\n"),
        *("\x1c", "_"),
        *("\u00a0", "\u2003", "\u3000", "İ", "é", "٣", "１", "K", "abandon ", "ability ", "zoo ", "x"),
        *(rng.choice(string.ascii_letters + string.digits) for _ in range(6)),
    ]
    parts = []
    for _ in range(rng.randint(1, 30)):
        if rng.random() < 0.15:
            value = rng.choice(values)
            cut = rng.randint(0, len(value))
            parts.append(rng.choice([value, value[:cut], value[cut:]]))
        else:
            parts.append(rng.choice(pieces))
    return "".join(parts)


def _gated_values(rng: random.Random) -> list[str]:
    values = [seed_phrase(rng, words) for words in (12, 12, 15, 24)]
    values += [p.replace(" ", "\\n") for p in values[:2]] + [p.replace(" ", "\n ") for p in values[:2]]
    values += ["4111111111111111", "5500-0000-0000-0004", "3782 822463 10005", "٤١١١١١١١١١١١١١١١"]
    return values


def _same(row: Credential, text: str) -> None:
    expected = find_credentials(text, rows=(PLAIN[row.id],))
    assert find_credentials(text, rows=(row,)) == expected, (row.id, text)


@pytest.mark.parametrize("row", SHORTCUT_ROWS, ids=lambda r: r.id)
def test_gates_and_min_run_skip_only_texts_the_row_finds_nothing_in(row: Credential) -> None:
    rng = random.Random(f"gates:{row.id}")
    values = _gated_values(rng) + [
        s.blocks[b][start:end]
        for part in ("development", "held_out")
        for s in corpus(part).samples
        if s.kind == row.id
        for b, start, end in s.spans
    ]
    for text in _corpus_blocks():
        _same(row, text)
    found = 0
    for _ in range(3000):
        text = _fuzzed(rng, values)
        _same(row, text)
        found += bool(find_credentials(text, rows=(PLAIN[row.id],)))
    assert found > 20  # the fuzzer reaches real values of the row


def test_seed_phrase_gate_reads_words_like_the_validator() -> None:
    rng = random.Random(12)
    phrase = seed_phrase(rng)
    row = next(r for r in CREDENTIALS if r.id == "bip39_seed_phrase")
    for text in (phrase, f"İ {phrase}", f"Words: {phrase}.", phrase.replace(" ", "  \t"), phrase.upper()):
        _same(row, text)
    assert find_credentials(f"İ {phrase}", rows=(row,)) and find_credentials(phrase, rows=(row,))
    assert row.gate is not None and not row.gate("Summarise the attached incident notes " * 8)


def test_class_copies_keep_one_byte_per_character() -> None:
    classes = CharClasses({"0": str.isdigit, "a": str.isalpha})
    assert classes.copy("a1 b") == b"a0\x00a"
    assert classes.copy("") == b""
    assert classes.copy("1é") is None and classes.copy("İ") is None


_ASCII = string.digits * 3 + "abcdefxyzABCDEFIKS" + ".:- /_+()x\t\n"


@pytest.mark.parametrize("pinned", sorted(_FASTER))
def test_faster_conditions_on_ascii_text_equal_their_pinned_patterns(pinned: str) -> None:
    original = re.compile(pinned)
    faster = _FASTER[pinned]
    rng = random.Random(f"ascii:{pinned}")
    texts = ["0" * 8, "1" * 26, "aB12", "_a12", "1" + "_" * 25, "3" + "a" * 24, "12.3", "a 1 2", "0912"]
    for _ in range(20000):
        text = "".join(rng.choice(_ASCII) for _ in range(rng.randrange(1, 60)))
        texts.append(text)
        texts.append(text + "é")  # the same text, not ASCII: the fallback
    hits = 0
    for text in texts:
        expected = original.search(text) is not None
        hits += expected
        assert (faster.search(text) is not None) == expected, text
    assert hits > 100


def test_phone_runs_on_the_class_copy_are_the_pattern_s_runs() -> None:
    cluster, classes, on_copy = _phone_cluster()
    # Digits and punctuation are two classes: no ASCII character is both.
    assert all(not (cluster.fullmatch(chr(c)) and classes.table[c] != ord("0")) for c in range(128))
    rng = random.Random(7)
    alphabet = string.digits * 2 + "-. ()/+xX:[]~abc\t"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 50)))
        copy = classes.copy(text)
        assert copy is not None
        assert [m.span() for m in on_copy.finditer(copy)] == [m.span() for m in cluster.finditer(text)], text


def test_admitted_entities_unchanged_on_fuzzed_text() -> None:
    prefilter = _Analyzer(PIIConfig(phone_regions=("US", "GB"))).prefilter
    # The reference: each cheap condition its pinned pattern, the phone runs found on the text itself.
    pinned = {id(faster): re.compile(pattern) for pattern, faster in _FASTER.items()}
    reference = type(prefilter)(
        [
            dataclasses.replace(t, cheap=pinned.get(id(t.cheap), t.cheap), classes=None, cluster_copy=None)
            for t in prefilter.tests
        ],
        prefilter.entities,
    )
    assert sum(id(t.cheap) in pinned for t in prefilter.tests) >= 6
    rng = random.Random(99)
    seeds = ["+1 415 555 0100", "020 7946 0018", "DE89370400440532013000", "10.0.0.1", "912-70-1234"]
    admitted = 0
    for _ in range(5000):
        text = _fuzzed(rng, seeds)
        assert prefilter.admit(text) == reference.admit(text), text
        admitted += bool(reference.admit(text))
    assert admitted > 100


def test_base64_shortcut_finds_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from claude_guard.pii import _canonical

    rng = random.Random(64)
    encoded = base64.b64encode(b"password=hunter2-fake-canary").decode()
    values = [encoded, encoded.replace("+", "-"), "A" * 23 + "1", "A" * 24, "ab+/" * 6, "İ" + encoded]
    texts = [*_corpus_blocks(), *(_fuzzed(rng, values) for _ in range(3000))]
    fast = [list(base64_runs(text)) for text in texts]
    monkeypatch.setattr(_canonical, "_BASE64_SHORTEST", b"")  # an empty needle: no text is skipped
    assert fast == [list(base64_runs(text)) for text in texts]
    assert sum(map(bool, fast)) > 100
