from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..errors import StoreUnavailableError
from ._base import Store, StoreConfig
from ._url import RedisTarget, parse_redis_url, redact_url

if TYPE_CHECKING:
    from .memory import MemoryStore

__all__ = ["RedisStore"]

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R")

_REPLICAS_TTL = 1.0
_PACKAGE = Path(__file__).resolve().parent.parent
_INCLUDE = re.compile(r"^-- #include ([a-z_]+/[a-z_]+)$", re.MULTILINE)


@cache
def load_script(name: str) -> str:
    """A protection's Lua script: ``"ratelimit/admit"`` is ``claude_guard/ratelimit/lua/admit.lua``.

    Each script lives in the package of the protection that owns it, beside the memory twin of its algorithm.
    Redis Lua cannot import, so a line ``-- #include ledger/_periods`` is replaced by that file's text (once,
    not recursively): code shared by two scripts is written once.

    >>> "redis.call" in load_script("ratelimit/admit")
    True
    """
    package, _, script = name.partition("/")
    if not package.isidentifier() or not script.isidentifier():
        raise ValueError(f"a script is named 'package/name', not {name!r}")
    text = (_PACKAGE / package / "lua" / f"{script}.lua").read_text(encoding="utf-8")

    def include(match: re.Match[str]) -> str:
        part, _, shared = match.group(1).partition("/")
        return (_PACKAGE / part / "lua" / f"{shared}.lua").read_text(encoding="utf-8").rstrip("\n")

    return _INCLUDE.sub(include, text)


class ReplicaAckError(Exception):
    """A write reached the master but not enough replicas within ``wait_timeout``: it does not count.

    Raised as a subclass of ``redis.exceptions.RedisError`` too (built when first needed, so this module
    imports without redis installed): every caller that treats a Redis failure as "store unavailable" fails
    closed on it too.
    """


class RedisStore(Store):
    """State in Redis, shared by every replica; every operation is one atomic script and one round trip.

    One server (``redis://``), a Redis Cluster (``redis+cluster://``, through redis-py's ``RedisCluster``:
    ``MOVED``/``ASK`` and topology changes are followed by the client) or a Sentinel set
    (``redis+sentinel://``, through redis-py's ``Sentinel``: the master is looked up again after a failover).
    ``rediss`` for TLS, ``valkey`` as an alias of ``redis``. See ``docs/storage.md``.

    Commands are bounded by ``StoreConfig.socket_timeout`` so a dead or hanging Redis fails fast, and the
    connection pool reconnects by itself when Redis returns.

    Policies run every operation through `run` (or `run_script`), the one place where a failing Redis
    becomes ``StoreUnavailableError``.

    Scripts that write wait for the replicas of their master (``WAIT``, in the same round trip) on a cluster
    or Sentinel set by default: Redis replication is asynchronous, and a count acknowledged by a master that
    dies before its replica got it would be lost in a failover, letting the same quota be spent twice. A
    write that too few replicas acknowledge fails like an unreachable store (closed, by default).
    """

    kind: Literal["memory", "redis"] = "redis"

    def __init__(self, url: str, *, config: StoreConfig | None = None) -> None:
        super().__init__(config=config)
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError(
                "Redis storage needs the redis extra: pip install 'claude-guard[redis]'"
            ) from None
        self.url = url
        self.target: RedisTarget = parse_redis_url(url)
        self.topology = self.target.topology
        default_wait = 0 if self.topology == "single" else 1
        self.wait_replicas = default_wait if self.target.wait_replicas is None else self.target.wait_replicas
        """Replicas that must acknowledge a script's writes before it counts (0: do not wait)."""
        self.sentinel: Any = None
        self.client: Any = self._connect()
        self._scripts: dict[str, _Script] = {}
        self._replicas: dict[str, tuple[float, int]] = {}
        self._refresh_topology = False

    @property
    def cluster(self) -> bool:
        """Whether keys live on several masters (a Lua script's keys must then share one hash slot)."""
        return self.topology == "cluster"

    def _connection_kwargs(self) -> dict[str, Any]:
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff

        target = self.target
        kwargs: dict[str, Any] = {
            # redis-py's default backs off for seconds between attempts, far past what a request may wait:
            # retry a dropped connection quickly, and let a wrong password or certificate fail at once.
            "retry": Retry(ExponentialBackoff(cap=0.1, base=0.01), 2),
            "username": target.username,
            "password": target.password,
            "socket_timeout": self.config.socket_timeout,
            "socket_connect_timeout": self.config.connect_timeout,
            "decode_responses": False,
        }
        if target.tls:
            kwargs.update(
                ssl=True,
                ssl_ca_certs=target.ssl_ca_certs,
                ssl_certfile=target.ssl_certfile,
                ssl_keyfile=target.ssl_keyfile,
                ssl_cert_reqs=target.ssl_cert_reqs,
                ssl_check_hostname=target.ssl_check_hostname and target.ssl_cert_reqs != "none",
            )
        return kwargs

    def _connect(self) -> Any:
        import redis.asyncio as redis_asyncio

        target = self.target
        kwargs = self._connection_kwargs()
        if target.topology == "cluster":
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            return RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
                # A master that is down leaves its slots uncovered until its replica takes over; the other
                # masters' keys stay usable meanwhile.
                require_full_coverage=False,
                **kwargs,
            )
        if target.topology == "sentinel":
            from redis.asyncio.sentinel import Sentinel

            sentinel_kwargs: dict[str, Any] = {
                key: value for key, value in kwargs.items() if key not in ("username", "password")
            }
            sentinel_kwargs.update(username=target.sentinel_username, password=target.sentinel_password)
            self.sentinel = Sentinel(  # type: ignore[no-untyped-call]
                list(target.nodes), sentinel_kwargs=sentinel_kwargs, db=target.db, **kwargs
            )
            return self.sentinel.master_for(target.service, health_check_interval=30)
        host, port = target.nodes[0]
        return redis_asyncio.Redis(host=host, port=port, db=target.db, health_check_interval=30, **kwargs)

    def pick(self, *, memory: Callable[[MemoryStore], M], redis: Callable[[RedisStore], R]) -> M | R:
        return redis(self)

    def script(self, name: str) -> _Script:
        """A registered Lua script (EVALSHA with a transparent reload after a Redis restart), untranslated.

        Called as ``await script(keys=[...], args=[...])``; on a cluster every key must share one hash slot.
        Its failures are redis-py's exceptions: policies call `run_script`, which translates them.
        """
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = _Script(self, load_script(name))
        return script

    async def run(
        self, call: Callable[[], Awaitable[T]], *, timeout: float | None = None, retries: int = 0
    ) -> T:
        """Run one operation on Redis: the one place where a failing store becomes ``StoreUnavailableError``.

        ``call`` makes the awaitable, and is called again for a retry::

            raw = await store.run(lambda: store.client.get(key))

        Any Redis error (a refused, dropped or timed-out connection, a wrong password, ``NOPERM``, a cluster
        slot nobody serves, a write too few replicas acknowledged: `ReplicaAckError`), ``OSError`` or
        ``TimeoutError`` raises ``StoreUnavailableError`` (503), with the original as its ``__cause__``: its
        message never reaches a response, and no policy catches redis-py's exceptions itself. What an
        unavailable store means (fail closed or open, what to log and audit) is each policy's decision.

        Args:
            timeout: seconds the whole operation may take, retries included (``None``: only the socket
                timeouts of ``StoreConfig`` bound it). The rate limiter passes its ``store_timeout``.
            retries: times to repeat the operation after a dropped connection (a pooled connection that
                died with a Redis restart fails once; the pool reconnects on the next command), for
                operations that may run twice. The rate limiter's admission uses 1.
        """
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            async with asyncio.timeout(timeout):
                for attempt in range(retries + 1):
                    try:
                        return await call()
                    except RedisConnectionError:
                        if attempt == retries:
                            raise
        except _store_errors() as exc:
            raise StoreUnavailableError() from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def run_script(
        self,
        name: str,
        keys: Sequence[Any] = (),
        args: Sequence[Any] = (),
        *,
        timeout: float | None = None,
        retries: int = 0,
    ) -> Any:
        """Run the Lua script ``name`` (``"ledger/reserve"``) through `run`: failures raise
        ``StoreUnavailableError``, ``timeout`` and ``retries`` as there. For example the rate limiter's
        admission: ``await store.run_script("ratelimit/admit", keys, args, timeout=2.0, retries=1)``."""
        script = self.script(name)
        return await self.run(lambda: script(keys=keys, args=args), timeout=timeout, retries=retries)

    async def now(self) -> float:
        seconds, micros = await self.client.time()
        return float(seconds) + float(micros) / 1_000_000

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.sentinel is not None:
            for sentinel in self.sentinel.sentinels:
                await sentinel.aclose()

    def __repr__(self) -> str:
        target = self.target
        hosts = ",".join(f"{host}:{port}" for host, port in target.nodes)
        where = f"/{target.service}/{target.db}" if target.service else f"/{target.db}"
        # Never show a password that may be in the URL.
        return f"RedisStore({self.url.partition('://')[0]}://{hosts}{where})"

    def describe(self) -> str:
        """The URL with passwords redacted, for logs and error messages."""
        return redact_url(self.url)

    # -- replica acknowledgement ---------------------------------------------------------------------

    async def connected_replicas(self, name: str, role: Any) -> int:
        """Replicas connected to the master ``name`` now, by its ``ROLE``, asked at most once a second.

        A master without replicas has nobody to fail over to, so nothing can be lost by a failover and a
        write need not wait; a replica that connected within the last second is not waited for yet.
        """
        checked, count = self._replicas.get(name, (0.0, 0))
        now = time.monotonic()
        if now - checked < _REPLICAS_TTL:
            return count
        reply = await role()
        kind = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if kind != "master":
            # a demoted master not yet noticed: the write will be refused (READONLY); remember nothing
            return self.wait_replicas
        count = len(reply[2])
        self._replicas[name] = (now, count)
        return count


class _Script:
    """A Lua script run by EVALSHA, with the replicas' acknowledgement (``WAIT``) in the same round trip.

    redis-py's ``AsyncScript`` runs the script; ``WAIT`` must follow on the same connection (it waits for
    that connection's writes), which redis-py's cluster client cannot express, so the cluster path sends
    both to the slot's master on one of its connections and follows a redirection itself.
    """

    def __init__(self, store: RedisStore, text: str) -> None:
        self.store = store
        self.text = text
        self.inner: Any = store.client.register_script(text)

    @property
    def sha(self) -> str:
        """The script's SHA1, as ``EVALSHA`` names it."""
        return str(self.inner.sha)

    async def __call__(self, keys: Sequence[Any] | None = None, args: Sequence[Any] | None = None) -> Any:
        keys, args = list(keys or ()), list(args or ())
        store = self.store
        if store.wait_replicas <= 0 or not keys:
            return await self.inner(keys=keys, args=args)
        if store.topology == "cluster":
            return await self._cluster(keys, args)
        client = store.client
        connected = await store.connected_replicas("master", lambda: client.execute_command("ROLE"))
        need = min(store.wait_replicas, connected)
        if need == 0:
            return await self.inner(keys=keys, args=args)
        return await self._pipeline(keys, args, need)

    async def _pipeline(self, keys: list[Any], args: list[Any], need: int) -> Any:
        from redis.exceptions import NoScriptError

        client = self.store.client
        timeout_ms = int(self.store.target.wait_timeout * 1000)
        for attempt in range(2):
            async with client.pipeline(transaction=False) as pipe:
                pipe.evalsha(self.inner.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", need, timeout_ms)
                result, acks = await pipe.execute(raise_on_error=False)
            if isinstance(result, NoScriptError) and attempt == 0:
                await client.script_load(self.text)
                continue
            return self._checked(result, acks, need)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _cluster(self, keys: list[Any], args: list[Any]) -> Any:
        from redis.asyncio.cluster import PipelineCommand
        from redis.exceptions import AskError, MovedError, NoScriptError, TryAgainError

        store = self.store
        client = store.client
        timeout_ms = int(store.target.wait_timeout * 1000)
        for attempt in range(3):
            await client.initialize()  # once per client; a no-op afterwards
            if store._refresh_topology:
                store._refresh_topology = False
                await client.nodes_manager.initialize()
            slot = client.keyslot(keys[0])
            nodes = client.nodes_manager.slots_cache.get(slot) or []
            if not nodes:
                store._refresh_topology = True
                raise _replica_error(f"slot {slot} is not covered")
            primary = nodes[0]
            try:
                connected = await store.connected_replicas(
                    primary.name, partial(primary.execute_command, "ROLE")
                )
            except BaseException:
                store._refresh_topology = True
                raise
            need = min(store.wait_replicas, connected)
            if need == 0:
                # No replica to fail over to: nothing to wait for; the client follows redirections itself.
                return await self.inner(keys=keys, args=args)
            commands = [
                PipelineCommand(0, "EVALSHA", self.inner.sha, len(keys), *keys, *args),
                PipelineCommand(1, "WAIT", need, timeout_ms),
            ]
            try:
                await primary.execute_pipeline(commands)
            except BaseException:
                store._refresh_topology = True
                raise
            result, acks = commands[0].result, commands[1].result
            if isinstance(result, NoScriptError):
                await primary.execute_command("SCRIPT", "LOAD", self.text)
                continue
            if isinstance(result, (MovedError, AskError, TryAgainError)) and attempt < 2:
                # The slot moved (a failover, a resharding): learn the new layout and go to its master.
                store._refresh_topology = True
                if isinstance(result, TryAgainError):
                    await asyncio.sleep(0.05)
                continue
            if isinstance(result, Exception) and not isinstance(result, NoScriptError):
                store._refresh_topology = True
            return self._checked(result, acks, need)
        raise _replica_error("the cluster kept redirecting")

    @staticmethod
    def _checked(result: Any, acks: Any, need: int) -> Any:
        if isinstance(result, Exception):
            raise result
        if isinstance(acks, Exception) or int(acks) < need:
            raise _replica_error(f"{acks} of {need} replicas acknowledged the write in time")
        return result


@cache
def _store_errors() -> tuple[type[BaseException], ...]:
    """What a failing store raises: every redis-py error (``RedisClusterException`` is not a ``RedisError``),
    a write the replicas did not acknowledge, and the socket's own errors and timeouts."""
    from redis.exceptions import RedisClusterException, RedisError

    return (RedisError, RedisClusterException, ReplicaAckError, OSError, TimeoutError)


@cache
def _replica_error_class() -> type[Exception]:
    from redis.exceptions import RedisError

    return type("ReplicaAckError", (ReplicaAckError, RedisError), {})


def _replica_error(message: str) -> Exception:
    return _replica_error_class()(message)
