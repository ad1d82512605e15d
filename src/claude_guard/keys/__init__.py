"""Client API keys: issued to the callers of a guarded app, stored only as a hash.

A key looks like ``cg_prod_k7x2m9q4w8e3_<43 random characters>``: the prefix names claude_guard and the
environment (so secret scanners and people can spot it), the middle part is the public key id, and the rest
is 256 bits of randomness. The store keeps the SHA-256 of the whole key (a fast hash is right for random
keys of this length) with the key's metadata; lookup is by id, comparison in constant time.

Example:
    >>> from claude_guard.keys._keys import generate_key, parse_key
    >>> issued = generate_key("production")
    >>> issued.key.startswith("cg_prod_") and issued.key_id in issued.key
    True
    >>> parse_key(issued.key) == (issued.key_id, "production")
    True
"""

from __future__ import annotations

from ._authenticator import KeyCheck as KeyCheck
from ._authenticator import authenticate as authenticate
from ._authenticator import presented_key as presented_key
from ._authenticator import require_profiles as require_profiles
from ._keys import DAY as DAY
from ._keys import ENV_CODES as ENV_CODES
from ._keys import hash_key as hash_key
from ._middleware import APIKeyMiddleware, ProfileMiddleware
from ._middleware import ProtectionMode as ProtectionMode

__all__ = [
    "APIKeyMiddleware",
    "ProfileMiddleware",
]
