"""The placeholder vault: placeholder → value, per principal, in the store, with a TTL and a bound."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..store import MemoryStore, Store

__all__ = ["PIIVault"]


class PIIVault:
    """Where placeholders are kept so another request, replica or restart can restore them.

    One hash per principal (its key id is the Redis hash tag), so no principal can restore another's
    placeholders. Writes are one atomic script on Redis; the TTL restarts on every write.

    Example:
        >>> import asyncio
        >>> vault = PIIVault(MemoryStore(), ttl=60, max_entries=2)
        >>> asyncio.run(vault.put("key_1", {"<EMAIL_ADDRESS_0123456789>": "ada@example.com"}))
        set()
    """

    def __init__(self, store: Store, *, ttl: float, max_entries: int) -> None:
        self.store = store
        self.ttl = ttl
        self.max_entries = max_entries

    def _key(self, principal: str) -> str:
        return self.store.key("pii", "vault", tag=principal)

    async def put(self, principal: str, entries: Mapping[str, str]) -> set[str]:
        """Store the entries; returns the placeholders that did not fit under ``max_entries``."""
        if not entries:
            return set()
        key = self._key(principal)
        if isinstance(self.store, MemoryStore):
            vault: dict[str, str] = dict(self.store.get(key) or {})
            rejected = set()
            for placeholder, value in entries.items():
                if placeholder in vault:
                    continue
                if len(vault) < self.max_entries:
                    vault[placeholder] = value
                else:
                    rejected.add(placeholder)
            self.store.set(key, vault, ttl=self.ttl)
            return rejected
        args: list[Any] = [int(self.ttl * 1000), self.max_entries]
        for placeholder, value in entries.items():
            args.extend((placeholder, value))
        script = self.store.script("pii_vault_put")  # type: ignore[attr-defined]
        result = await script(keys=[key], args=args)
        return {item.decode() if isinstance(item, bytes) else str(item) for item in result}

    async def get_many(self, principal: str, placeholders: Iterable[str]) -> dict[str, str]:
        """The values of the given placeholders that this principal's vault holds."""
        wanted = list(dict.fromkeys(placeholders))
        if not wanted:
            return {}
        key = self._key(principal)
        if isinstance(self.store, MemoryStore):
            vault = self.store.get(key) or {}
            return {p: vault[p] for p in wanted if p in vault}
        client = self.store.client  # type: ignore[attr-defined]
        values = await client.hmget(key, wanted)
        return {p: v.decode() for p, v in zip(wanted, values, strict=True) if v is not None}

    async def clear(self, principal: str) -> None:
        """Forget every placeholder of a principal (a user's erasure request)."""
        key = self._key(principal)
        if isinstance(self.store, MemoryStore):
            self.store.delete(key)
        else:
            await self.store.client.delete(key)  # type: ignore[attr-defined]
