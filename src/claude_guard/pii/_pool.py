"""The worker pool of a ``PIIEngine``: where analyses run, and how the pool is started, replaced and closed.

A process pool (``config.workers`` spawned processes, each building and warming its own analyzer) or a
thread pool; a process pool whose worker died is replaced (and the analysis retried once), one whose
workers cannot start at all falls back to threads. `_WorkerPool` holds that part of ``PIIEngine`` (its base
class); what an analysis finds stays in `claude_guard.pii._engine`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._config import PIIConfig
from ._prefilter import Prefilter

if TYPE_CHECKING:
    from ._engine import Finding, _Analyzer

__all__ = ["AnalysisUnavailableError"]

logger = logging.getLogger("claude_guard")

_WARM_TEXT = (
    "Mail ada@example.com or call +1 415 555 0100; card 4111 1111 1111 1111, ssn 536-90-4399, "
    "ip 10.1.2.3, key AKIAIOSFODNN7EXAMPLE. Ada Lovelace lives in London."
)
_START_TIMEOUT = 120.0
"""Seconds a request waits for a (re)starting process pool, outside its own time budget."""
_T = TypeVar("_T")


class AnalysisUnavailableError(Exception):
    """Analysis did not finish: ``reason`` is ``timeout``, ``overloaded`` or ``failed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# One analyzer per pool process, built by the pool's initializer.
_worker_analyzer: _Analyzer | None = None


def _init_worker(analyzer: type[_Analyzer], config: PIIConfig) -> None:
    global _worker_analyzer
    # Ctrl-C reaches the whole process group: the parent shuts the pool down, workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker outlives a parent that was killed (SIGKILL, the OOM killer) or that exited without closing
    # the pool: it would sit idle forever, holding the parent's inherited stdout and stderr open. It watches
    # its parent and leaves when the parent is gone (it is then re-parented, so getppid changes).
    parent = os.getppid()
    watcher = threading.Thread(
        target=_exit_with_parent, args=(parent,), name="claude-guard-pii-parent", daemon=True
    )
    watcher.start()
    # A worker told to stop has nothing to save: it leaves at once instead of tearing down Presidio's and
    # spaCy's heap object by object (seconds per worker on a busy machine), so a pool closes quickly.
    atexit.register(_leave_now)
    _worker_analyzer = analyzer(config)
    _worker_analyzer.analyze(_WARM_TEXT)


def _leave_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def _analyze_in_worker(text: str) -> list[Finding]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze(text)


def _analyze_windows_in_worker(windows: Sequence[tuple[str, str]]) -> list[list[Finding]]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze_windows(windows)


def _analyze_text_and_windows_in_worker(
    text: str, windows: Sequence[tuple[str, str]]
) -> tuple[list[Finding], list[list[Finding]]]:
    assert _worker_analyzer is not None
    return _worker_analyzer.analyze(text), _worker_analyzer.analyze_windows(windows)


def _worker_prefilter() -> tuple[Prefilter, int]:
    assert _worker_analyzer is not None
    return _worker_analyzer.prefilter, os.getpid()


class _WorkerPool:
    """The pool half of ``PIIEngine``: its executor, its start-up, its replacement and its close.

    A pool is started by `start` (blocking: the constructor's default), `astart` (awaited, off the event
    loop: the ASGI lifespan startup) or, for one built with ``lazy=True``, by its first analysis. `close`
    stops it; an engine used again after `close` starts again the same way.
    """

    config: PIIConfig
    executor: str
    rebuilds: int
    _analyzer_type: type[_Analyzer]

    def _init_pool(self) -> None:
        self._pending = 0
        self._lock = threading.Lock()
        self._analyzer: _Analyzer | None = None
        self._light: _Analyzer | None = None
        self._pool: concurrent.futures.Executor | None = None
        self._starting: list[concurrent.futures.Future[Any]] = []

    @property
    def started(self) -> bool:
        """Whether the pool is running (or starting); ``False`` before `start` on a lazy engine and after
        `close`."""
        return self._pool is not None

    def start(self, warm: bool = True) -> None:
        """Start the pool if it is not running: spawn the workers (each builds and warms its own engine) or
        build the thread pool's engine; with ``warm``, return once they are ready. Blocking: on the event
        loop, await `astart` instead."""
        with self._lock:
            if self._pool is None:
                self._start_pool(warm)
                return
            starting = self._starting
        if warm:
            concurrent.futures.wait(starting)

    async def astart(self) -> None:
        """`start`, awaited: the workers start and warm off the event loop (what the ASGI lifespan startup
        and the first analysis of a lazy engine call)."""
        if self._pool is not None and all(f.done() for f in self._starting):
            return
        await asyncio.to_thread(self.start)

    def _start_pool(self, warm: bool) -> None:
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
            if self._analyzer is None:
                self._analyzer = self._analyzer_type(self.config)
                self._light = self._analyzer_type(self.config, prefilter=self._analyzer.prefilter)
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.config.workers, thread_name_prefix="claude-guard-pii"
            )
            if warm:
                futures = [
                    self._pool.submit(self._analyzer.analyze, _WARM_TEXT) for _ in range(self.config.workers)
                ]
                for future in futures:
                    future.result()

    def _process_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.config.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            # Workers only analyse: the placeholder key never leaves this process.
            initargs=(self._analyzer_type, dataclasses.replace(self.config, hmac_key=None)),
        )

    def _start(self, pool: concurrent.futures.Executor) -> None:
        # The first worker's answer carries its prefilter: from then on, clean texts skip the pool.
        futures = [pool.submit(_worker_prefilter) for _ in range(self.config.workers)]

        def started(future: concurrent.futures.Future[tuple[Prefilter, int]]) -> None:
            if self._light is None and not future.cancelled() and future.exception() is None:
                self._light = self._analyzer_type(self.config, prefilter=future.result()[0])

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

    async def _run(self, fn: Callable[..., _T], args: tuple[Any, ...], timeout: float | None) -> _T:
        if self._pending >= self.config.max_pending:
            raise AnalysisUnavailableError("overloaded")
        budget = self.config.timeout if timeout is None else timeout
        deadline: float | None = None
        self._pending += 1
        try:
            for attempt in (0, 1):
                if self._pool is None:
                    await self.astart()
                pool = self._pool
                if pool is None:  # closed meanwhile
                    raise AnalysisUnavailableError("failed")
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
            if self._pool is not broken or self.executor != "process":
                return
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = pool = self._process_pool()
            self.rebuilds += 1
            # The new workers start now, in the background; requests wait for them.
            self._start(pool)
        logger.warning("claude_guard: a PII worker process died; its pool was replaced")

    def close(self) -> None:
        """Stop the pool and wait for its workers to exit (running analyses finish first). An analysis
        after it starts the pool again."""
        with self._lock:
            pool, self._pool, self._starting = self._pool, None, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
