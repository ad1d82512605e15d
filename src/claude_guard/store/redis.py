from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ._base import Store, StoreConfig

__all__ = ["RedisStore", "load_script"]

_SCRIPTS = Path(__file__).parent / "lua"


@cache
def load_script(name: str) -> str:
    """The text of a Lua script kept beside the Redis code (``store/lua/NAME.lua``)."""
    return (_SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")


class RedisStore(Store):
    """State in Redis, shared by every replica; every operation is one atomic script and one round trip.

    Commands are bounded by ``StoreConfig.socket_timeout`` so a dead or hanging Redis fails fast, and the
    connection pool reconnects by itself when Redis returns.
    """

    kind: Literal["memory", "redis"] = "redis"

    def __init__(self, url: str, *, config: StoreConfig | None = None) -> None:
        super().__init__(config=config)
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError(
                "Redis storage needs the redis extra: pip install 'claude-guard[redis]'"
            ) from None
        self.url = url
        parts = urlsplit(url)
        scheme = {"valkey": "redis", "valkeys": "rediss"}.get(parts.scheme, parts.scheme)
        if scheme in ("redis+cluster", "redis+sentinel"):
            raise ValueError(f"{parts.scheme}:// is not supported yet; use redis:// or rediss://")
        self.client: Any = redis_asyncio.Redis.from_url(
            urlunsplit((scheme, *parts[1:])),
            socket_timeout=self.config.socket_timeout,
            socket_connect_timeout=self.config.connect_timeout,
            health_check_interval=30,
            retry_on_timeout=False,
            decode_responses=False,
        )
        self._scripts: dict[str, Any] = {}

    def script(self, name: str) -> Any:
        """A registered Lua script (EVALSHA with a transparent reload after a Redis restart)."""
        script = self._scripts.get(name)
        if script is None:
            script = self.client.register_script(load_script(name))
            self._scripts[name] = script
        return script

    async def now(self) -> float:
        seconds, micros = await self.client.time()
        return float(seconds) + float(micros) / 1_000_000

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        # Never show a password that may be in the URL.
        return f"RedisStore({parts.scheme}://{host}{port}{parts.path})"
