"""``PIIEngine``: Presidio built offline, once, analysing in a bounded pool of its own with a time budget."""

from __future__ import annotations

import bisect
import logging
import os
import re
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from .._credentials import CREDENTIALS, Credential, find_credentials
from ._canonical import base64_runs, canonicalize
from ._config import PIIConfig
from ._patterns import PII_PATTERNS
from ._pool import (
    AnalysisUnavailableError,
    _analyze_in_worker,
    _analyze_text_and_windows_in_worker,
    _analyze_windows_in_worker,
    _WorkerPool,
)
from ._prefilter import Prefilter

__all__ = ["AnalysisUnavailableError", "Finding", "PIIEngine"]

_LEMMA_COMPONENT = "claude_guard_lemma"
_lemma_lock = threading.Lock()
WINDOW = 4096
"""Characters on each side of a block boundary searched by the own rows for a value split across it."""
SHORT_WINDOW = 64
"""Characters on each side of a block boundary Presidio analyses."""
_WINDOW_SEPARATOR = "\n\x00\n"


class Finding(NamedTuple):
    """One detected span of the analysed text (offsets into the original, not the canonical copy)."""

    entity: str
    start: int
    end: int
    score: float


def _import_presidio() -> tuple[Any, Any]:
    # Without this, the email recognizer's tldextract fetches the public suffix list over the network.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        import presidio_analyzer
        import spacy
    except ImportError:
        raise ImportError("PII redaction needs the pii extra: pip install 'claude-guard[pii]'") from None
    return presidio_analyzer, spacy


def _lemma_pipeline(spacy: Any, language: str) -> Any:
    from spacy.language import Language

    with _lemma_lock:
        if not Language.has_factory(_LEMMA_COMPONENT):

            def lemma_as_lower(doc: Any) -> Any:
                # Presidio compares context words ("ssn", "phone") with lemmas; a blank pipeline has none.
                for token in doc:
                    token.lemma_ = token.lower_
                return doc

            Language.component(_LEMMA_COMPONENT, func=lemma_as_lower)
    nlp = spacy.blank(language)
    nlp.add_pipe(_LEMMA_COMPONENT)
    return nlp


class PresidioNeededError(Exception):
    """Raised by an analyzer without Presidio (the parent of a process pool) for a text that needs it."""


class _Analyzer:
    """The Presidio objects; built where the analysis runs (this process, or each pool process).

    With ``prefilter`` given (the parent of a process pool, from a worker), no Presidio is built: only
    claude_guard's own rows run, and a text the prefilter sends to Presidio raises `PresidioNeededError`.
    """

    def __init__(self, config: PIIConfig, *, prefilter: Prefilter | None = None) -> None:
        self.config = config
        self.entities = config.resolved_entities()
        wanted = set(self.entities)
        # Our own rows replace Presidio's e-mail (public suffixes only) and card (some IIN ranges) ones.
        rows = (*CREDENTIALS, *PII_PATTERNS)
        self.own_rows: tuple[Credential, ...] = tuple(row for row in rows if row.entity in wanted)
        self.own_entities = frozenset(row.entity for row in self.own_rows)
        self.lowest = min([config.score_threshold, *config.thresholds.values()])
        self.allow = frozenset(config.allow_list)
        self.analyzer: Any = None
        self.presidio_calls = 0
        """Presidio ``analyze`` calls made (a counter for benchmarks and tests)."""
        self.use_prefilter = True
        """Off: every non-blank text goes to Presidio with every entity (benchmarks compare the two)."""
        if prefilter is not None:
            self.prefilter = prefilter
            self.presidio_entities = list(prefilter.entities)
            return
        presidio, spacy = _import_presidio()
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
        )

        language = config.language
        ner_model = config.ner_model

        class OfflineSpacyEngine(SpacyNlpEngine):
            def load(self) -> None:
                # Never spacy's download: a blank pipeline with lemmas, or a model that is installed.
                nlp = spacy.load(ner_model) if ner_model else _lemma_pipeline(spacy, language)
                self.nlp = {language: nlp}  # type: ignore[assignment]

        nlp_engine = OfflineSpacyEngine(models=[{"lang_code": language, "model_name": ner_model or "blank"}])
        nlp_engine.load()
        registry = presidio.RecognizerRegistry(supported_languages=[language])
        presidio_log = logging.getLogger("presidio-analyzer")
        level = presidio_log.level
        # Loading warns once per recognizer of another language; those are left out on purpose.
        presidio_log.setLevel(logging.ERROR)
        try:
            registry.load_predefined_recognizers(languages=[language], nlp_engine=nlp_engine)
        finally:
            presidio_log.setLevel(level)
        kept = []
        for recognizer in registry.recognizers:
            if isinstance(recognizer, PhoneRecognizer | EmailRecognizer | CreditCardRecognizer):
                continue
            if isinstance(recognizer, SpacyRecognizer) and not ner_model:
                continue
            if wanted.intersection(recognizer.supported_entities):
                kept.append(recognizer)
        covered = {entity for recognizer in kept for entity in recognizer.supported_entities}
        kept.extend(_country_recognizers(wanted - covered - self.own_entities, language))
        if "PHONE_NUMBER" in wanted:
            kept.append(PhoneRecognizer(supported_regions=config.phone_regions, supported_language=language))
        for index, custom in enumerate(config.patterns):
            kept.append(
                presidio.PatternRecognizer(
                    supported_entity=custom.entity,
                    name=f"custom pattern {index} ({custom.entity})",
                    patterns=[presidio.Pattern(name=custom.entity, regex=custom.regex, score=custom.score)],
                    context=list(custom.context) or None,
                    supported_language=language,
                    global_regex_flags=_flags(case_sensitive=custom.case_sensitive),
                )
            )
        for entity, words in config.deny_lists.items():
            kept.append(
                presidio.PatternRecognizer(
                    supported_entity=entity,
                    name=f"deny list ({entity})",
                    deny_list=list(words),
                    supported_language=language,
                )
            )
        registry.recognizers = kept
        served = {entity for recognizer in kept for entity in recognizer.supported_entities}
        self.presidio_entities = [e for e in self.entities if e in served]
        # What Presidio is asked for, per text: only entities some kept recognizer may find in it.
        self.prefilter = Prefilter.build(kept, self.presidio_entities, phone_regions=config.phone_regions)
        self.analyzer = presidio.AnalyzerEngine(
            nlp_engine=nlp_engine, registry=registry, supported_languages=[language]
        )

    def analyze(self, text: str) -> list[Finding]:
        return self._analyze(text, decode=self.config.decode_base64)

    def analyze_windows(self, windows: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        """Findings across each window's boundary (``(tail, head)``: the end of one block, the start of the
        next): claude_guard's own rows on up to `WINDOW` characters each side, and Presidio too on
        `SHORT_WINDOW` each side (what it finds, phone numbers, IBANs, is short). Offsets are into
        ``tail[-WINDOW:] + head[:WINDOW]``."""
        out: list[list[Finding]] = [[] for _ in windows]
        shorts: list[str] = []
        longs: list[str] = []
        readings: list[
            tuple[int, int]
        ] = []  # per text in `longs`: its window, and the space put at its boundary
        for index, (tail, head) in enumerate(windows):
            left, right = tail[-WINDOW:], head[:WINDOW]
            longs.append(left + right)
            readings.append((index, 0))
            if left[-1:].isalpha() and right[:1].isalpha():
                # Two letters meet: the blocks may be one word cut in two ("so" + "ul") or two words
                # ("soul" + "solar": a seed phrase's words, one block each). Both are read.
                longs.append(left + " " + right)
                readings.append((index, 1))
            shorts.append(tail[-SHORT_WINDOW:] + head[:SHORT_WINDOW])
        # One pass of the own rows over every window, joined by a line holding only NUL: no row matches
        # across it (none allows a NUL next to a line break), so findings stay inside their window.
        starts, position = [], 0
        for text in longs:
            starts.append(position)
            position += len(text) + len(_WINDOW_SEPARATOR)
        for f in self.own(_WINDOW_SEPARATOR.join(longs)):
            reading = bisect.bisect_right(starts, f.start) - 1
            index, gap = readings[reading]
            boundary = starts[reading] + min(len(windows[index][0]), WINDOW)
            if f.start < boundary and boundary + gap < f.end <= starts[reading] + len(longs[reading]):
                # Offsets into the window without the space: a finding ends after it.
                out[index].append(
                    f._replace(start=f.start - starts[reading], end=f.end - starts[reading] - gap)
                )
        if self.presidio_entities:
            # One Presidio pass over every short window, joined the way the request's segments are.
            starts, position = [], 0
            for short in shorts:
                starts.append(position)
                position += len(short) + 2
            for f in self._analyze("\n\n".join(shorts), decode=False):
                index = bisect.bisect_right(starts, f.start) - 1
                tail = windows[index][0][-WINDOW:]
                short_tail = min(len(tail), SHORT_WINDOW)
                start, end = f.start - starts[index], f.end - starts[index]
                if start < short_tail < end:
                    shift = len(tail) - short_tail
                    out[index].append(f._replace(start=start + shift, end=end + shift))
        return out

    def own(self, text: str) -> list[Finding]:
        """Findings of claude_guard's own rows only (credentials and its PII patterns), on canonical text."""
        canonical = canonicalize(text, enabled=self.config.strip_invisible)
        return [
            Finding(f.entity, *canonical.span(f.start, f.end), f.score) for f in self._own(canonical.text)
        ]

    def _own(self, text: str) -> list[Finding]:
        config = self.config
        out = []
        for match in find_credentials(text, rows=self.own_rows):
            if match.score < config.threshold_for(match.entity):
                continue
            if self.allow and text[match.start : match.end] in self.allow:
                continue
            out.append(Finding(match.entity, match.start, match.end, match.score))
        return out

    def _decoded(self, body: str) -> list[Finding]:
        # Every base64 run that decodes to text, analysed in one pass over their decoded texts joined; a run
        # whose decoded text holds a finding is replaced whole. Each run is at most 8192 characters, so the
        # work is bounded by the text's own size.
        runs = list(base64_runs(body))
        if not runs:
            return []
        joined, starts = [], []
        position = 0
        for _, _, decoded in runs:
            starts.append(position)
            joined.append(decoded)
            position += len(decoded) + 2
        out = []
        for f in self._analyze("\n\n".join(joined), decode=False):
            index = bisect.bisect_right(starts, f.start) - 1
            start, end, _ = runs[index]
            out.append(Finding(f.entity, start, end, f.score))
        return out

    def _analyze(self, text: str, *, decode: bool) -> list[Finding]:
        config = self.config
        canonical = canonicalize(text, enabled=config.strip_invisible)
        body = canonical.text
        if not body.strip():
            return []
        entities = self.prefilter.admit(body) if self.use_prefilter else self.presidio_entities
        if entities and self.analyzer is None:
            raise PresidioNeededError
        found = self._own(body)
        if entities:
            self.presidio_calls += 1
            results = self.analyzer.analyze(
                text=body,
                language=config.language,
                entities=entities,
                score_threshold=self.lowest,
                allow_list=list(config.allow_list) or None,
            )
            for result in results:
                if result.score < config.threshold_for(result.entity_type):
                    continue
                if result.entity_type == "PHONE_NUMBER" and _inside_token(body, result.start, result.end):
                    continue
                found.append(Finding(result.entity_type, result.start, result.end, float(result.score)))
        if decode:
            found.extend(self._decoded(body))
        if canonical.identity:
            return found
        return [Finding(f.entity, *canonical.span(f.start, f.end), f.score) for f in found]


def _analyze_text_and_windows(
    analyzer: _Analyzer, text: str, windows: Sequence[tuple[str, str]]
) -> tuple[list[Finding], list[list[Finding]]]:
    return analyzer.analyze(text), analyzer.analyze_windows(windows)


def _inside_token(text: str, start: int, end: int) -> bool:
    # "ORD-2024-118834" is an order number, not a phone: a number glued to a word is part of an identifier.
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or after.isalnum() or after in "-_":
        return True
    return before in "-_#" and start > 1 and text[start - 2].isalnum()


def _country_recognizers(entities: set[str], language: str) -> list[Any]:
    # Presidio's country-specific recognizers (national ids and the like) load only for their own language
    # by default; the ones asked for are built for the analysis language.
    if not entities:
        return []
    import inspect

    import presidio_analyzer.predefined_recognizers as predefined
    from presidio_analyzer import EntityRecognizer

    out = []
    for cls in vars(predefined).values():
        if not (inspect.isclass(cls) and issubclass(cls, EntityRecognizer)):
            continue
        if "country_specific" not in cls.__module__:
            continue
        recognizer = cls(supported_language=language)  # type: ignore[call-arg]
        if entities.intersection(recognizer.supported_entities):
            out.append(recognizer)
    return out


def _flags(*, case_sensitive: bool) -> int:
    # Presidio matches with the ``regex`` package, whose flag values are the standard library's.
    flags = int(re.DOTALL | re.MULTILINE)
    return flags if case_sensitive else flags | int(re.IGNORECASE)


class PIIEngine(_WorkerPool):
    """Presidio with an explicitly built spaCy pipeline: no network at import, build or first use.

    Built once (import, recognizers, warm-up) when constructed, or with ``lazy=True`` when first started
    (`astart` from the ASGI lifespan startup, or the first analysis). `analyze` first asks the prefilter
    (`claude_guard.pii._prefilter`) whether Presidio has anything to find: a text of at most
    ``config.inline_chars`` characters that needs no Presidio call is analysed right away by claude_guard's
    own rows, on the calling thread (well under a millisecond per KB). Everything else runs in a pool of the
    engine's own (``config.workers`` processes, or threads) under ``config.timeout``, with at most
    ``config.max_pending`` analyses admitted at once. A process pool whose worker died is replaced (and the
    analysis retried once); one whose workers cannot start at all (a script that builds the guard at import
    without ``if __name__ == "__main__":``) is replaced by a thread pool, with a warning.

    Example:
        >>> engine = PIIEngine(PIIConfig(phone_regions=("US",), executor="thread"))
        >>> [f.entity for f in engine.analyze_sync("write to ada@example.com")]
        ['EMAIL_ADDRESS']
        >>> engine.close()
    """

    _analyzer_type = _Analyzer

    def __init__(self, config: PIIConfig | None = None, *, warm: bool = True, lazy: bool = False) -> None:
        """``lazy``: start nothing now; `start`, `astart` (the ASGI lifespan startup) or the first analysis
        starts the pool. Otherwise the pool starts here (and with ``warm``, is ready when this returns)."""
        self.config = config or PIIConfig()
        self.entities = self.config.resolved_entities()
        self.executor: str = self.config.executor
        """Where analyses run: ``process`` or ``thread`` (``thread`` also after a process pool could not
        start)."""
        self.rebuilds = 0
        """Process pools replaced after a worker died."""
        self._init_pool()
        if not lazy:
            self.start(warm)

    def __repr__(self) -> str:
        c = self.config
        return f"PIIEngine(executor={self.executor!r}, workers={c.workers}, entities={len(self.entities)})"

    def analyze_sync(self, text: str) -> list[Finding]:
        """Analyse ``text`` in the calling thread (blocking; never call it on the event loop)."""
        self.start()
        if self._analyzer is not None:
            return self._analyzer.analyze(text)
        pool = self._pool
        assert pool is not None
        return pool.submit(_analyze_in_worker, text).result()

    async def analyze(self, text: str, *, timeout: float | None = None) -> list[Finding]:
        """Analyse ``text``: inline when it is small and Presidio has nothing to find in it, else in the pool,
        without blocking the event loop.

        Raises:
            AnalysisUnavailableError: the budget ran out, too many analyses are pending, or analysis failed.
        """
        if self._pool is None:
            await self.astart()
        found = self._inline(text)
        if found is not None:
            return found
        if self._analyzer is not None:
            return await self._run(self._analyzer.analyze, (text,), timeout)
        return await self._run(_analyze_in_worker, (text,), timeout)

    async def analyze_windows(
        self, windows: Sequence[tuple[str, str]], *, timeout: float | None = None
    ) -> list[list[Finding]]:
        """Find values split across block boundaries: each window is ``(tail, head)``, the end of one
        block and the start of the next; see `_Analyzer.analyze_windows`.

        Raises:
            AnalysisUnavailableError: the budget ran out, too many analyses are pending, or analysis failed.
        """
        if not windows:
            return []
        if self._pool is None:
            await self.astart()
        across = self._inline_windows(windows)
        if across is not None:
            return across
        if self._analyzer is not None:
            return await self._run(self._analyzer.analyze_windows, (tuple(windows),), timeout)
        return await self._run(_analyze_windows_in_worker, (tuple(windows),), timeout)

    async def analyze_with_windows(
        self, text: str, windows: Sequence[tuple[str, str]], *, timeout: float | None = None
    ) -> tuple[list[Finding], list[list[Finding]]]:
        """`analyze` and `analyze_windows` under one time budget, in one hand-off to the pool when neither
        can be done inline (a request of several blocks pays one round trip, not two).

        Raises:
            AnalysisUnavailableError: the budget ran out, too many analyses are pending, or analysis failed.
        """
        if not windows:
            return await self.analyze(text, timeout=timeout), []
        if self._pool is None:
            await self.astart()
        found = self._inline(text)
        if found is not None:
            # The windows are cut from the text: often inline too; else the pool takes them alone.
            return found, await self.analyze_windows(windows, timeout=timeout)
        if self._analyzer is not None:
            return await self._run(_analyze_text_and_windows, (self._analyzer, text, tuple(windows)), timeout)
        return await self._run(_analyze_text_and_windows_in_worker, (text, tuple(windows)), timeout)

    def _inline(self, text: str) -> list[Finding] | None:
        """Findings of a small text Presidio has nothing to find in, analysed right here; else ``None``."""
        light = self._light
        if light is None or len(text) > self.config.inline_chars:
            return None
        try:
            return light.analyze(text)
        except PresidioNeededError:
            return None

    def _inline_windows(self, windows: Sequence[tuple[str, str]]) -> list[list[Finding]] | None:
        """`_inline` for block-boundary windows."""
        light = self._light
        size = sum(min(len(tail), WINDOW) + min(len(head), WINDOW) for tail, head in windows)
        if light is None or size > self.config.inline_chars:
            return None
        try:
            return light.analyze_windows(windows)
        except PresidioNeededError:
            return None


def merge_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Non-overlapping findings, best first by score then length, returned in text order."""
    # The chosen spans never overlap, so ordered by start they are ordered by end too: a candidate is checked
    # against its two neighbours only (this runs on the event loop, once per request).
    starts: list[int] = []
    chosen: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if finding.end <= finding.start:
            continue
        index = bisect.bisect_right(starts, finding.start)
        if index and chosen[index - 1].end > finding.start:
            continue
        if index < len(chosen) and chosen[index].start < finding.end:
            continue
        starts.insert(index, finding.start)
        chosen.insert(index, finding)
    return chosen
