"""Which of Presidio's recognizers can find anything in a text, decided before Presidio is called.

Presidio's cost is mostly fixed per call (spaCy tokenizes the whole text, every recognizer runs, the phone
matcher parses per region), so a text that cannot hold any configured entity should never reach it. For
each recognizer the engine keeps, `Prefilter` holds a test that *proves* the recognizer finds nothing, or
admits it:

- a pattern recognizer (Presidio's own, national ids, custom patterns, deny lists) finds nothing when none
  of its own regular expressions matches: they are run here with the recognizer's flags, exactly as it
  runs them (validation and context can only drop or re-score a match, never add one). Before them, for
  Presidio's recognizers whose patterns are pinned below by a fingerprint, a cheaper necessary condition
  (``[0-9]{8}`` for a bank number...) derived from those patterns by hand; a fingerprint that changes with a
  new Presidio version turns the cheap condition off, never the exact one;
- the phone recognizer (``phonenumbers``' matcher) needs, in one run of digits joined by at most four of its
  punctuation characters, at least as many digits as the shortest valid number of the configured regions
  (national form, or after their international prefix), or, after a ``+``, of any country, read from
  ``phonenumbers``' own metadata;
- any other recognizer (a NER model, one whose ``analyze`` is its own) is always admitted: nothing cheap
  proves a model finds no name.

Presidio is then called with the admitted entities only, or not at all. Tests check, over the whole corpus
and fuzzed strings, that the admitted entities always include every entity Presidio finds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .._credentials import CharClasses

__all__ = ["PHONE_GAP", "Prefilter", "phone_min_digits"]

# Necessary conditions for Presidio's own pattern recognizers, each valid only for the patterns whose
# fingerprint (the first 16 hex digits of the SHA-256 of the pattern regexes, one per line) is given.
# Derivation, for the patterns of presidio-analyzer 2.2.366:
#   bank number  \b[0-9]{8,17}\b                               -> eight ASCII digits in a row
#   passport     \b[0-9]{9}\b | \b[A-Z][0-9]{8}\b              -> eight ASCII digits in a row
#   SSN          [0-9]{5}-[0-9]{4}, [0-9]{3}-[0-9]{6},          -> three ASCII digits, then two, with at
#                [0-9]{3}-[0-9]{2}-.., [0-9]{9},                    most one of "- ." between them
#                [0-9]{3}[- .][0-9]{2}[- .]..
#   NHS          \b([0-9]{3})[- ]?([0-9]{3})[- ]?..            -> three ASCII digits, then three, with at
#                                                                   most one of "- " between them
#   ITIN         every alternative starts \b9\d{2}            -> "9" and two digits (Unicode \d)
#   crypto       (bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}           -> "1" or "3" and 25 word characters
#   IBAN         [A-Z]{2}[0-9]{2}... (case-insensitive)        -> two letters, two ASCII digits
#   IP           IPv4: a dotted quad (digit, two groups of one to three digits, digit, joined by "."): the
#                IPv4 pattern and the IPv6 one ending in IPv4 after six groups; every other IPv6 form holds
#                "::" or is seven "hex:" groups and a last one
_CHEAP: Final[dict[str, tuple[str, str]]] = {
    "UsBankRecognizer": ("77ff5492baf67207", r"[0-9]{8}"),
    "UsPassportRecognizer": ("4d39378952a1fd07", r"[0-9]{8}"),
    "UsSsnRecognizer": ("99e2c61f6a973b04", r"[0-9]{3}[- .]?[0-9]{2}"),
    "NhsRecognizer": ("d813b701023b5188", r"[0-9]{3}[- ]?[0-9]{3}"),
    "UsItinRecognizer": ("1dc3ba3379d4812d", r"9\d\d"),
    "CryptoRecognizer": ("9d9a993fd6aee894", r"[13]\w{25}"),
    "IbanRecognizer": ("1f98697e78e08d67", r"[^\W\d_]{2}[0-9]{2}"),
    "IpRecognizer": (
        "2e5b4e8ccce1e531",
        r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|::|(?:[0-9A-Fa-f]{1,4}:){7}",
    ),
}


class _Search(Protocol):
    def search(self, text: str, /) -> object | None: ...


class _IpGate:
    """``_CHEAP["IpRecognizer"]``'s condition, searched cheaper: Python's ``re`` finds a pattern that starts
    with a literal by a fast scan for it, but tries a character class at every position, and prose is
    full of the hex letters and digits the pinned pattern starts with. Equal to that pattern's ``search``
    on every text (property test)."""

    __slots__ = ()
    _dotted: Final = re.compile(r"\.(?<=[0-9]\.)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")
    _groups: Final = re.compile(r"(?:[0-9A-Fa-f]{1,4}:){7}")

    def search(self, text: str, /) -> object | None:
        if "::" in text:
            return True
        if self._dotted.search(text) is not None:
            return True
        if text.count(":") >= 7:
            return self._groups.search(text)
        return None


class _ClassGate:
    """A pinned condition that starts with a character class, searched on an ASCII text's class copy
    (`CharClasses`: one byte per character, the class's byte), where it starts with a literal: ``re`` finds a
    literal by a fast scan, but tries a class at every position (a dozen microseconds per KB of prose). A
    text that is not ASCII is searched by ``fallback``."""

    __slots__ = ("classes", "fallback", "needle", "pattern")

    def __init__(
        self, classes: dict[str, str], pattern: bytes, fallback: str, *, literal: bool = False
    ) -> None:
        """``literal``: ``pattern`` is a plain string of class bytes, looked for with ``in`` (faster than a
        regular expression made of literals alone)."""
        self.classes = CharClasses({name: re.compile(cls).fullmatch for name, cls in classes.items()})
        self.needle = pattern if literal else None
        self.pattern = re.compile(re.escape(pattern) if literal else pattern)
        self.fallback = re.compile(fallback)

    def search(self, text: str, /) -> object | None:
        copy = self.classes.copy(text)
        if copy is None:
            return self.fallback.search(text)
        if self.needle is not None:
            return True if self.needle in copy else None
        return self.pattern.search(copy)


# Pinned conditions re-written to search faster, each equal to the original on every text (property test):
# the IBAN condition looked for two letters at every letter of prose; now for a digit, then behind it (or,
# in ASCII text, for "aa00" on the class copy).
_FASTER: Final[dict[str, _Search]] = {
    r"[0-9]{8}": _ClassGate({"0": "[0-9]"}, b"0" * 8, r"[0-9]{8}", literal=True),
    r"[0-9]{3}[- .]?[0-9]{2}": _ClassGate(
        {"0": "[0-9]", "s": "[- .]"}, rb"000s?00", r"[0-9]{3}[- .]?[0-9]{2}"
    ),
    r"[0-9]{3}[- ]?[0-9]{3}": _ClassGate({"0": "[0-9]", "s": "[- ]"}, rb"000s?000", r"[0-9]{3}[- ]?[0-9]{3}"),
    # "1" and "3" are word characters too: their own class, which the pattern takes as one.
    r"[13]\w{25}": _ClassGate({"1": "[13]", "w": r"\w"}, rb"1[1w]{25}", r"[13]\w{25}"),
    r"[^\W\d_]{2}[0-9]{2}": _ClassGate(
        {"0": "[0-9]", "a": r"[^\W\d_]"}, b"aa00", r"[0-9](?<=[^\W\d_]{2}[0-9])[0-9]", literal=True
    ),
    r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|::|(?:[0-9A-Fa-f]{1,4}:){7}": _IpGate(),
}

PHONE_GAP: Final = 4
"""Punctuation characters ``phonenumbers``' matcher allows between two digit blocks of one number."""


def fingerprint(patterns: Sequence[str]) -> str:
    """The fingerprint `_CHEAP` pins a pattern list by."""
    return hashlib.sha256("\n".join(patterns).encode()).hexdigest()[:16]


def phone_min_digits(regions: Sequence[str], *, valid: bool = True, international: bool = False) -> int:
    """The fewest digits a phone number the matcher reports can have when parsed for ``regions``.

    ``international``: the number is preceded by a ``+`` (any country: its code plus its shortest national
    number). Otherwise it is national to one of ``regions`` (that region's shortest national number) or
    starts with that region's international prefix (``011``, ``00``: the prefix's digits plus any country's
    shortest). ``valid``: the matcher's leniency is ``VALID`` or stricter (a valid number has one of its
    type's lengths; a merely possible one may also have a local-only length). Read from ``phonenumbers``'
    own metadata.
    """
    import phonenumbers
    from phonenumbers import PhoneMetadata

    def shortest(metadata: Any) -> int:
        desc = metadata.general_desc
        local = () if valid else desc.possible_length_local_only
        lengths = [n for n in (*desc.possible_length, *local) if n > 0]
        return min(lengths) if lengths else 1

    any_country = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is not None:
            any_country.append(len(str(metadata.country_code)) + shortest(metadata))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        nongeo = PhoneMetadata.metadata_for_nongeo_region(code)
        if nongeo is not None:
            any_country.append(len(str(code)) + shortest(nongeo))
    plus = max(1, min(any_country))
    if international:
        return plus
    national = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper())
        if metadata is None:
            return plus
        national.append(min(shortest(metadata), _prefix_length(metadata.international_prefix) + plus))
    return max(1, min(national, default=plus))


def _prefix_length(pattern: str | None) -> int:
    # The fewest digits of a region's international prefix (a regular expression, "011", "0(?:0|1[2-9])"):
    # tried on every digit string up to three long; none that short means four or more.
    if not pattern:
        return 0
    compiled = re.compile(pattern)
    for length in (1, 2, 3):
        for number in range(10**length):
            if compiled.fullmatch(str(number).zfill(length)):
                return length
    return 4


_PLUS: Final = "+\uff0b"
"""``phonenumbers``' plus characters (checked against its ``_PLUS_CHARS`` by a test)."""


def _phone_cluster() -> tuple[re.Pattern[str], CharClasses, re.Pattern[bytes]]:
    # Digits joined by at most PHONE_GAP of the matcher's punctuation characters (its own constants): every
    # number the matcher reports lies inside one such run. With the same runs found on an ASCII text's class
    # copy (digits "0", punctuation "p"), where the pattern starts with a literal.
    from phonenumbers.phonenumberutil import _PLUS_CHARS, _VALID_PUNCTUATION

    flags = re.UNICODE | re.IGNORECASE
    punctuation = f"[{_VALID_PUNCTUATION}{_PLUS_CHARS}]"
    classes = CharClasses(
        {"0": re.compile(r"\d", flags).fullmatch, "p": re.compile(punctuation, flags).fullmatch}
    )
    cluster = re.compile(rf"\d(?:{punctuation}{{0,{PHONE_GAP}}}\d)*", flags)
    return cluster, classes, re.compile(rb"0(?:p{0,%d}0)*" % PHONE_GAP)


@dataclass(frozen=True, slots=True)
class _Test:
    entities: tuple[str, ...]
    kind: str
    """``always``, ``patterns`` or ``phone``."""
    cheap: _Search | None = None
    exact: tuple[Any, ...] = ()
    """``regex`` patterns compiled with the recognizer's flags."""
    digits: int = 0
    """Phone: the fewest digits of a number written without a ``+``."""
    digits_plus: int = 0
    """Phone: the fewest digits of a number written with a ``+`` (at most ten characters before it)."""
    cluster: re.Pattern[str] | None = None
    classes: CharClasses | None = None
    """Phone: the class copy the ASCII texts' runs are found on, by ``cluster_copy``."""
    cluster_copy: re.Pattern[bytes] | None = None


class Prefilter:
    """The entities worth asking Presidio for in a text (see the module docstring). Picklable: a process
    pool's worker builds it and the parent uses it to keep clean texts out of the pool.

    Example:
        >>> from claude_guard.pii import PIIConfig
        >>> from claude_guard.pii._engine import _Analyzer
        >>> prefilter = _Analyzer(PIIConfig(phone_regions=("US",))).prefilter
        >>> prefilter.admit("The outage began at 09:12 UTC.")
        []
        >>> prefilter.admit("Call +1 415 555 0100 or ping 10.1.2.3")  # 3-3-4 digits could be an NHS number
        ['PHONE_NUMBER', 'UK_NHS', 'IP_ADDRESS']
    """

    __slots__ = ("entities", "gated", "tests")

    def __init__(self, tests: Sequence[_Test], entities: Sequence[str]) -> None:
        self.tests = tuple(tests)
        self.entities = tuple(entities)
        """Every entity Presidio is asked for, in the engine's order."""
        self.gated = all(t.kind != "always" for t in self.tests)
        """Whether some text can skip Presidio altogether (no always-admitted recognizer)."""

    def __getstate__(self) -> tuple[tuple[_Test, ...], tuple[str, ...]]:
        return self.tests, self.entities

    def __setstate__(self, state: tuple[tuple[_Test, ...], tuple[str, ...]]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    @classmethod
    def build(
        cls, recognizers: Sequence[Any], entities: Sequence[str], *, phone_regions: Sequence[str]
    ) -> Prefilter:
        """The tests for Presidio's recognizers (what the engine keeps), for ``entities``."""
        from presidio_analyzer import PatternRecognizer
        from presidio_analyzer.predefined_recognizers import IbanRecognizer, PhoneRecognizer

        wanted = set(entities)
        tests = []
        for recognizer in recognizers:
            served = tuple(e for e in recognizer.supported_entities if e in wanted)
            if not served:
                continue
            analyze = type(recognizer).analyze
            if isinstance(recognizer, PhoneRecognizer) and analyze is PhoneRecognizer.analyze:
                tests.append(_phone_test(served, recognizer, phone_regions))
            elif isinstance(recognizer, PatternRecognizer) and analyze in (
                PatternRecognizer.analyze,
                IbanRecognizer.analyze,
            ):
                tests.append(_pattern_test(served, recognizer))
            else:
                tests.append(_Test(served, "always"))
        return cls(tests, [e for e in entities if any(e in t.entities for t in tests)])

    def admit(self, text: str) -> list[str]:
        """The entities (in the engine's order) some recognizer may find in ``text``; ``[]``: none can."""
        if not text.strip():
            return []
        admitted: set[str] = set()
        cheap: dict[int, bool] = {}  # recognizers pinned to the same condition share one search
        for test in self.tests:
            if admitted.issuperset(test.entities) or not _passes(test, text, cheap):
                continue
            admitted.update(test.entities)
        return [e for e in self.entities if e in admitted]

    def cheap_gates(self) -> int:
        """How many pattern tests have a cheap condition before their exact patterns (for tests)."""
        return sum(t.cheap is not None for t in self.tests)


def _passes(test: _Test, text: str, cheap: dict[int, bool] | None = None) -> bool:
    if test.kind == "always":
        return True
    if test.kind == "phone":
        assert test.cluster is not None
        copy = test.classes.copy(text) if test.classes is not None else None
        matches = test.cluster.finditer(text) if copy is None else test.cluster_copy.finditer(copy)  # type: ignore[union-attr]
        for match in matches:
            start, end = match.span()
            if end - start < test.digits_plus:
                continue
            run = text[start:end]
            # An "x" may be read as a digit (vanity numbers): count it as one.
            digits = sum(c.isdecimal() or c in "xX" for c in run)
            if digits >= test.digits:
                return True
            # Fewer digits make a number only after a "+": in the run, or among the at most two opening
            # brackets or plus signs, each with up to four punctuation characters, the matcher allows before
            # a number's first digit.
            if digits >= test.digits_plus:
                lead = text[max(0, start - 2 * (1 + PHONE_GAP)) : start]
                if any(c in _PLUS for c in run) or any(c in _PLUS for c in lead):
                    return True
        return False
    if test.cheap is not None:
        key = id(test.cheap)
        found = cheap.get(key) if cheap is not None else None
        if found is None:
            found = test.cheap.search(text) is not None
            if cheap is not None:
                cheap[key] = found
        if not found:
            return False
    for pattern in test.exact:
        try:
            if pattern.search(text, timeout=_REGEX_TIMEOUT) is not None:
                return True
        except TimeoutError:
            return True  # not proved: Presidio decides
    return False


_REGEX_TIMEOUT: Final = 1.0


def _pattern_test(served: tuple[str, ...], recognizer: Any) -> _Test:
    import regex  # type: ignore[import-untyped]  # presidio's dependency, untyped

    patterns = [p.regex for p in recognizer.patterns]
    flags = recognizer.global_regex_flags
    exact = tuple(regex.compile(p, flags=flags) for p in patterns)
    cheap = None
    pinned = _CHEAP.get(type(recognizer).__name__)
    module = type(recognizer).__module__
    if pinned is not None and module.startswith("presidio_analyzer.") and fingerprint(patterns) == pinned[0]:
        cheap = _FASTER.get(pinned[1]) or re.compile(pinned[1])
    return _Test(served, "patterns", cheap=cheap, exact=exact)


def _phone_test(served: tuple[str, ...], recognizer: Any, regions: Sequence[str]) -> _Test:
    try:
        cluster, classes, cluster_copy = _phone_cluster()
    except ImportError:  # a phonenumbers without these constants: not proved
        return _Test(served, "always")
    leniency = getattr(recognizer, "leniency", 0)
    valid = leniency is not None and leniency >= 1
    regions = tuple(getattr(recognizer, "supported_regions", regions))
    national = phone_min_digits(regions, valid=valid)
    plus = phone_min_digits(regions, valid=valid, international=True)
    return _Test(
        served,
        "phone",
        digits=max(national, plus),
        digits_plus=plus,
        cluster=cluster,
        classes=classes,
        cluster_copy=cluster_copy,
    )
