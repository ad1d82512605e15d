"""Settings for a process that serves the gateway: the garbage-collector settings that
`reference_app.create_app` applies while its app is up, and that an app embedding the guard may take.

Why: measured on the reference gateway (uvicorn, 8 concurrent 1 KB requests, every protection on), CPython's
default young-generation threshold (700 net container allocations) is crossed all the time by the objects
of the requests in flight, so a collection ran every ~10 requests and found nothing: every request object
is freed by its reference count, none is cyclic garbage. And each full collection walked the ~250 000
objects built at start-up (Presidio's recognizers, lexicons, compiled tables, the imported modules), a
pause of ~200 ms every few thousand requests. Together ~115 µs of CPU per request, spent finding nothing.

`gc_tuned` moves what start-up built into the permanent generation (`gc.freeze`, so full collections no
longer walk it) and raises the young-generation threshold above what the requests in flight hold; cyclic
garbage is still collected, only later. It is a process-wide setting, so the library never applies it on
its own: only the reference gateway does, which owns its process, and an app that embeds the guard may
call it from its own lifespan. Nested uses (several apps in one test process) share one application: the
first applies it, the last restores what it found.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["YOUNG_THRESHOLD", "gc_tuned"]

YOUNG_THRESHOLD = 20_000
"""The young-generation threshold while tuned (CPython's default is 700; 3.13 raised it to 2000)."""

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def gc_tuned(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Within the block: start-up objects frozen, the young-generation threshold at ``young_threshold``.

    Call it once start-up is done (what is built before it is frozen). On exit the threshold the first
    holder found is restored and the frozen objects return to the oldest generation.
    """
    if young_threshold < 1:
        raise ValueError("young_threshold must be at least 1")
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(young_threshold, *_saved[1:])
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
