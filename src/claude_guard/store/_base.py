from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from .memory import MemoryStore
    from .redis import RedisStore

__all__ = ["Store", "StoreConfig"]

M = TypeVar("M")
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """How a store talks to its backend."""

    prefix: str = "cg"
    """Namespace of every key, so one Redis can serve several deployments."""
    socket_timeout: float = 0.5
    """Seconds one Redis command may take; a hanging Redis never hangs a request past this."""
    connect_timeout: float = 0.5
    """Seconds to establish a Redis connection."""


class Store:
    """Base of the stores: a backend kind, a key namespace and a clock."""

    kind: Literal["memory", "redis"]

    def __init__(self, *, config: StoreConfig | None = None) -> None:
        self.config = config or StoreConfig()

    def key(self, *parts: str, tag: str | None = None) -> str:
        """A namespaced key; ``tag`` (a principal) becomes a hash tag so its keys share a cluster slot."""
        tagged = f"{{{tag}}}" if tag is not None else ""
        return ":".join((self.config.prefix, *parts)) + (":" + tagged if tagged else "")

    def pick(self, *, memory: Callable[[MemoryStore], M], redis: Callable[[RedisStore], R]) -> M | R:
        """A policy's backend for this store: ``memory(store)`` on a `MemoryStore`, ``redis(store)`` on a
        `RedisStore`.

        Each policy (keys, ledger, PII vault, rate limits) keeps one class per backend behind a small protocol
        of its own and picks it once, at construction, with this (the way ``limits`` picks a storage class
        from a URL); no policy tests the store's type on each call::

            self._backend = store.pick(memory=_MemoryVault, redis=_RedisVault)
        """
        raise NotImplementedError(f"{type(self).__name__} has no policy backends")

    async def now(self) -> float:
        """Seconds since the epoch by the store's clock (Redis uses its server time, shared by replicas)."""
        return time.time()

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
