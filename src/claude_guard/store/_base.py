from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["Store", "StoreConfig"]


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

    async def now(self) -> float:
        """Seconds since the epoch by the store's clock (Redis uses its server time, shared by replicas)."""
        return time.time()

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
