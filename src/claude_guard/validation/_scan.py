"""One validation's scan of its text layers: the pattern rules, the intent lexicons, role markup and URLs
over a canonical text, each finding scored and lowered by its context (``_scoring``), with a locator that
maps it back to the joined text only when it becomes a hit. `PromptValidator` (``_validator``) drives it
over the joined text and every decoded layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..messages._segments import adjacent_pairs, locate
from ..messages._walker import Leaf, ObjectKey
from ._canonical import Canonical, canonicalize
from ._config import (
    INVISIBLE_RULE_ID,
    RuleHit,
    ValidationConfig,
    WorkMeter,
)
from ._decoders import Candidate, canonical_candidates, encoded_runs, raw_candidates
from ._invisible import first_invisible, invisible_offsets, strip_invisible
from ._lexicon import LexiconMatcher
from ._rules import CODE_RULE_IDS, Rule, RuleMode, required_literals
from ._scoring import (
    CODE_FACTOR,
    EDUCATION_FACTOR,
    HIDDEN_BONUS,
    QUOTE_FACTOR,
    TECHNICAL_FACTOR,
    TRANSLATION_FACTOR,
    CodeSpans,
    quoted,
    spoken,
)
from ._sparse import sparse_escapes
from ._structure import find_role_markers, find_url_exfiltration
from ._words import imperative

_MAX_DETECTOR_TEXTS: Final = 32
_CONTEXT_FREE: Final = frozenset({*CODE_RULE_IDS, INVISIBLE_RULE_ID})
_READINGS: Final = frozenset({"leetspeak", "zero_width", "spaced"})
_URL_RULES: Final = frozenset({"exfil.markdown_image", "exfil.html_resource", "exfil.url_placeholder"})


Locator = Callable[[], tuple[int, int]]


@dataclass(slots=True)
class _Finding:
    rule_id: str
    layer: str
    score: float
    reasons: tuple[str, ...]
    locate: Locator
    """Where, in joined-text coordinates; computed only for findings that become hits."""


RuleSearch = Callable[[str], "re.Match[str] | None"]


def rule_finders(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, RuleSearch | None, tuple[str, ...]], ...]:
    """Each rule with its compiled pattern's ``search`` when `Rule.find` would only call it (a plain
    pattern without anchors, on a `Rule` itself), and its gate: literals of which every match holds one
    (`required_literals`, read off the pattern of any `Rule` itself, anchored or not).

    The scan then calls the C method directly, not two Python methods around it, for every rule of every
    layer, and only when the text (the canonical text the rule reads) holds one of those literals (``in``
    is a C substring search, several times cheaper than the pattern's own scan for it). ``None``: call
    `Rule.find`; ``()``: no gate (a check function, a subclass, a pattern without a required literal).
    """
    finders: list[tuple[Rule, RuleSearch | None, tuple[str, ...]]] = []
    for rule in rules:
        compiled = rule.compiled
        if type(rule) is not Rule or compiled is None:
            finders.append((rule, None, ()))
            continue
        gate = required_literals(compiled)
        finders.append((rule, None if rule.anchors else compiled.search, gate))
    return tuple(finders)


@dataclass(slots=True)
class _Scan:
    """One validation's working state."""

    config: ValidationConfig
    rules: tuple[tuple[Rule, RuleSearch | None, tuple[str, ...]], ...]
    """The pattern rules, each with its direct search and its gate of literals (see `rule_finders`)."""
    matcher: LexiconMatcher
    meter: WorkMeter
    budget: int
    findings: list[_Finding] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """Canonical text of each layer (for the user's detectors)."""
    contexts: dict[str, bool] = field(default_factory=dict)


def _apply_request_context(scan: _Scan) -> None:
    # A translation or proofreading request, or security teaching, anywhere in the prompt lowers the intent
    # and role-marker findings of every layer (it cannot hide code rules, invisible characters or URLs).
    factor = 1.0
    reasons: list[str] = []
    if scan.contexts.get("translation"):
        factor *= TRANSLATION_FACTOR
        reasons.append(f"context:translation×{TRANSLATION_FACTOR}")
    if scan.contexts.get("education"):
        factor *= EDUCATION_FACTOR
        reasons.append(f"context:education×{EDUCATION_FACTOR}")
    if factor == 1.0:
        return
    for finding in scan.findings:
        if finding.rule_id in _CONTEXT_FREE or finding.rule_id in _URL_RULES:
            continue
        finding.score = round(finding.score * factor, 4)
        finding.reasons = (*finding.reasons, *reasons)


def _scan_words(scan: _Scan, text: str, *, layer: str, parent: Locator) -> None:
    """Only the lexicon over ``text`` (already canonical): a reading that can hide words, not markup."""
    scan.meter.word_layers += 1
    intents, _, _ = scan.matcher.find(text, scan.meter)
    for intent in intents:
        findings = scan.findings
        findings.append(_Finding(intent.rule_id, layer, intent.score, tuple(intent.reasons), parent))


def _scan_text(
    scan: _Scan,
    raw: str,
    *,
    depth: int,
    layer: str,
    parent: Locator | None,
    unspaced: bool = False,
    has_invisible: bool | None = None,
    canonical: Canonical | None = None,
    reading: bool = False,
) -> None:
    """Score ``raw`` and rescan what its decoders find.

    ``parent`` locates the encoded run ``raw`` was decoded from, in joined-text coordinates; ``None`` for
    the joined text itself, whose findings are located through the canonical offset map.
    """
    meter = scan.meter
    meter.layers += 1
    meter.canonicalized_chars += len(raw)
    if canonical is None:
        canonical = canonicalize(raw)
    text = canonical.text
    if len(scan.texts) < _MAX_DETECTOR_TEXTS:
        scan.texts.append(text)

    def at(start: int, end: int) -> Locator:
        if parent is not None:
            return parent
        return lambda: canonical.original_span(start, end)

    code = CodeSpans(text)
    findings = scan.findings
    first_of_layer = len(findings)
    size = len(text)
    for rule, search, gate in scan.rules:
        meter.scan(rule.id, size)
        found: tuple[int, int] | None
        if gate:
            for literal in gate:
                if literal in text:
                    break
            else:
                continue  # no match can hold none of them
        if search is not None:
            match = search(text)
            found = None if match is None else match.span()
        else:
            found = rule.find(text)
        if found is None:
            continue
        score: float = 1.0
        reasons: tuple[str, ...] = ("pattern",)
        if rule.category == "markers" and code.covers(*found):
            score, reasons = CODE_FACTOR, ("pattern", f"context:code×{CODE_FACTOR}")
        findings.append(_Finding(rule.id, layer, score, reasons, at(*found)))
    intents, triggers, contexts = scan.matcher.find(text, meter, unspaced=unspaced)
    if parent is None:
        scan.contexts = contexts
    for intent in intents:
        score, reasons = intent.score, tuple(intent.reasons)
        if code.covers(intent.start, intent.end) and not (
            intent.addressed and intent.verb >= 0 and imperative(text, intent.verb)
        ):
            # Code lowers a finding, except an order that opens its clause under a label naming the model
            # ("# AI reviewer: ignore your previous instructions…" in a YAML comment speaks to the model).
            score, reasons = score * CODE_FACTOR, (*reasons, f"context:code×{CODE_FACTOR}")
        elif quoted(text, intent.start, intent.end) or (
            intent.verb >= 0 and quoted(text, intent.verb, intent.verb + 1)
        ):
            score, reasons = score * QUOTE_FACTOR, (*reasons, f"context:quoted×{QUOTE_FACTOR}")
        elif not intent.addressed and spoken(text, intent.verb if intent.verb >= 0 else intent.start):
            score, reasons = score * QUOTE_FACTOR, (*reasons, f"context:chat line×{QUOTE_FACTOR}")
        if not intent.addressed and scan.matcher.context_near(
            text, "technical", intent.start, intent.end, intent.language
        ):
            score, reasons = score * TECHNICAL_FACTOR, (*reasons, f"context:technical×{TECHNICAL_FACTOR}")
        findings.append(
            _Finding(intent.rule_id, layer, round(score, 4), reasons, at(intent.start, intent.end))
        )
    for marker in find_role_markers(
        text, meter, hidden=parent is not None and not reading and _hidden(layer)
    ):
        score, reasons = marker.score, marker.reasons
        if code.covers(marker.start, marker.end):
            score, reasons = score * CODE_FACTOR, (*reasons, f"context:code×{CODE_FACTOR}")
        findings.append(
            _Finding(marker.rule_id, layer, round(score, 4), reasons, at(marker.start, marker.end))
        )

    if has_invisible is None:
        has_invisible = not canonical.visible and first_invisible(raw) is not None
    stripped = strip_invisible(raw) if has_invisible else raw
    stripped_offsets: list[int] | None = None

    def from_stripped(start: int, end: int) -> Locator:
        if parent is not None:
            return parent
        if stripped is raw:
            return lambda: (start, end)

        def locate_stripped() -> tuple[int, int]:
            nonlocal stripped_offsets
            if stripped_offsets is None:
                stripped_offsets = invisible_offsets(raw)
            return stripped_offsets[start], stripped_offsets[min(end, len(stripped_offsets) - 1)]

        return locate_stripped

    urls = find_url_exfiltration(stripped, meter)
    if not urls and not raw.isascii():
        # Look-alike letters in a URL: judge the canonical reading too (case is lost, words and slots stay).
        urls = find_url_exfiltration(text, meter)
        canonical_urls = True
    else:
        canonical_urls = False
    for url in urls:
        where = at(url.start, url.end) if canonical_urls else from_stripped(url.start, url.end)
        findings.append(_Finding(url.rule_id, layer, url.score, url.reasons, where))
    if parent is not None and not reading and _hidden(layer):
        for finding in findings[first_of_layer:]:
            if finding.rule_id not in _CONTEXT_FREE:
                finding.score = min(1.0, round(finding.score + HIDDEN_BONUS, 4))
                finding.reasons = (*finding.reasons, f"hidden+{HIDDEN_BONUS}")

    if depth >= scan.config.decode_depth:
        return
    candidates: list[tuple[Candidate, Locator]] = []
    for candidate in encoded_runs(stripped, scan.config.min_encoded_length, meter):
        candidates.append((candidate, from_stripped(candidate.start, candidate.end)))
    if "%" in stripped or "&" in stripped or "\\" in stripped:
        meter.scan("decode.sparse_escapes", len(stripped))
        for candidate in sparse_escapes(stripped):
            candidates.append((candidate, from_stripped(candidate.start, candidate.end)))
    for candidate in raw_candidates(raw, meter, has_invisible=has_invisible):
        where = parent if parent is not None else _fixed(candidate.start, candidate.end)
        candidates.append((candidate, where))
    for candidate in canonical_candidates(text, triggers, layer, meter):
        candidates.append((candidate, at(candidate.start, candidate.end)))
    for candidate, where in candidates:
        decoded = candidate.text
        if scan.budget < len(decoded):
            continue
        scan.budget -= len(decoded)
        meter.decoded_chars += len(decoded)
        child_layer = candidate.decoder if layer == "text" else f"{layer}>{candidate.decoder}"
        if candidate.words_only:
            _scan_words(scan, decoded, layer=child_layer, parent=where)
            continue
        _scan_text(
            scan,
            decoded,
            depth=depth + 1,
            layer=child_layer,
            parent=where,
            unspaced=candidate.unspaced,
            reading=candidate.reading,
        )


def _hidden(layer: str) -> bool:
    # Readings of visible text (leetspeak, zero-width gaps, spaced letters) are not hidden; encodings are.
    return layer.rsplit(">", 1)[-1] not in _READINGS


def _fixed(start: int, end: int) -> Locator:
    return lambda: (start, end)


def _hit(finding: _Finding, mode: RuleMode, start: int, end: int, offsets: list[tuple[int, Leaf]]) -> RuleHit:
    if not offsets:
        return RuleHit(
            finding.rule_id, mode, finding.layer, (), "message", 0, 0, finding.score, finding.reasons
        )
    segment, local = locate(offsets, start)
    local = min(local, len(segment.text))
    local_end = min(local + (end - start), len(segment.text))
    return RuleHit(
        finding.rule_id,
        mode,
        finding.layer,
        segment.path,
        segment.kind,
        local,
        local_end,
        finding.score,
        finding.reasons,
    )


SEAM_WINDOW: Final = 256
"""Characters read on each side of a cut between two adjacent text blocks (see `_scan_seams`)."""


def _scan_seams(scan: _Scan, offsets: list[tuple[int, Leaf]]) -> None:
    """Read text cut across adjacent blocks of one block list as one: ``EVA`` + ``L(x)``.

    The joined text puts a blank line between blocks, so a word, a call or a URL cut mid-way across
    blocks is read as two. The text leaves of blocks (an unknown block's too; not its keys or ``type``) are
    paired by `adjacent_pairs` (never two messages); at each cut, the ``SEAM_WINDOW`` characters either
    side, taken through as many blocks of the chain as they span (``EV`` + ``A`` + ``L(x)``), are joined
    with nothing and scanned as a reading of visible text. Only rules the scan of the joined text did not
    already find are kept (what the join alone shows), located over the whole window. The request's
    context classes (translation, teaching) are the joined text's, not a window's. Cuts at a line break
    read the same either way and are skipped. Linear: at most ``2 × SEAM_WINDOW`` characters per cut.
    A request of one text leaf has no cut: nothing is read.
    """
    if len(offsets) < 2:
        return
    texts = [
        (start, leaf)
        for start, leaf in offsets
        if leaf.path and not isinstance(leaf.path[-1], ObjectKey) and leaf.path[-1] != "type"
    ]
    pairs = set(adjacent_pairs(texts))
    if not pairs:
        return
    seen = {finding.rule_id for finding in scan.findings}
    contexts = dict(scan.contexts)
    for index in sorted(pairs):
        a = texts[index][1].text
        b = texts[index + 1][1].text
        if not a or not b or a[-1] in "\r\n" or b[0] in "\r\n":
            continue
        left_parts: list[str] = []
        need, i = SEAM_WINDOW, index
        while True:  # back through the chain
            start, leaf = texts[i]
            part = leaf.text[-need:]
            left_parts.append(part)
            left = start + len(leaf.text) - len(part)
            need -= len(part)
            if need <= 0 or i - 1 not in pairs:
                break
            i -= 1
        right_parts: list[str] = []
        need, i = SEAM_WINDOW, index + 1
        while True:  # and forward
            start, leaf = texts[i]
            part = leaf.text[:need]
            right_parts.append(part)
            right = start + len(part)
            need -= len(part)
            if need <= 0 or i not in pairs:
                break
            i += 1
        first = len(scan.findings)
        _scan_text(
            scan,
            "".join(reversed(left_parts)) + "".join(right_parts),
            depth=0,
            layer="across_blocks",
            parent=_fixed(left, right),
            reading=True,
        )
        scan.findings[first:] = [f for f in scan.findings[first:] if f.rule_id not in seen]
        seen.update(f.rule_id for f in scan.findings[first:])
    scan.contexts = contexts
