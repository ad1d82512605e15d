"""``KeyStore``: key records in the configured store (memory, a JSON keys file, or Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..store import MemoryStore, Store
from . import _keys
from ._keys import DAY, ClientKey, IssuedKey, generate_key

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


class KeyStore:
    """Key records in the configured store.

    - ``memory://``: in this process, optionally backed by a JSON keys file (``keys_file``), so the embedded
      mode survives restarts and the CLI can write keys that a running server reads (it re-reads the file when
      its modification time changes, so revocation there takes effect on the next request);
    - ``redis://``: one hash per key, read on every request (no cache), so revocation takes effect on every
      replica on the next request.
    """

    def __init__(self, store: Store, *, keys_file: str | os.PathLike[str] | None = None) -> None:
        self.store = store
        self.keys_file = Path(keys_file) if keys_file is not None else None
        self._mtime: float | None = None

    @property
    def _records(self) -> dict[str, ClientKey]:
        # Kept in the memory store, so every KeyStore over one MemoryStore sees the same keys.
        assert isinstance(self.store, MemoryStore)
        records: dict[str, ClientKey] = self.store.data.setdefault(self.store.key("keys"), {})
        return records

    @_records.setter
    def _records(self, records: dict[str, ClientKey]) -> None:
        assert isinstance(self.store, MemoryStore)
        self.store.data[self.store.key("keys")] = records

    def __repr__(self) -> str:
        return f"KeyStore({self.store!r}, keys_file={str(self.keys_file) if self.keys_file else None!r})"

    # -- memory / file ------------------------------------------------------------------------------
    def _load_file(self) -> None:
        if self.keys_file is None:
            return
        try:
            mtime = self.keys_file.stat().st_mtime_ns
        except FileNotFoundError:
            self._records, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        data = json.loads(self.keys_file.read_text(encoding="utf-8") or "{}")
        self._records = {k: ClientKey(**v) for k, v in data.get("keys", {}).items()}
        self._mtime = mtime

    @contextlib.contextmanager
    def _file_transaction(self) -> Iterator[dict[str, ClientKey]]:
        assert self.keys_file is not None
        self.keys_file.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.keys_file.with_name(self.keys_file.name + ".lock")
        with open(lock_path, "a") as lock, _exclusive(lock):
            self._mtime = None
            self._load_file()
            records = dict(self._records)
            yield records
            tmp = self.keys_file.with_name(self.keys_file.name + ".tmp")
            payload = {"version": 1, "keys": {k: dataclasses.asdict(v) for k, v in records.items()}}
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.keys_file)
            self._records = records
            self._mtime = self.keys_file.stat().st_mtime_ns

    # -- redis ----------------------------------------------------------------------------------------
    def _rkey(self, key_id: str) -> str:
        return self.store.key("key", key_id, tag=self._tag)

    def _rindex(self) -> str:
        return self.store.key("keys", tag=self._tag)

    @property
    def _tag(self) -> str | None:
        # A record and the index are written in one MULTI, which a Redis Cluster runs only on one slot: there
        # they share a hash tag. One Redis keeps the untagged names it has always used.
        return "keys" if getattr(self.store, "cluster", False) else None

    # -- public -----------------------------------------------------------------------------------------
    async def get(self, key_id: str) -> ClientKey | None:
        if isinstance(self.store, MemoryStore):
            self._load_file()
            return self._records.get(key_id)
        raw = await self.store.client.get(self._rkey(key_id))  # type: ignore[attr-defined]
        if raw is None:
            return None
        return ClientKey(**json.loads(raw))

    async def put(self, record: ClientKey) -> None:
        if isinstance(self.store, MemoryStore):
            if self.keys_file is not None:
                await asyncio.to_thread(self._put_file, record)
            else:
                self._records[record.key_id] = record
            return
        client: Any = self.store.client  # type: ignore[attr-defined]
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(self._rkey(record.key_id), json.dumps(dataclasses.asdict(record)))
            pipe.sadd(self._rindex(), record.key_id)
            await pipe.execute()

    def _put_file(self, record: ClientKey) -> None:
        with self._file_transaction() as records:
            records[record.key_id] = record

    async def list(self) -> list[ClientKey]:
        if isinstance(self.store, MemoryStore):
            self._load_file()
            return sorted(self._records.values(), key=lambda r: r.created_at)
        client: Any = self.store.client  # type: ignore[attr-defined]
        ids = sorted(i.decode() for i in await client.smembers(self._rindex()))
        records = [await self.get(i) for i in ids]
        return sorted((r for r in records if r is not None), key=lambda r: r.created_at)

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
