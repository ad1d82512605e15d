"""The process's shared PII engines: one per distinct analysis configuration, counted by the guards that
hold it.

Presidio engines are costly to build (about a second) and hold a worker pool: one per distinct analysis
configuration serves every guard of the process. Keys and vaults stay per guard (in its Redactor). Each
engine counts the guards holding it; the last one to close stops its pool.
"""

from __future__ import annotations

import dataclasses

from ._config import PIIConfig
from ._engine import PIIEngine

__all__ = ["acquire_engine", "is_held", "release_engine"]

_ENGINES: dict[str, PIIEngine] = {}
_HOLDERS: dict[str, int] = {}


def _engine_shape(config: PIIConfig) -> str:
    return repr(dataclasses.replace(config, hmac_key=None))


def acquire_engine(config: PIIConfig) -> PIIEngine:
    """The shared engine for ``config``, held once more. Lazy: nothing starts until the lifespan startup
    (or the first analysis), so an app imported but never served, or a server that forks after importing
    it, pays nothing here."""
    shape = _engine_shape(config)
    engine = _ENGINES.get(shape)
    if engine is None:
        engine = _ENGINES[shape] = PIIEngine(config, lazy=True)
    _HOLDERS[shape] = _HOLDERS.get(shape, 0) + 1
    return engine


def release_engine(engine: PIIEngine) -> bool:
    """One holder less; ``True`` when it was the last (the caller then closes the engine)."""
    shape = _engine_shape(engine.config)
    left = _HOLDERS.get(shape, 0) - 1
    if left > 0:
        _HOLDERS[shape] = left
        return False
    _HOLDERS.pop(shape, None)
    return True


def is_held(engine: PIIEngine) -> bool:
    """Whether some guard still holds ``engine``."""
    return _engine_shape(engine.config) in _HOLDERS
