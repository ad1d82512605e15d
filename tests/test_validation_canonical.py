from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_guard.validation import canonicalize, strip_invisible
from claude_guard.validation._canonical import canonical_char, is_invisible


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Ignore ALL Previous", "ignore all previous"),
        ("ig\u200bno\u00adre\u2060 all", "ignore all"),
        ("ign\U000e0041ore", "ignore"),
        ("іgnоrе", "ignore"),  # Cyrillic і, о, е
        ("ΙGΝΟRΕ", "ignore"),  # Greek capitals
        ("Ｉｇｎｏｒｅ", "ignore"),
        ("𝐈𝐠𝐧𝐨𝐫𝐞 𝒂𝒍𝒍", "ignore all"),
        ("ɪɢɴᴏʀᴇ", "ignore"),
        ("ïgnörë", "ignore"),
        ("a \t\u00a0 b", "a b"),
        ("a \n\n  \r\n b", "a\nb"),
        ("ＮＨＥＬＬＯ", "nhello"),
        ("＜｜im_start｜＞", "<|im_start|>"),
        ("STRASSE ß", "strasse ss"),
    ],
    ids=[
        "case",
        "zero-width",
        "tag-char",
        "cyrillic",
        "greek",
        "fullwidth",
        "math",
        "small-caps",
        "diacritics",
        "spaces",
        "line-breaks",
        "fullwidth-upper",
        "fullwidth-chatml",
        "casefold",
    ],
)
def test_canonical_forms(original: str, expected: str) -> None:
    assert canonicalize(original).text == expected


def test_offset_map_points_back_to_the_original() -> None:
    original = "Please  IGN\u200bORE\n\n all"
    canonical = canonicalize(original)
    start = canonical.text.index("ignore")
    span = canonical.original_span(start, start + len("ignore"))
    assert original[span[0] : span[1]] == "IGN\u200bORE"
    assert canonical.origin(len(canonical.text)) == len(original)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_offset_map_is_consistent(original: str) -> None:
    canonical = canonicalize(original)
    offsets = canonical.offsets()
    assert len(offsets) == len(canonical.text) + 1
    assert offsets == sorted(offsets)
    for index, char in enumerate(canonical.text):
        source = original[offsets[index]]
        # A collapsed whitespace run maps to its first character; anything else to the character it came from.
        assert char in canonical_char(source) or (char in " \n" and canonical_char(source) in (" ", "\n"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_canonicalization_is_idempotent_enough(original: str) -> None:
    once = canonicalize(original).text
    # Canonical text has no invisible characters and no whitespace runs.
    assert not any(is_invisible(c) for c in once)
    assert "  " not in once and "\n\n" not in once and " \n" not in once


def test_strip_invisible_keeps_meaningful_joiners() -> None:
    family = "\U0001f469\u200d\U0001f4bb"
    persian = "می\u200cخواهم"
    assert strip_invisible(family) == family
    assert strip_invisible(persian) == persian
    assert strip_invisible("a\u200bb\u00adc\u202ed\U000e0041") == "abcd"
