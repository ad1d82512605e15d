"""Validation rules: what a rule is, the default rule set, and the proof that every pattern is linear.

A rule reads the canonical text (see ``_canonical``) and either matches a regular expression or calls a
function. Python's ``re`` is a backtracking engine, so a pattern is accepted only when the work of one
match attempt is bounded by a constant of the pattern (`pattern_cost`): no back-references, no unbounded
repeat (except a pattern that is one repeat of one character class, which scans a run once), no
variable-width repeat or alternation inside a repeat, and a bounded match width. A search then costs at
most ``len(text) × pattern_cost`` steps, whatever the input.
"""

from __future__ import annotations

import enum
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigurationError, UnsafePatternError

__all__ = [
    "CODE_RULE_IDS",
    "DEFAULT_RULES",
    "MAX_PATTERN_COST",
    "MAX_PATTERN_WIDTH",
    "Rule",
    "RuleMode",
    "pattern_cost",
    "required_literals",
]

_sre: Any = importlib.import_module("re._parser")

MAX_PATTERN_WIDTH: Final = 1024
"""Longest text one match of a rule pattern may span."""
MAX_PATTERN_COST: Final = 10_000_000
"""Largest accepted bound on the steps of one match attempt (`pattern_cost`)."""

_REPEATS: Final = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_REFERENCES: Final = frozenset({"GROUPREF", "GROUPREF_EXISTS"})


class RuleMode(enum.StrEnum):
    """What a rule hit does.

    - ``block``: the request is refused with a 400 naming the rule id (the text is never echoed);
    - ``flag``: the request goes on; the hit is recorded in the audit decision and as a span event;
    - ``sanitize``: the request goes on with invisible characters stripped from every text segment.
    """

    BLOCK = "block"
    FLAG = "flag"
    SANITIZE = "sanitize"


RuleCheck = Callable[[str], bool | Iterable[tuple[int, int]]]
"""A custom check over the canonical text: ``True``/``False``, or the ``(start, end)`` spans it found."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One validation rule.

    Example:
        >>> rule = Rule(id="acme.codename", pattern=r"project\\s?falcon", mode=RuleMode.FLAG)
        >>> rule.find("tell me about project falcon")
        (14, 28)
    """

    id: str
    """Stable id, shown in 400 errors and audit records (e.g. ``override.instructions``)."""
    pattern: str | None = None
    """A regular expression over the canonical text (lower-case, confusables mapped, whitespace collapsed,
    line breaks kept as ``\\n``); compiled with ``re.DOTALL``. Must pass the linear-time check."""
    check: RuleCheck | None = None
    """A function over the canonical text, instead of ``pattern``. Its running time is the caller's
    responsibility: keep it linear."""
    mode: RuleMode = RuleMode.BLOCK
    """What a hit does; the configuration may override it per rule id."""
    category: str = "custom"
    """Family of the rule: ``code`` rules are skipped where the route allows code."""
    description: str = ""
    """What the rule catches, for docs and audit readers."""
    anchors: tuple[str, ...] = ()
    """Optional speed-up for ``pattern``: literal strings of which every match contains at least one.
    The pattern then runs only in windows around their occurrences (found with ``re``'s fast literal scan)
    instead of at every position. Leave empty when unsure: a wrong anchor set misses matches."""
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _anchors: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)
    _width: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id or not re.fullmatch(r"[a-z0-9_.\-]{1,64}", self.id):
            raise ConfigurationError("a rule id is 1-64 characters of a-z, 0-9, '_', '.' and '-'")
        if (self.pattern is None) == (self.check is None):
            raise ConfigurationError(f"rule {self.id}: give exactly one of pattern and check")
        if self.anchors and (self.pattern is None or not all(self.anchors)):
            raise ConfigurationError(f"rule {self.id}: anchors need a pattern and must be non-empty strings")
        if self.pattern is not None:
            pattern_cost(self.pattern)
            object.__setattr__(self, "_compiled", re.compile(self.pattern, re.DOTALL))
            object.__setattr__(self, "_width", int(_sre.parse(self.pattern).getwidth()[1]))
            object.__setattr__(self, "_anchors", tuple(re.compile(re.escape(a)) for a in self.anchors))

    @property
    def compiled(self) -> re.Pattern[str] | None:
        return self._compiled

    def find(self, text: str) -> tuple[int, int] | None:
        """The first span of ``text`` (canonical) this rule matches, or ``None``."""
        return self.search(text)[0]

    def search(self, text: str) -> tuple[tuple[int, int] | None, int]:
        """Like `find`, and also the number of characters the regular expressions were handed."""
        compiled = self._compiled
        if compiled is None:
            assert self.check is not None
            found = self.check(text)
            if isinstance(found, bool):
                return ((0, len(text)) if found else None), len(text)
            for start, end in found:
                return (start, end), len(text)
            return None, len(text)
        if not self._anchors:
            match = compiled.search(text)
            return (match.span() if match else None), len(text)
        return self._search_anchored(compiled, text)

    def _search_anchored(self, compiled: re.Pattern[str], text: str) -> tuple[tuple[int, int] | None, int]:
        # Every match contains an anchor, so it lies within ``width`` characters of one. Windows around
        # the occurrences (merged when they overlap) are searched in order. Each anchor is searched
        # forward only (its next occurrence is cached), so anchors cost len(anchors) scans of the text
        # and windows at most one more.
        width = self._width + 1
        size = len(text)
        scanned = 0
        upcoming: list[int] = []
        for anchor in self._anchors:
            match = anchor.search(text)
            scanned += size
            upcoming.append(match.start() if match else size)

        def advance(index: int, position: int) -> None:
            match = self._anchors[index].search(text, position)
            upcoming[index] = match.start() if match else size

        while True:
            first = min(upcoming)
            if first >= size:
                return None, scanned
            start = max(0, first - width)
            reach = first
            end = min(size, first + width)
            while True:
                for index, position in enumerate(upcoming):
                    if position <= reach:
                        advance(index, reach + 1)
                following = min(upcoming)
                if following >= size or following - width > end:
                    break
                reach = following
                end = min(size, following + width)
            match = compiled.search(text, start, end)
            scanned += end - start
            if match:
                return match.span(), scanned


def pattern_cost(pattern: str) -> int:
    """A bound on the backtracking steps of one match attempt of ``pattern`` at one position.

    Raises ``UnsafePatternError`` when no bound exists (see the module docstring).

    Example:
        >>> pattern_cost(r"ignore[^.]{0,10}?previous")
        275
        >>> pattern_cost(r"(a+)+b")
        Traceback (most recent call last):
        ...
        claude_guard.errors.UnsafePatternError: unbounded repeat in (a+)+b
    """
    try:
        parsed = _sre.parse(pattern)
    except re.error as exc:
        raise UnsafePatternError(f"invalid pattern: {exc}") from None
    items = list(parsed)
    if len(items) == 1 and str(items[0][0]) in _REPEATS and _is_single_char(items[0][1][2]):
        # One repeat of one character class: a greedy scan over one run, then a jump past it.
        return 2
    high = int(parsed.getwidth()[1])
    if high > MAX_PATTERN_WIDTH:
        raise UnsafePatternError(f"unbounded repeat in {pattern}")
    cost = int(_cost(parsed, pattern, inside_repeat=False)) * (high + 1)
    if cost > MAX_PATTERN_COST:
        raise UnsafePatternError(f"pattern too costly to match ({cost} steps per position): {pattern}")
    return cost


_GATE_ALTERNATIVES: Final = 8
"""At most this many literals in a gate (`required_literals`): each is one ``in`` test per text."""


def required_literals(compiled: re.Pattern[str]) -> tuple[str, ...]:
    """Literals of which every match of ``compiled`` contains at least one, read off its parse tree, or
    ``()`` when none is known (a case-insensitive pattern, a class or a repeat that may be empty…).

    A text holding none of them cannot match, so a rule is skipped on such a text after a few C substring
    searches (``in``), without its pattern's scan. From a sequence, the run of consecutive literals (or the
    requirement of a group, a repeat of at least one, or an alternation whose every arm has one) whose
    shortest literal is longest is kept.

    Example:
        >>> required_literals(re.compile(r"os ?\\. ?system"))
        ('system',)
        >>> required_literals(re.compile(r"\\[/?inst\\]|<</?sys>>"))
        ('inst]', 'sys>>')
        >>> required_literals(re.compile(r"(?i)ignore"))
        ()
    """
    parsed = _sre.parse(compiled.pattern, compiled.flags)
    if (parsed.state.flags | compiled.flags) & re.IGNORECASE:
        return ()
    return tuple(sorted(_required(parsed) or ()))


def _required(subpattern: Any) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in subpattern:
        name = str(op)
        if name == "LITERAL":
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        found: frozenset[str] | None = None
        if name == "SUBPATTERN":
            _group, add_flags, _del_flags, inner = av
            found = None if add_flags & re.IGNORECASE else _required(inner)
        elif name == "ATOMIC_GROUP":
            found = _required(av)
        elif name in _REPEATS:
            low, _high, item = av
            found = _required(item) if low >= 1 else None
        elif name == "IN" and all(str(member) == "LITERAL" for member, _ in av):
            found = frozenset(chr(code) for _, code in av)
        elif name == "BRANCH":
            arms = [_required(arm) for arm in av[1]]
            if all(arm is not None for arm in arms):
                found = frozenset().union(*(arm for arm in arms if arm is not None))
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset({"".join(run)}))
    usable = [literals for literals in candidates if len(literals) <= _GATE_ALTERNATIVES and all(literals)]
    if not usable:
        return None
    return max(usable, key=lambda literals: (min(map(len, literals)), -len(literals)))


def _is_single_char(subpattern: Any) -> bool:
    items = list(subpattern)
    return len(items) == 1 and str(items[0][0]) in {"IN", "LITERAL", "NOT_LITERAL", "ANY", "CATEGORY"}


def _cost(subpattern: Any, pattern: str, *, inside_repeat: bool) -> int:
    # The number of ways a backtracking engine can match ``subpattern`` at one position: the product of
    # the range of each variable repeat and of the alternation arms that can start on the same character.
    # Constructs whose ways multiply without bound are refused.
    total = 1
    items = list(subpattern)
    for index, (op, av) in enumerate(items):
        name = str(op)
        if name in _REFERENCES:
            raise UnsafePatternError(f"back-reference in {pattern}")
        if name in _REPEATS:
            low, high, item = av
            if high >= _sre.MAXREPEAT:
                raise UnsafePatternError(f"unbounded repeat in {pattern}")
            item_low, item_high = item.getwidth()
            variable = high != low
            if inside_repeat and variable and not _is_single_char(item):
                raise UnsafePatternError(f"nested variable repeat in {pattern}")
            if item_low != item_high and high > 1:
                raise UnsafePatternError(f"repeat of a variable-width group in {pattern}")
            inner = _cost(item, pattern, inside_repeat=inside_repeat or high > 1)
            if variable and _stops_before(item, items[index + 1 : index + 2]):
                variable = False
            total *= inner * (high - low + 1 if variable else 1)
        elif name == "BRANCH":
            if inside_repeat:
                raise UnsafePatternError(f"alternation inside a repeat in {pattern}")
            total *= _branch_ways(av[1], pattern)
        elif name == "SUBPATTERN":
            total *= _cost(av[3], pattern, inside_repeat=inside_repeat)
        elif name in {"ASSERT", "ASSERT_NOT"}:
            total *= _cost(av[1], pattern, inside_repeat=inside_repeat)
        elif name == "ATOMIC_GROUP":
            total *= _cost(av, pattern, inside_repeat=inside_repeat)
    return total


def _stops_before(item: Any, following: list[Any]) -> bool:
    # A repeat of one character class followed by a literal that the class refuses has one way to match:
    # it must stop exactly at that literal (``[^\]]{0,100}\]``).
    if not following or str(following[0][0]) != "LITERAL" or not _is_single_char(item):
        return False
    op, av = next(iter(item))
    code = following[0][1]
    if str(op) == "LITERAL":
        return bool(av != code)
    if str(op) == "NOT_LITERAL":
        return bool(av == code)
    if str(op) != "IN":
        return False
    negate = False
    accepted = False
    for class_op, class_av in av:
        kind = str(class_op)
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            accepted = accepted or class_av == code
        elif kind == "RANGE":
            accepted = accepted or class_av[0] <= code <= class_av[1]
        elif kind == "CATEGORY":
            probe = {"CATEGORY_SPACE": r"\s", "CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w"}.get(
                str(class_av)
            )
            if probe is None:
                return False
            accepted = accepted or re.fullmatch(probe, chr(code)) is not None
        else:
            return False
    return accepted == negate


def _branch_ways(arms: Any, pattern: str) -> int:
    # Only arms that accept the same first character can both match at one position.
    by_first: dict[int, int] = {}
    wild = 0
    for arm in arms:
        ways = _cost(arm, pattern, inside_repeat=False)
        items = list(arm)
        if items and str(items[0][0]) == "LITERAL":
            by_first[items[0][1]] = by_first.get(items[0][1], 0) + ways
        else:
            wild += ways
    return wild + max(by_first.values(), default=0)


# --- the default rule set -------------------------------------------------------------------------------
#
# All patterns read canonical text: lower-case ASCII look-alikes, one space between words, "\n" for line
# breaks.

DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    # The checklist's dangerous patterns.
    Rule(
        id="code.eval",
        pattern=r"eval ?\(",
        category="code",
        description="A call to eval( (the checklist's dangerous pattern).",
    ),
    Rule(
        id="code.import",
        pattern=r"__import__",
        category="code",
        description="Use of __import__ (the checklist's dangerous pattern).",
    ),
    Rule(
        id="code.os_system",
        pattern=r"os ?\. ?system",
        category="code",
        description="A call to os.system (the checklist's dangerous pattern).",
    ),
    # Role and template markers.
    Rule(
        id="markers.chatml",
        pattern=(
            r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|end_of_text|begin_of_text|"
            r"eot_id|eom_id|start_header_id|end_header_id)\|>|<(?:start|end)_of_turn>"
        ),
        category="markers",
        description="ChatML, Llama 3 and Gemma special tokens.",
    ),
    Rule(
        id="markers.llama",
        pattern=r"\[/?inst\]|<</?sys>>",
        anchors=("inst]", "sys>>"),
        category="markers",
        description="Llama 2 [INST] and <<SYS>> markers.",
    ),
)
"""The default pattern rules, all in block mode: the checklist's code patterns and model special tokens.

Intents (override, extraction, persona), turns, role markup and URLs are built into the validator
(lexicons and structure; see ``BUILTIN_RULE_IDS``), as is ``invisible.characters``."""

CODE_RULE_IDS: Final = frozenset(rule.id for rule in DEFAULT_RULES if rule.category == "code")
