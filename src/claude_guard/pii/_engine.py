"""``PIIEngine``: Presidio built offline, once, analysing in a bounded pool of its own with a time budget."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import re
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._canonical import canonicalize
from ._config import PIIConfig
from ._secrets import SECRET_PATTERNS

__all__ = ["AnalysisUnavailableError", "Finding", "PIIEngine"]

_LEMMA_COMPONENT = "claude_guard_lemma"
_WARM_TEXT = (
    "Mail ada@example.com or call +1 415 555 0100; card 4111 1111 1111 1111, ssn 536-90-4399, "
    "ip 10.1.2.3, key AKIAIOSFODNN7EXAMPLE. Ada Lovelace lives in London."
)
_lemma_lock = threading.Lock()


class Finding(NamedTuple):
    """One detected span of the analysed text (offsets into the original, not the canonical copy)."""

    entity: str
    start: int
    end: int
    score: float


class AnalysisUnavailableError(Exception):
    """Analysis did not finish: ``reason`` is ``timeout``, ``overloaded`` or ``failed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


class _Analyzer:
    """The Presidio objects; built where the analysis runs (this process, or each pool process)."""

    def __init__(self, config: PIIConfig) -> None:
        presidio, spacy = _import_presidio()
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

        self.config = config
        language = config.language
        ner_model = config.ner_model

        class OfflineSpacyEngine(SpacyNlpEngine):
            def load(self) -> None:
                # Never spacy's download: a blank pipeline with lemmas, or a model that is installed.
                nlp = spacy.load(ner_model) if ner_model else _lemma_pipeline(spacy, language)
                self.nlp = {language: nlp}  # type: ignore[assignment]

        nlp_engine = OfflineSpacyEngine(models=[{"lang_code": language, "model_name": ner_model or "blank"}])
        nlp_engine.load()
        self.entities = config.resolved_entities()
        wanted = set(self.entities)
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
            if isinstance(recognizer, PhoneRecognizer):
                continue
            if isinstance(recognizer, SpacyRecognizer) and not ner_model:
                continue
            if wanted.intersection(recognizer.supported_entities):
                kept.append(recognizer)
        if "PHONE_NUMBER" in wanted:
            kept.append(PhoneRecognizer(supported_regions=config.phone_regions, supported_language=language))
        case_sensitive = _flags(case_sensitive=True)
        by_entity: dict[str, list[Any]] = {}
        for entity, name, regex, score in SECRET_PATTERNS:
            if entity in wanted:
                by_entity.setdefault(entity, []).append(presidio.Pattern(name=name, regex=regex, score=score))
        for entity, patterns in by_entity.items():
            kept.append(
                presidio.PatternRecognizer(
                    supported_entity=entity,
                    patterns=patterns,
                    supported_language=language,
                    global_regex_flags=case_sensitive,
                )
            )
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
        self.analyzer = presidio.AnalyzerEngine(
            nlp_engine=nlp_engine, registry=registry, supported_languages=[language]
        )
        self.lowest = min([config.score_threshold, *config.thresholds.values()])

    def analyze(self, text: str) -> list[Finding]:
        config = self.config
        canonical = canonicalize(text, enabled=config.strip_invisible)
        if not canonical.text.strip():
            return []
        results = self.analyzer.analyze(
            text=canonical.text,
            language=config.language,
            entities=list(self.entities),
            score_threshold=self.lowest,
            allow_list=list(config.allow_list) or None,
        )
        findings = []
        for result in results:
            if result.score < config.threshold_for(result.entity_type):
                continue
            start, end = canonical.span(result.start, result.end)
            findings.append(Finding(result.entity_type, start, end, float(result.score)))
        return findings


def _flags(*, case_sensitive: bool) -> int:
    # Presidio matches with the ``regex`` package, whose flag values are the standard library's.
    flags = int(re.DOTALL | re.MULTILINE)
    return flags if case_sensitive else flags | int(re.IGNORECASE)


# One analyzer per pool process, built by the pool's initializer.
_worker_analyzer: _Analyzer | None = None


def _init_worker(config: PIIConfig) -> None:
    global _worker_analyzer
    _worker_analyzer = _Analyzer(config)
    _worker_analyzer.analyze(_WARM_TEXT)


def _analyze_in_worker(text: str) -> list[Finding]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze(text)


class PIIEngine:
    """Presidio with an explicitly built spaCy pipeline: no network at import, build or first use.

    Built once (import, recognizers, warm-up) when constructed; `analyze` runs in a pool of the engine's own
    (``config.workers`` threads or processes) under ``config.timeout``, and admits at most
    ``config.max_pending`` analyses at once.

    Example:
        >>> engine = PIIEngine(PIIConfig(phone_regions=("US",)))
        >>> [f.entity for f in engine.analyze_sync("write to ada@example.com")]
        ['EMAIL_ADDRESS']
        >>> engine.close()
    """

    def __init__(self, config: PIIConfig | None = None, *, warm: bool = True) -> None:
        self.config = config or PIIConfig()
        self.entities = self.config.resolved_entities()
        self._pending = 0
        self._analyzer: _Analyzer | None = None
        self._pool: concurrent.futures.Executor
        if self.config.executor == "process":
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.config.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                # Workers only analyse: the placeholder key never leaves this process.
                initargs=(dataclasses.replace(self.config, hmac_key=None),),
            )
            if warm:
                # Start every process now (each builds and warms its engine), not on the first request.
                for future in [self._pool.submit(_analyze_in_worker, "") for _ in range(self.config.workers)]:
                    future.result()
        else:
            self._analyzer = _Analyzer(self.config)
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.config.workers, thread_name_prefix="claude-guard-pii"
            )
            if warm:
                futures = [
                    self._pool.submit(self._analyzer.analyze, _WARM_TEXT) for _ in range(self.config.workers)
                ]
                for future in futures:
                    future.result()

    def __repr__(self) -> str:
        c = self.config
        return f"PIIEngine(executor={c.executor!r}, workers={c.workers}, entities={len(self.entities)})"

    def analyze_sync(self, text: str) -> list[Finding]:
        """Analyse ``text`` in the calling thread (blocking; never call it on the event loop)."""
        if self._analyzer is not None:
            return self._analyzer.analyze(text)
        return self._pool.submit(_analyze_in_worker, text).result()

    async def analyze(self, text: str, *, timeout: float | None = None) -> list[Finding]:
        """Analyse ``text`` in the pool, without blocking the event loop.

        Raises:
            AnalysisUnavailableError: the budget ran out, too many analyses are pending, or analysis failed.
        """
        if self._pending >= self.config.max_pending:
            raise AnalysisUnavailableError("overloaded")
        budget = self.config.timeout if timeout is None else timeout
        self._pending += 1
        try:
            if self._analyzer is not None:
                future = self._pool.submit(self._analyzer.analyze, text)
            else:
                future = self._pool.submit(_analyze_in_worker, text)
            try:
                # A timed-out analysis still queued is cancelled; one already running finishes in its thread.
                return await asyncio.wait_for(asyncio.wrap_future(future), budget)
            except TimeoutError:
                raise AnalysisUnavailableError("timeout") from None
            except (concurrent.futures.BrokenExecutor, RuntimeError, ValueError, MemoryError) as exc:
                raise AnalysisUnavailableError("failed") from exc
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the pool (running analyses finish first)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def merge_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Non-overlapping findings, best first by score then length, returned in text order."""
    chosen: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if finding.end <= finding.start:
            continue
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)
