"""Where shared state lives: ``memory://`` for one process, ``redis://`` for many replicas.

Redis may be one server (``redis://``), a Redis Cluster (``redis+cluster://``) or a Sentinel set
(``redis+sentinel://``), with TLS (``rediss``) and ACL users; ``valkey`` works as an alias of ``redis``.
The URL forms and what each protection guarantees while a master fails over are in ``docs/storage.md``.

A ``Store`` is a connection and a key namespace. Each policy (keys, rate limits, ledger, PII vault) keeps
its own operations behind a small protocol, with a memory backend and a Redis backend (atomic Lua scripts
in the policy's ``lua/``) beside its code, and picks one once with ``Store.pick``. Redis backends run every
command through ``RedisStore.run`` (or ``run_script``), the one place where a failing Redis becomes
``StoreUnavailableError``. Redis keys of one principal share a hash tag (``{...}``) so multi-key scripts also
run on a cluster.

Example:
    >>> store = store_from_url("memory://")
    >>> store.kind
    'memory'
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ._base import Store, StoreConfig
from ._url import REDIS_SCHEMES, redact_url
from .memory import MemoryStore

__all__ = [
    "MemoryStore",
    "Store",
    "StoreConfig",
    "redact_url",
    "store_from_url",
]


def store_from_url(url: str, *, config: StoreConfig | None = None) -> Store:
    """A store for ``memory://`` or a Redis URL (``redis://``, ``rediss://``, ``redis+cluster://``,
    ``redis+sentinel://``, and the same with ``valkey``); ``ValueError`` naming the problem, never the
    password, for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore(config=config)
    if scheme in REDIS_SCHEMES:
        from .redis import RedisStore

        return RedisStore(url, config=config)
    raise ConfigurationError(
        f"unknown storage scheme {scheme!r} in {redact_url(url)}: use memory://, redis://, rediss://, "
        "redis+cluster://, redis+sentinel:// (or valkey in place of redis)"
    )
