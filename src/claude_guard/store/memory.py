from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._base import Store, StoreConfig

if TYPE_CHECKING:
    from .redis import RedisStore

M = TypeVar("M")
R = TypeVar("R")

__all__: list[str] = []  # public through claude_guard.store (one place per name)


class MemoryStore(Store):
    """State in this process's memory: zero setup, for one process (demos, tests, single-worker apps).

    Policies keep their own structures in ``data`` under their own names; everything runs on one event loop,
    so an operation with no ``await`` inside is atomic.
    """

    kind: Literal["memory", "redis"] = "memory"

    def __init__(self, *, config: StoreConfig | None = None) -> None:
        super().__init__(config=config)
        self.data: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}

    def pick(self, *, memory: Callable[[MemoryStore], M], redis: Callable[[RedisStore], R]) -> M | R:
        return memory(self)

    def get(self, key: str) -> Any:
        expires = self._expiry.get(key)
        if expires is not None and expires <= time.time():
            self.data.pop(key, None)
            self._expiry.pop(key, None)
            return None
        return self.data.get(key)

    def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        self.data[key] = value
        if ttl is None:
            self._expiry.pop(key, None)
        else:
            self._expiry[key] = time.time() + ttl

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
        self._expiry.pop(key, None)

    def __repr__(self) -> str:
        return f"MemoryStore(prefix={self.config.prefix!r})"
