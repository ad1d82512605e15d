"""The placeholder vault: placeholder → value, per principal, in the store, with a TTL and a bound.

With a `VaultCipher` every value is stored as AES-GCM ciphertext (``cryptography``'s ``AESGCM``, not our own
crypto), bound to its principal and placeholder, and tagged with the id of the key that wrote it.

`PIIVault` keeps the policy (encryption, which principal); its storage is one of two `VaultBackend` classes
picked once from the store: ``_MemoryVault`` or ``_RedisVault`` (``lua/vault_put.lua``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigurationError, VaultDecryptionError
from ..secrets import Secret
from ..store import MemoryStore, Store

if TYPE_CHECKING:
    from ..store.redis import RedisStore

__all__ = ["PIIVault", "VaultCipher", "VaultDecryptionError"]

_PREFIX = "cgv1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


class VaultCipher:
    """AES-256-GCM for vault values, with key rotation by key id.

    Ciphertext is ``cgv1:<key id>:<base64url(nonce || ciphertext || tag)>``; the associated data is the
    principal and the placeholder, so a value copied into another slot does not decrypt. New values use the
    current key; values of any other configured key still decrypt; a value of an unknown key, a tampered
    value or a plaintext one raises `VaultDecryptionError` (the request fails closed with 503).

    Example:
        >>> key = base64.urlsafe_b64encode(bytes(32)).decode()
        >>> cipher = VaultCipher.from_secret(Secret(f"k1:{key}"))
        >>> token = cipher.encrypt("key_1", "<EMAIL_ADDRESS_0123456789>", "ada@example.com")
        >>> token.startswith("cgv1:k1:"), cipher.decrypt("key_1", "<EMAIL_ADDRESS_0123456789>", token)
        (True, 'ada@example.com')
    """

    def __init__(self, keys: Mapping[str, bytes], *, current: str) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:  # pragma: no cover - cryptography comes with the redis and otel stacks
            raise ConfigurationError(
                "CLAUDE_GUARD_VAULT_KEY needs the cryptography package: pip install 'claude-guard[pii]'"
            ) from None
        if current not in keys:
            raise ConfigurationError("CLAUDE_GUARD_VAULT_KEY: the current key id has no key.")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id) or len(key) != 32:
                raise ConfigurationError(
                    "CLAUDE_GUARD_VAULT_KEY must list id:base64 pairs of 32-byte keys, comma-separated."
                )
        self.current = current
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}

    def __repr__(self) -> str:
        return f"VaultCipher(current={self.current!r}, keys={sorted(self._aead)!r})"

    @classmethod
    def from_secret(cls, secret: Secret) -> VaultCipher:
        """Keys from ``id:base64,id:base64`` (the current one first; a lone base64 key gets the id ``k0``)."""
        keys: dict[str, bytes] = {}
        for item in secret.get_secret_value().split(","):
            item = item.strip()
            if not item:
                continue
            key_id, sep, encoded = item.rpartition(":")
            if not sep:
                key_id, encoded = "k0", item
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                key = b""
            if key_id in keys or len(key) != 32 or not _KEY_ID.match(key_id):
                # The message names the variable and the shape, never a key.
                raise ConfigurationError(
                    "CLAUDE_GUARD_VAULT_KEY must list id:base64 pairs of 32-byte keys, comma-separated, "
                    "with unique ids."
                )
            keys[key_id] = key
        if not keys:
            raise ConfigurationError("CLAUDE_GUARD_VAULT_KEY is set but holds no key.")
        return cls(keys, current=next(iter(keys)))

    @staticmethod
    def _aad(principal: str, placeholder: str) -> bytes:
        return f"{principal}\0{placeholder}".encode()

    def encrypt(self, principal: str, placeholder: str, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.current].encrypt(nonce, value.encode(), self._aad(principal, placeholder))
        return f"{_PREFIX}{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, principal: str, placeholder: str, token: str) -> str:
        from cryptography.exceptions import InvalidTag

        if not token.startswith(_PREFIX):
            raise VaultDecryptionError(code="pii_vault_key")
        key_id, _, encoded = token[len(_PREFIX) :].partition(":")
        aead = self._aead.get(key_id)
        if aead is None:
            raise VaultDecryptionError(code="pii_vault_key")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            plain = aead.decrypt(raw[:12], raw[12:], self._aad(principal, placeholder))
            return plain.decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise VaultDecryptionError(code="pii_vault_key") from None


class VaultBackend(Protocol):
    """Where a `PIIVault` keeps one hash (placeholder -> stored value) per principal; each call is atomic."""

    async def put(self, key: str, entries: Mapping[str, str], *, ttl: float, max_entries: int) -> set[str]:
        """Add the new placeholders while fewer than ``max_entries`` are held (known ones are kept); restart
        the TTL; return the placeholders that did not fit."""
        ...

    async def get_many(self, key: str, placeholders: Sequence[str]) -> dict[str, str]: ...

    async def clear(self, key: str) -> None: ...


class _MemoryVault:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def put(self, key: str, entries: Mapping[str, str], *, ttl: float, max_entries: int) -> set[str]:
        vault: dict[str, str] = dict(self.store.get(key) or {})
        rejected = set()
        for placeholder, value in entries.items():
            if placeholder in vault:
                continue
            if len(vault) < max_entries:
                vault[placeholder] = value
            else:
                rejected.add(placeholder)
        self.store.set(key, vault, ttl=ttl)
        return rejected

    async def get_many(self, key: str, placeholders: Sequence[str]) -> dict[str, str]:
        vault = self.store.get(key) or {}
        return {p: vault[p] for p in placeholders if p in vault}

    async def clear(self, key: str) -> None:
        self.store.delete(key)


class _RedisVault:
    """A Redis hash per principal; failures raise ``StoreUnavailableError`` through ``RedisStore.run``."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store

    async def put(self, key: str, entries: Mapping[str, str], *, ttl: float, max_entries: int) -> set[str]:
        args: list[Any] = [int(ttl * 1000), max_entries]
        for placeholder, value in entries.items():
            args.extend((placeholder, value))
        result = await self.store.run_script("pii/vault_put", [key], args)
        return {item.decode() if isinstance(item, bytes) else str(item) for item in result}

    async def get_many(self, key: str, placeholders: Sequence[str]) -> dict[str, str]:
        values = await self.store.run(lambda: self.store.client.hmget(key, list(placeholders)))
        return {p: v.decode() for p, v in zip(placeholders, values, strict=True) if v is not None}

    async def clear(self, key: str) -> None:
        await self.store.run(lambda: self.store.client.delete(key))


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

    def __init__(
        self, store: Store, *, ttl: float, max_entries: int, cipher: VaultCipher | None = None
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.max_entries = max_entries
        self.cipher = cipher
        """When set, values are stored encrypted and decrypted on the way out (a wrong key fails closed)."""
        self._backend: VaultBackend = store.pick(memory=_MemoryVault, redis=_RedisVault)

    def _key(self, principal: str) -> str:
        return self.store.key("pii", "vault", tag=principal)

    async def put(self, principal: str, entries: Mapping[str, str]) -> set[str]:
        """Store the entries; returns the placeholders that did not fit under ``max_entries``."""
        if not entries:
            return set()
        key = self._key(principal)
        if self.cipher is not None:
            cipher = self.cipher
            entries = {p: cipher.encrypt(principal, p, v) for p, v in entries.items()}
        return await self._backend.put(key, entries, ttl=self.ttl, max_entries=self.max_entries)

    async def get_many(self, principal: str, placeholders: Iterable[str]) -> dict[str, str]:
        """The values of the given placeholders that this principal's vault holds."""
        wanted = list(dict.fromkeys(placeholders))
        if not wanted:
            return {}
        found = await self._backend.get_many(self._key(principal), wanted)
        if self.cipher is not None:
            cipher = self.cipher
            return {p: cipher.decrypt(principal, p, v) for p, v in found.items()}
        return found

    async def clear(self, principal: str) -> None:
        """Forget every placeholder of a principal (a user's erasure request)."""
        await self._backend.clear(self._key(principal))
