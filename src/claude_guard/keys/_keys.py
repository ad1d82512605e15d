"""Client API keys: issued to the callers of a guarded app, stored only as a hash.

A key looks like ``cg_prod_k7x2m9q4w8e3_<43 random characters>``: the prefix names claude_guard and the
environment (so secret scanners and people can spot it), the middle part is the public key id, and the rest
is 256 bits of randomness. The store keeps the SHA-256 of the whole key (a fast hash is right for random
keys of this length) with the key's metadata; lookup is by id, comparison in constant time.

Example:
    >>> issued = generate_key("production")
    >>> issued.key.startswith("cg_prod_") and issued.key_id in issued.key
    True
    >>> parse_key(issued.key) == (issued.key_id, "production")
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import ConfigurationError

__all__ = ["DAY", "ENV_CODES", "ClientKey", "IssuedKey", "generate_key", "hash_key", "parse_key"]

ENV_CODES = {"development": "dev", "staging": "stg", "production": "prod"}
_CODE_ENVS = {v: k for k, v in ENV_CODES.items()}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_RE = re.compile(r"^cg_(dev|stg|prod)_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
DAY = 86400.0


def _now() -> float:
    return time.time()


class IssuedKey(NamedTuple):
    """A newly created key: ``key`` is shown once and never stored."""

    key: str
    key_id: str
    record: ClientKey


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientKey:
    """A key's stored record: its hash and metadata, never the key."""

    key_id: str
    key_hash: str
    profile: str
    environment: str
    name: str | None = None
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    rotated_from: str | None = None
    rotated_to: str | None = None

    def to_public(self) -> dict[str, Any]:
        """The record without its hash, for listings."""
        data = dataclasses.asdict(self)
        del data["key_hash"]
        return data


def generate_key(environment: str) -> IssuedKey:
    """A fresh key for ``environment``; returns ``IssuedKey`` with an unsaved record."""
    code = ENV_CODES.get(environment)
    if code is None:
        raise ConfigurationError(f"unknown environment {environment!r}")
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    key = f"cg_{code}_{key_id}_{secrets.token_urlsafe(32)}"
    record = ClientKey(
        key_id=key_id, key_hash=hash_key(key), profile="", environment=environment, created_at=_now()
    )
    return IssuedKey(key=key, key_id=key_id, record=record)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """``(key_id, environment)`` of a well-formed key, or ``None``."""
    match = _KEY_RE.match(key)
    if match is None:
        return None
    return match.group(2), _CODE_ENVS[match.group(1)]
