"""The prefilter before Presidio (pii/_prefilter.py) never skips what Presidio would find: over the whole
corpus (every placement, both parts, the look-alikes), over PII values hidden by zero-width characters,
base64 and block splits, and over fuzzed strings for the phone bound and the hand-derived conditions.
Findings with the prefilter equal findings without it."""

from __future__ import annotations

import base64
import itertools
import random
import string
from collections.abc import Iterator

import pytest

from claude_guard.pii import PIIConfig, PIIEngine, Redactor
from claude_guard.pii._canonical import base64_runs, canonicalize
from claude_guard.pii._engine import SHORT_WINDOW, WINDOW, _Analyzer
from claude_guard.pii._prefilter import (
    _CHEAP,
    _FASTER,
    _PLUS,
    PHONE_GAP,
    Prefilter,
    fingerprint,
    phone_min_digits,
)
from data.secrets_corpus import body_of, corpus

ZERO_WIDTH = ["\u200b", "\u200d", "\u2060", "\ufeff"]


@pytest.fixture(scope="module")
def analyzer() -> _Analyzer:
    return _Analyzer(PIIConfig(phone_regions=("US", "GB")))


def _corpus_texts() -> Iterator[tuple[str, tuple[str, ...]]]:
    for part in ("development", "held_out"):
        c = corpus(part)
        for s in c.samples:
            yield s.placement, s.blocks
        for _, text in c.lookalikes:
            yield "lookalike", (text,)


def _hidden_variants() -> Iterator[tuple[str, tuple[str, ...]]]:
    # Every PII value of the corpus again, hidden the ways the canonical layer undoes: a zero-width
    # character inside it, the whole sentence base64-encoded, and cut across two blocks at every third
    # position.
    rng = random.Random(15)
    for part in ("development", "held_out"):
        for s in corpus(part).samples:
            if s.family != "pii" or s.placement != "prose":
                continue
            text = s.blocks[0]
            start = text.index(s.value)
            at = start + rng.randint(1, len(s.value) - 1)
            yield "zero_width", (text[:at] + rng.choice(ZERO_WIDTH) + text[at:],)
            encoded = base64.b64encode(text.encode()).decode()
            yield "base64", (f"stored encoded: {encoded} (decode with base64 -d)",)
            for cut in range(start + 1, start + len(s.value), 3):
                yield "split_blocks", (text[:cut], text[cut:])


def _analysed_texts(blocks: tuple[str, ...]) -> list[str]:
    # What the engine hands Presidio for a request of these blocks: the joined text, each base64 run's
    # decoded text, and the short window around each block boundary (all canonical).
    joined = canonicalize("\n\n".join(blocks)).text
    texts = [joined, *(decoded for _, _, decoded in base64_runs(joined))]
    for tail, head in itertools.pairwise(blocks):
        texts.append(canonicalize(tail[-SHORT_WINDOW:] + head[:SHORT_WINDOW]).text)
    return [t for t in texts if t.strip()]


def test_every_pinned_condition_is_active_for_the_installed_presidio(analyzer: _Analyzer) -> None:
    # A new Presidio whose patterns changed turns a hand-derived condition off (speed only, never recall);
    # this test says when to derive them again.
    pinned = {t.entities for t in analyzer.prefilter.tests if t.cheap is not None}
    assert len(pinned) == len(_CHEAP) == 8
    assert {t.kind for t in analyzer.prefilter.tests} == {"patterns", "phone"}
    assert analyzer.prefilter.gated


def test_admitted_entities_include_every_entity_presidio_finds_over_the_corpus(analyzer: _Analyzer) -> None:
    checked: dict[str, int] = {}
    found_by_presidio: dict[str, int] = {}
    skipped = 0
    missed = []
    for placement, blocks in [*_corpus_texts(), *_hidden_variants()]:
        for text in _analysed_texts(blocks):
            results = analyzer.analyzer.analyze(
                text=text, language="en", entities=analyzer.presidio_entities, score_threshold=0.0
            )
            found = {r.entity_type for r in results}
            admitted = set(analyzer.prefilter.admit(text))
            if not found <= admitted:
                missed.append((placement, sorted(found - admitted), text[:120]))
            checked[placement] = checked.get(placement, 0) + 1
            if found:
                found_by_presidio[placement] = found_by_presidio.get(placement, 0) + 1
            skipped += not admitted
    assert missed == []
    # Not vacuous: Presidio found something in every kind of placement, and most texts skipped it.
    for placement in ("prose", "split_blocks", "zero_width", "base64", "json_tool_result"):
        assert found_by_presidio.get(placement, 0) > 10, (placement, found_by_presidio)
    assert skipped > sum(checked.values()) // 3


async def test_findings_are_the_same_with_and_without_the_prefilter() -> None:
    engine = PIIEngine(PIIConfig(hmac_key="k", phone_regions=("US",), executor="thread", max_pending=512))
    try:
        with_prefilter = Redactor(engine=engine)
        samples = [blocks for _, blocks in [*_corpus_texts(), *_hidden_variants()]][::3]
        outcomes = []
        for blocks in samples:
            outcomes.append((await with_prefilter.redact(body_of(blocks), principal="p")).body)
        analyzer = engine._analyzer
        assert analyzer is not None
        calls = analyzer.presidio_calls
        analyzer.use_prefilter = False
        engine._light = None  # every text through the pool, every entity asked for
        for blocks, expected in zip(samples, outcomes, strict=True):
            assert (await with_prefilter.redact(body_of(blocks), principal="p")).body == expected, blocks
        assert analyzer.presidio_calls - calls > 1.5 * calls  # the prefilter saved most calls
    finally:
        engine.close()


def test_clean_text_never_reaches_presidio() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",), executor="thread"))
    try:
        analyzer = engine._analyzer
        assert analyzer is not None
        before = analyzer.presidio_calls
        prose = "The outage began at 09:12 UTC on 2 June; retries piled up until 3 nodes were added. " * 12
        assert engine.analyze_sync(prose) == []
        assert analyzer.presidio_calls == before
        engine.analyze_sync("call me on +1 415 555 0100")
        assert analyzer.presidio_calls == before + 1
    finally:
        engine.close()


async def test_small_clean_texts_are_analysed_inline_and_others_in_the_pool() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",), executor="thread"))
    try:
        engine._pool.shutdown(wait=True)
        # Own rows still run without the pool: a secret is found in a small text Presidio has no part in.
        key = "AKIA" + "IOSFODNN7EXAMPLE"
        assert [f.entity for f in await engine.analyze(f"the key is {key}")] == ["AWS_ACCESS_KEY"]
        windows = await engine.analyze_windows([("mail ada@exa", "mple.internal ok")])
        assert {f.entity for f in windows[0]} == {"EMAIL_ADDRESS"}
        # A phone number needs Presidio, and a long text the pool: both meet the closed pool.
        for text in ("call +1 415 555 0100", "plain words " * 1000):
            with pytest.raises(Exception, match="failed"):
                await engine.analyze(text)
    finally:
        engine.close()


def test_ner_and_unknown_recognizers_are_always_admitted() -> None:
    from presidio_analyzer import EntityRecognizer
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    class Custom(EntityRecognizer):  # type: ignore[misc]
        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[object]:
            return []

    prefilter = Prefilter.build(
        [SpacyRecognizer(), Custom(supported_entities=["THING"])],
        ["PERSON", "LOCATION", "THING"],
        phone_regions=("US",),
    )
    assert not prefilter.gated
    assert prefilter.admit("ada lovelace lives in london") == ["PERSON", "LOCATION", "THING"]
    assert prefilter.admit("   ") == []


def test_custom_patterns_and_deny_lists_use_their_own_expressions() -> None:
    from claude_guard.pii import PIIPattern

    analyzer = _Analyzer(
        PIIConfig(
            entities=("EMPLOYEE_ID",),
            patterns=(PIIPattern(entity="EMPLOYEE_ID", regex=r"\bEMP-\d{6}\b"),),
            deny_lists={"PROJECT": ("Bluebird",)},
        )
    )
    assert analyzer.prefilter.admit("nothing to see") == []
    assert analyzer.prefilter.admit("badge EMP-123456 on project bluebird") == ["EMPLOYEE_ID", "PROJECT"]
    assert {f.entity for f in analyzer.analyze("badge EMP-123456 on project bluebird")} == {
        "EMPLOYEE_ID",
        "PROJECT",
    }


# -- fuzzing the two hand-made bounds ------------------------------------------------------------------


def _phone_like(rng: random.Random) -> str:
    punctuation = "-. ()/+x\u2010\u00a0\uff0d"
    parts = [rng.choice(["", "+", "(", "+1 ", "+44 ", "+49 ", "00", "011 ", "0"])]
    groups = rng.choice([None, (3, 3, 4), (2, 4), (3, 4), (4, 6), (2, 3, 3), (1, 2, 2, 2)])
    for size in groups or [rng.randint(1, 5) for _ in range(rng.randint(1, 5))]:
        parts.append(
            "".join(
                rng.choice(string.digits[1:] if rng.random() < 0.5 else string.digits) for _ in range(size)
            )
        )
        gap = rng.choice([" ", "-", "."]) if groups else ""
        parts.append(gap or "".join(rng.choice(punctuation) for _ in range(rng.randint(0, PHONE_GAP + 1))))
    return (
        rng.choice(["call ", "tel: ", "", "no. "]) + "".join(parts) + rng.choice(["", " ext. 12", " today"])
    )


@pytest.mark.parametrize("regions", [("US",), ("US", "GB"), ("DE", "FR", "IL", "IN", "CA", "BR")])
def test_phone_bound_against_the_phone_recognizer(regions: tuple[str, ...]) -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    recognizer = PhoneRecognizer(supported_regions=regions)
    prefilter = Prefilter.build([recognizer], ["PHONE_NUMBER"], phone_regions=regions)
    test = prefilter.tests[0]
    assert test.digits == max(phone_min_digits(regions), test.digits_plus) >= test.digits_plus >= 4
    assert test.digits_plus == phone_min_digits(regions, international=True)
    rng = random.Random(f"phones:{regions}")
    found = 0
    for _ in range(3000):
        text = _phone_like(rng)
        if recognizer.analyze(text, ["PHONE_NUMBER"]):
            found += 1
            assert prefilter.admit(text) == ["PHONE_NUMBER"], text
    assert found > 100  # the fuzzer reaches real numbers


def test_phone_bounds_read_from_phonenumbers() -> None:
    from phonenumbers.phonenumberutil import _PLUS_CHARS

    assert set(_PLUS) == set(_PLUS_CHARS)
    # US numbers have ten digits, or 011 before another country's; GB has seven-digit numbers (0800 1111).
    assert phone_min_digits(("US",)) == 9
    assert phone_min_digits(("US", "GB")) == 7
    assert phone_min_digits(("US",), international=True) == 6
    prefilter = _Analyzer(PIIConfig(phone_regions=("US",))).prefilter
    assert "PHONE_NUMBER" not in prefilter.admit("release 2024.06, build 31-12")
    assert "PHONE_NUMBER" in prefilter.admit("call +49 1234 56")
    assert "PHONE_NUMBER" in prefilter.admit("call (+49) 1234 56")
    assert "PHONE_NUMBER" not in prefilter.admit("call 49 1234 56")


def test_cheap_conditions_against_their_patterns(analyzer: _Analyzer) -> None:
    # Each hand-derived condition must hold wherever one of its recognizer's own patterns matches.
    alphabet = string.digits * 3 + "abcdefxyzABCDEFIKS" + ".:- /_" + "\u017f\u212a٣"
    rng = random.Random(1515)
    tests = [t for t in analyzer.prefilter.tests if t.cheap is not None]
    hits = dict.fromkeys((t.entities for t in tests), 0)
    seeds = [
        *("10.0.0.1", "fe80::1", "::", "1:2:3:4:5:6:7:8", "DE89370400440532013000", "GB82WEST12345698765432"),
        *("912-70-1234", "536-90-4399", "943 1234", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "4011111111111111"),
    ]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 40)))
        if rng.random() < 0.2:
            text += rng.choice(seeds) + rng.choice(["", " ", "x", "1"])
        for t in tests:
            if any(p.search(text) for p in t.exact):
                hits[t.entities] += 1
                assert t.cheap is not None and t.cheap.search(text), (t.entities, text)
    assert all(n > 20 for n in hits.values()), hits  # every condition was put to the test


def test_fingerprints_pin_exactly_the_patterns_they_were_derived_from(analyzer: _Analyzer) -> None:
    for recognizer in analyzer.analyzer.registry.recognizers:
        pinned = _CHEAP.get(type(recognizer).__name__)
        if pinned is not None:
            assert fingerprint([p.regex for p in recognizer.patterns]) == pinned[0]
    assert fingerprint(["x"]) != fingerprint(["x", ""])


def test_windows_keep_presidio_values_split_across_blocks(analyzer: _Analyzer) -> None:
    phone = "+1 415 555 0100"
    for cut in range(3, len(phone) - 3):
        tail, head = "call me on " + phone[:cut], phone[cut:] + " after five"
        found = analyzer.analyze_windows([(tail, head)])[0]
        assert any(f.entity == "PHONE_NUMBER" for f in found), cut
    assert WINDOW > SHORT_WINDOW


_GATE_ALPHABET = "0123456789abcdefABCDEF:._- xyzé٣½\n"


@pytest.mark.parametrize("pinned", sorted(_FASTER))
def test_faster_conditions_equal_their_pinned_patterns(pinned: str) -> None:
    import re

    original = re.compile(pinned)
    faster = _FASTER[pinned]
    rng = random.Random(20261202)
    texts = ["", "::", "1.2", "a.b", "DE44", "de4", "1:2:3:4:5:6:7:", "ab:cd:ef:01:23:45:67:", "é٣12", "½x12"]
    texts += ["1.2.3.4", "1.22.333.4", "1.2222.3.4", "3.12.5", "123-45", "123 456", "123.45", "é123-456"]
    texts += ["".join(rng.choice(_GATE_ALPHABET) for _ in range(rng.randrange(1, 40))) for _ in range(20000)]
    for text in texts:
        assert (faster.search(text) is not None) == (original.search(text) is not None), text
