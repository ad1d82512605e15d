"""``KeyStore``: key records in the configured store, over one of three backends picked at construction.

- ``_MemoryKeys``: in this process (a ``MemoryStore``);
- ``_FileKeys``: the same, backed by a JSON keys file that the CLI and the servers share;
- ``_RedisKeys``: one Redis string per key and a set of ids; failures raise ``StoreUnavailableError``
  through ``RedisStore.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from ..store import MemoryStore, Store
from . import _keys
from ._keys import DAY, ClientKey, IssuedKey, generate_key

if TYPE_CHECKING:
    from ..store.redis import RedisStore

__all__ = ["KeyStore"]


@contextlib.contextmanager
def _exclusive(fh: IO[str]) -> Iterator[None]:
    """An exclusive lock on an open file for the CLI's and servers' writes of the keys file: ``fcntl`` on
    POSIX, ``msvcrt`` on Windows, imported here so the package imports on either."""
    if sys.platform == "win32":
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class KeyBackend(Protocol):
    """Where a `KeyStore` keeps its records."""

    async def get(self, key_id: str) -> ClientKey | None: ...

    async def put(self, record: ClientKey) -> None: ...

    async def list(self) -> list[ClientKey]:
        """Every record, oldest first."""
        ...


class _MemoryKeys:
    """Records in the ``MemoryStore``, so every KeyStore over one store sees the same keys."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._name = store.key("keys")
        """The records' key in the store: the same on every request, so built once."""

    @property
    def records(self) -> dict[str, ClientKey]:
        records: dict[str, ClientKey] = self.store.data.setdefault(self._name, {})
        return records

    @records.setter
    def records(self, records: dict[str, ClientKey]) -> None:
        self.store.data[self._name] = records

    async def get(self, key_id: str) -> ClientKey | None:
        return self.records.get(key_id)

    async def put(self, record: ClientKey) -> None:
        self.records[record.key_id] = record

    async def list(self) -> list[ClientKey]:
        return sorted(self.records.values(), key=lambda r: r.created_at)


RECHECK_SECONDS = 1.0
"""How often (at most) a server looks at the keys file's modification time on the request path: a change
another process made (``claude-guard keys revoke``) is seen within this bound. A ``stat`` per request was a
tenth of the key check's CPU."""


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    # The inode too: every write replaces the file (a new inode), so two writes within one tick of the file
    # system's timestamp clock still differ.
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class _FileKeys(_MemoryKeys):
    """Records in memory, read from and written through to a JSON keys file (re-read when it changes).

    ``get`` looks at the file's modification time at most once per ``recheck`` seconds (``clock``'s);
    ``list`` and every write always do, and a write made here is seen here at once.
    """

    def __init__(
        self,
        store: MemoryStore,
        path: Path,
        *,
        recheck: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(store)
        self.keys_file = path
        self.recheck = recheck
        self._clock = clock
        self._mtime: tuple[int, int, int] | None = None
        self._checked: float | None = None

    async def get(self, key_id: str) -> ClientKey | None:
        checked = self._checked
        if checked is None or self._clock() - checked >= self.recheck:
            self._load_file()
        return self.records.get(key_id)

    async def put(self, record: ClientKey) -> None:
        await asyncio.to_thread(self._put_file, record)

    async def list(self) -> list[ClientKey]:
        self._load_file()
        return sorted(self.records.values(), key=lambda r: r.created_at)

    def _load_file(self) -> None:
        self._checked = self._clock()
        try:
            stat = self.keys_file.stat()
        except FileNotFoundError:
            self.records, self._mtime = {}, None
            return
        mtime = _signature(stat)
        if mtime == self._mtime:
            return
        data = json.loads(self.keys_file.read_text(encoding="utf-8") or "{}")
        self.records = {k: ClientKey(**v) for k, v in data.get("keys", {}).items()}
        self._mtime = mtime

    @contextlib.contextmanager
    def _file_transaction(self) -> Iterator[dict[str, ClientKey]]:
        self.keys_file.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.keys_file.with_name(self.keys_file.name + ".lock")
        with open(lock_path, "a") as lock, _exclusive(lock):
            self._mtime = None
            self._load_file()
            records = dict(self.records)
            yield records
            tmp = self.keys_file.with_name(self.keys_file.name + ".tmp")
            payload = {"version": 1, "keys": {k: dataclasses.asdict(v) for k, v in records.items()}}
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.keys_file)
            self.records = records
            self._mtime = _signature(self.keys_file.stat())

    def _put_file(self, record: ClientKey) -> None:
        with self._file_transaction() as records:
            records[record.key_id] = record


def _tag(store: Store) -> str | None:
    # A record and the index are written in one MULTI, which a Redis Cluster runs only on one slot: there
    # they share a hash tag. One Redis keeps the untagged names it has always used.
    return "keys" if getattr(store, "cluster", False) else None


def _record_key(store: Store, key_id: str) -> str:
    return store.key("key", key_id, tag=_tag(store))


def _index_key(store: Store) -> str:
    return store.key("keys", tag=_tag(store))


class _RedisKeys:
    """One string per key (its record as JSON) and a set of the ids; read on every request, no cache."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store

    async def get(self, key_id: str) -> ClientKey | None:
        raw = await self.store.run(lambda: self.store.client.get(_record_key(self.store, key_id)))
        if raw is None:
            return None
        return ClientKey(**json.loads(raw))

    async def put(self, record: ClientKey) -> None:
        async def write() -> None:
            async with self.store.client.pipeline(transaction=True) as pipe:
                pipe.set(_record_key(self.store, record.key_id), json.dumps(dataclasses.asdict(record)))
                pipe.sadd(_index_key(self.store), record.key_id)
                await pipe.execute()

        await self.store.run(write)

    async def list(self) -> list[ClientKey]:
        members = await self.store.run(lambda: self.store.client.smembers(_index_key(self.store)))
        records = [await self.get(i) for i in sorted(i.decode() for i in members)]
        return sorted((r for r in records if r is not None), key=lambda r: r.created_at)


class KeyStore:
    """Key records in the configured store.

    - ``memory://``: in this process, optionally backed by a JSON keys file (``keys_file``), so the embedded
      mode survives restarts and the CLI can write keys that a running server reads (it re-reads the file when
      its modification time changes, looked at no more than once per ``keys_recheck`` seconds (default
      ``RECHECK_SECONDS``, 1 s) on the request path: a key revoked there stops working within that bound);
    - ``redis://``: one record per key, read on every request (no cache), so revocation takes effect on every
      replica on the next request (``keys_file`` does not apply).
    """

    def __init__(
        self,
        store: Store,
        *,
        keys_file: str | os.PathLike[str] | None = None,
        keys_recheck: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.keys_file = Path(keys_file) if keys_file is not None else None
        path = self.keys_file
        self._backend: KeyBackend = store.pick(
            memory=lambda s: (
                _MemoryKeys(s) if path is None else _FileKeys(s, path, recheck=keys_recheck, clock=clock)
            ),
            redis=_RedisKeys,
        )

    def __repr__(self) -> str:
        return f"KeyStore({self.store!r}, keys_file={str(self.keys_file) if self.keys_file else None!r})"

    def _rkey(self, key_id: str) -> str:
        return _record_key(self.store, key_id)

    def _rindex(self) -> str:
        return _index_key(self.store)

    async def get(self, key_id: str) -> ClientKey | None:
        return await self._backend.get(key_id)

    async def put(self, record: ClientKey) -> None:
        await self._backend.put(record)

    async def list(self) -> list[ClientKey]:
        return await self._backend.list()

    async def create(
        self,
        *,
        profile: str,
        environment: str,
        name: str | None = None,
        expires_in: float | None = None,
        rotated_from: str | None = None,
    ) -> IssuedKey:
        issued = generate_key(environment)
        now = _keys._now()
        record = dataclasses.replace(
            issued.record,
            profile=profile,
            name=name,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            rotated_from=rotated_from,
        )
        await self.put(record)
        return IssuedKey(key=issued.key, key_id=record.key_id, record=record)

    async def _require(self, key_id: str) -> ClientKey:
        record = await self.get(key_id)
        if record is None:
            raise KeyError(key_id)
        return record

    async def revoke(self, key_id: str) -> ClientKey:
        record = dataclasses.replace(await self._require(key_id), revoked_at=_keys._now())
        await self.put(record)
        return record

    async def set_profile(self, key_id: str, profile: str) -> ClientKey:
        record = dataclasses.replace(await self._require(key_id), profile=profile)
        await self.put(record)
        return record

    async def rotate(self, key_id: str, *, grace: float = DAY, expires_in: float | None = None) -> IssuedKey:
        """Issue a successor with the same profile and environment; the old key stays valid for ``grace``."""
        old = await self._require(key_id)
        if old.revoked_at is not None:
            raise ValueError("a revoked key cannot be rotated")
        successor = await self.create(
            profile=old.profile,
            environment=old.environment,
            name=old.name,
            expires_in=expires_in,
            rotated_from=old.key_id,
        )
        until = _keys._now() + grace
        expires = until if old.expires_at is None else min(old.expires_at, until)
        await self.put(dataclasses.replace(old, rotated_to=successor.key_id, expires_at=expires))
        return successor
