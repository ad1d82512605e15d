"""Where shared state lives: ``memory://`` for one process, ``redis://`` for many replicas.

A ``Store`` is a connection and a key namespace. Each policy (keys, rate limits, ledger, PII vault) keeps
its own operations, written once for memory and once as an atomic Lua script for Redis, beside its code.
Redis keys of one principal share a hash tag (``{...}``) so multi-key scripts also run on a cluster.

Example:
    >>> store = store_from_url("memory://")
    >>> store.kind
    'memory'
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ._base import Store, StoreConfig
from .memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreConfig", "store_from_url"]


def store_from_url(url: str, *, config: StoreConfig | None = None) -> Store:
    """A store for ``memory://`` or a Redis URL (``redis://``, ``rediss://``, ``redis+sentinel://``…)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryStore(config=config)
    if scheme in ("redis", "rediss", "redis+cluster", "redis+sentinel", "valkey", "valkeys"):
        from .redis import RedisStore

        return RedisStore(url, config=config)
    raise ValueError(f"unknown storage scheme {scheme!r}: use memory:// or redis://")
