"""``PIIEngine``: Presidio built offline, once, analysing in a bounded pool of its own with a time budget."""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from .._credentials import CREDENTIALS, Credential, find_credentials
from ._canonical import base64_runs, canonicalize
from ._config import PIIConfig
from ._patterns import PII_PATTERNS
from ._prefilter import Prefilter

__all__ = ["AnalysisUnavailableError", "Finding", "PIIEngine"]

logger = logging.getLogger("claude_guard")

_LEMMA_COMPONENT = "claude_guard_lemma"
_WARM_TEXT = (
    "Mail ada@example.com or call +1 415 555 0100; card 4111 1111 1111 1111, ssn 536-90-4399, "
    "ip 10.1.2.3, key AKIAIOSFODNN7EXAMPLE. Ada Lovelace lives in London."
)
_lemma_lock = threading.Lock()
WINDOW = 4096
"""Characters on each side of a block boundary searched by the own rows for a value split across it."""
SHORT_WINDOW = 64
"""Characters on each side of a block boundary Presidio analyses."""
_WINDOW_SEPARATOR = "\n\x00\n"
_START_TIMEOUT = 120.0
"""Seconds a request waits for a (re)starting process pool, outside its own time budget."""
_T = TypeVar("_T")


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
        for tail, head in windows:
            longs.append(tail[-WINDOW:] + head[:WINDOW])
            shorts.append(tail[-SHORT_WINDOW:] + head[:SHORT_WINDOW])
        # One pass of the own rows over every window, joined by a line holding only NUL: no row matches
        # across it (none allows a NUL next to a line break), so findings stay inside their window.
        starts, position = [], 0
        for text in longs:
            starts.append(position)
            position += len(text) + len(_WINDOW_SEPARATOR)
        for f in self.own(_WINDOW_SEPARATOR.join(longs)):
            index = bisect.bisect_right(starts, f.start) - 1
            boundary = starts[index] + min(len(windows[index][0]), WINDOW)
            if f.start < boundary < f.end and f.end <= starts[index] + len(longs[index]):
                out[index].append(f._replace(start=f.start - starts[index], end=f.end - starts[index]))
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


# One analyzer per pool process, built by the pool's initializer.
_worker_analyzer: _Analyzer | None = None


def _init_worker(config: PIIConfig) -> None:
    global _worker_analyzer
    # Ctrl-C reaches the whole process group: the parent shuts the pool down, workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_analyzer = _Analyzer(config)
    _worker_analyzer.analyze(_WARM_TEXT)


def _analyze_in_worker(text: str) -> list[Finding]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze(text)


def _analyze_windows_in_worker(windows: Sequence[tuple[str, str]]) -> list[list[Finding]]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze_windows(windows)


def _worker_prefilter() -> tuple[Prefilter, int]:
    assert _worker_analyzer is not None
    return _worker_analyzer.prefilter, os.getpid()


class PIIEngine:
    """Presidio with an explicitly built spaCy pipeline: no network at import, build or first use.

    Built once (import, recognizers, warm-up) when constructed. `analyze` first asks the prefilter
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

    def __init__(self, config: PIIConfig | None = None, *, warm: bool = True) -> None:
        self.config = config or PIIConfig()
        self.entities = self.config.resolved_entities()
        self.executor: str = self.config.executor
        """Where analyses run: ``process`` or ``thread`` (``thread`` also after a process pool could not
        start)."""
        self.rebuilds = 0
        """Process pools replaced after a worker died."""
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False
        self._analyzer: _Analyzer | None = None
        self._light: _Analyzer | None = None
        self._pool: concurrent.futures.Executor
        self._starting: list[concurrent.futures.Future[Any]] = []
        if self.executor == "process":
            self._pool = self._process_pool()
            # Every process starts now (each builds and warms its engine), not on the first request.
            self._start(self._pool)
            if warm:
                try:
                    for future in self._starting:
                        future.result()
                except (concurrent.futures.BrokenExecutor, OSError, RuntimeError) as exc:
                    logger.warning(
                        "claude_guard: PII analysis runs in threads: its worker processes could not start "
                        "(%s). Spawned workers re-import the main module: a script must build the guard "
                        'under if __name__ == "__main__": and be a file (not standard input).',
                        type(exc).__name__,
                    )
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._starting = []
                    self.executor = "thread"
        if self.executor == "thread":
            self._analyzer = _Analyzer(self.config)
            self._light = _Analyzer(self.config, prefilter=self._analyzer.prefilter)
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
        return f"PIIEngine(executor={self.executor!r}, workers={c.workers}, entities={len(self.entities)})"

    def _process_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.config.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            # Workers only analyse: the placeholder key never leaves this process.
            initargs=(dataclasses.replace(self.config, hmac_key=None),),
        )

    def _start(self, pool: concurrent.futures.Executor) -> None:
        # The first worker's answer carries its prefilter: from then on, clean texts skip the pool.
        futures = [pool.submit(_worker_prefilter) for _ in range(self.config.workers)]

        def started(future: concurrent.futures.Future[tuple[Prefilter, int]]) -> None:
            if self._light is None and not future.cancelled() and future.exception() is None:
                self._light = _Analyzer(self.config, prefilter=future.result()[0])

        futures[0].add_done_callback(started)
        self._starting = list(futures)

    async def _until_started(self) -> None:
        # A pool's start-up (about a second per worker) is not counted in a request's time budget.
        starting = self._starting
        if starting and not all(f.done() for f in starting):
            waiting = asyncio.gather(*(asyncio.wrap_future(f) for f in starting))
            try:
                await asyncio.wait_for(waiting, _START_TIMEOUT)
            except TimeoutError:
                raise AnalysisUnavailableError("timeout") from None

    def worker_pids(self) -> list[int]:
        """The process ids of the pool's workers (empty for a thread pool)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    def analyze_sync(self, text: str) -> list[Finding]:
        """Analyse ``text`` in the calling thread (blocking; never call it on the event loop)."""
        if self._analyzer is not None:
            return self._analyzer.analyze(text)
        return self._pool.submit(_analyze_in_worker, text).result()

    async def analyze(self, text: str, *, timeout: float | None = None) -> list[Finding]:
        """Analyse ``text``: inline when it is small and Presidio has nothing to find in it, else in the pool,
        without blocking the event loop.

        Raises:
            AnalysisUnavailableError: the budget ran out, too many analyses are pending, or analysis failed.
        """
        light = self._light
        if light is not None and len(text) <= self.config.inline_chars:
            try:
                return light.analyze(text)
            except PresidioNeededError:
                pass
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
        light = self._light
        size = sum(min(len(tail), WINDOW) + min(len(head), WINDOW) for tail, head in windows)
        if light is not None and size <= self.config.inline_chars:
            try:
                return light.analyze_windows(windows)
            except PresidioNeededError:
                pass
        if self._analyzer is not None:
            return await self._run(self._analyzer.analyze_windows, (tuple(windows),), timeout)
        return await self._run(_analyze_windows_in_worker, (tuple(windows),), timeout)

    async def _run(self, fn: Callable[..., _T], args: tuple[Any, ...], timeout: float | None) -> _T:
        if self._pending >= self.config.max_pending:
            raise AnalysisUnavailableError("overloaded")
        budget = self.config.timeout if timeout is None else timeout
        deadline: float | None = None
        self._pending += 1
        try:
            for attempt in (0, 1):
                pool = self._pool
                try:
                    await self._until_started()
                    if deadline is None:
                        deadline = time.monotonic() + budget
                    future = pool.submit(fn, *args)
                    # A timed-out analysis still queued is cancelled; one already running finishes.
                    return await asyncio.wait_for(asyncio.wrap_future(future), deadline - time.monotonic())
                except TimeoutError:
                    raise AnalysisUnavailableError("timeout") from None
                except concurrent.futures.BrokenExecutor as exc:
                    # A worker died (the OOM killer, a signal): a new pool serves this and later requests.
                    self._replace(pool)
                    if attempt or (deadline is not None and time.monotonic() >= deadline):
                        raise AnalysisUnavailableError("failed") from exc
                except (RuntimeError, ValueError, MemoryError) as exc:
                    raise AnalysisUnavailableError("failed") from exc
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._pending -= 1

    def _replace(self, broken: concurrent.futures.Executor) -> None:
        with self._lock:
            if self._pool is not broken or self._closed or self.executor != "process":
                return
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = pool = self._process_pool()
            self.rebuilds += 1
            # The new workers start now, in the background; requests wait for them.
            self._start(pool)
        logger.warning("claude_guard: a PII worker process died; its pool was replaced")

    def close(self) -> None:
        """Stop the pool (running analyses finish first)."""
        with self._lock:
            self._closed = True
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
