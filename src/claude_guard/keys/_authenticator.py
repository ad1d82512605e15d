"""``KeyAuthenticator``: a presented key to a ``Principal`` and ``Profile``, or a 401/403."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .._asgi import Scope, header
from ..context import GuardContext, Principal
from ..errors import AuthenticationError, GuardError, PermissionDeniedError, StoreUnavailableError
from ..profiles import BUILTIN_PROFILES, Profile
from . import _keys
from ._keys import DAY, ClientKey, hash_key, parse_key
from ._store import KeyStore

__all__ = ["KeyAuthenticator", "KeyCheck", "authenticate", "presented_key", "require_profiles"]

logger = logging.getLogger("claude_guard")

_NO_HASH: Final = "0" * 64
_MAX_SETUPS: Final = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyCheck:
    principal: Principal
    profile: Profile
    expires_at: float | None


class KeyAuthenticator:
    """Turns a presented key into a ``Principal`` and ``Profile``, or a 401/403 ``GuardError``.

    ``max_age`` (default 90 days) refuses keys older than that whatever their expiry; within ``warn_before``
    of the first of the two limits, ``check`` reports the coming expiry so callers can warn.
    """

    def __init__(
        self,
        keys: KeyStore,
        *,
        environment: str,
        profiles: Mapping[str, Profile] | None = None,
        max_age: float | None = 90 * DAY,
        warn_before: float = 14 * DAY,
    ) -> None:
        self.keys = keys
        self.environment = environment
        self.profiles = {**BUILTIN_PROFILES, **(profiles or {})}
        self.max_age = max_age
        self.warn_before = warn_before
        self._setups: dict[str, tuple[ClientKey, Profile | None, float | None, KeyCheck | None]] = {}

    async def check(self, presented: str | None) -> KeyCheck:
        if not presented:
            raise AuthenticationError("Missing API key: send it in x-api-key or Authorization: Bearer.")
        parsed = parse_key(presented)
        if parsed is None:
            raise AuthenticationError("Invalid API key.")
        key_id, key_env = parsed
        try:
            record = await self.keys.get(key_id)
        except StoreUnavailableError as exc:  # Redis failed (translated by RedisStore.run)
            logger.warning(
                "claude_guard: the key store is unavailable (%s)", type(exc.__cause__ or exc).__name__
            )
            raise
        except GuardError:
            raise
        except Exception as exc:
            # A keys file or record that cannot be read: the key cannot be checked, so it is refused.
            logger.warning("claude_guard: the key store is unavailable (%s)", type(exc).__name__)
            raise StoreUnavailableError() from None
        # Hash the presented key even when the id is unknown, so timing says nothing about which ids exist.
        presented_hash = hash_key(presented)
        expected = record.key_hash if record is not None else _NO_HASH
        if record is None or not hmac.compare_digest(presented_hash, expected):
            raise AuthenticationError("Invalid API key.")
        now = _keys._now()
        if record.revoked_at is not None and record.revoked_at <= now:
            raise AuthenticationError("This API key has been revoked.")
        expires_at, setup = self._setup(key_id, record)
        if expires_at is not None and expires_at <= now:
            raise AuthenticationError("This API key has expired; rotate it.")
        if key_env != self.environment or record.environment != self.environment:
            raise PermissionDeniedError(
                f"This key was issued for {record.environment}, not {self.environment}.", code="environment"
            )
        if setup is None:
            logger.error("claude_guard: key %s names an unknown profile %r", key_id, record.profile)
            raise PermissionDeniedError("This key's profile is not configured here.", code="profile")
        return setup

    def _setup(self, key_id: str, record: ClientKey) -> tuple[float | None, KeyCheck | None]:
        """What a verified key's record always yields: its effective expiry and its ``KeyCheck`` (principal
        and profile; ``None`` when its profile is not configured here), built once per record rather than on
        every request.

        Only what follows from the stored record is reused, never a verdict on a presented secret: the
        caller hashes the presented key and compares it with the record's hash in constant time on every
        request before this is asked, and checks revocation and expiry against the clock each time. A
        cached hash result keyed by the secret would keep a revoked or rotated key's verdict alive and
        hold secrets in memory; this holds only public metadata. An entry is used only for the very record
        it was built from (the same object, or an equal one when Redis decodes a fresh copy per request), so
        a keys-file reload, a revocation, a rotation or a changed profile (of the key, or in ``profiles``)
        builds it again. Bounded by the number of keys (their ids exist in the store), capped anyway.
        """
        profile = self.profiles.get(record.profile)
        cached = self._setups.get(key_id)
        if cached is not None and cached[1] is profile and (cached[0] is record or cached[0] == record):
            return cached[2], cached[3]
        expires_at = record.expires_at
        if self.max_age is not None:
            aged_out = record.created_at + self.max_age
            expires_at = aged_out if expires_at is None else min(expires_at, aged_out)
        principal = Principal(
            key_id=record.key_id, profile=record.profile, environment=record.environment, name=record.name
        )
        setup = None
        if profile is not None:
            setup = KeyCheck(principal=principal, profile=profile, expires_at=expires_at)
        if len(self._setups) >= _MAX_SETUPS:
            self._setups.clear()
        self._setups[key_id] = (record, profile, expires_at, setup)
        return expires_at, setup

    def expiry_warning(self, check: KeyCheck) -> str | None:
        """An RFC 3339 expiry time when the key expires within ``warn_before``, else ``None``."""
        if check.expires_at is None or check.expires_at - _keys._now() > self.warn_before:
            return None
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(check.expires_at))


def presented_key(scope: Scope) -> str | None:
    """The key in ``x-api-key`` or ``Authorization: Bearer`` (the official SDK sends the latter)."""
    value = header(scope, b"x-api-key")
    if value:
        return value.decode("latin-1").strip()
    auth = header(scope, b"authorization")
    if auth:
        scheme, _, token = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


async def authenticate(ctx: GuardContext, scope: Scope, authenticator: KeyAuthenticator) -> KeyCheck | None:
    """Authenticate once per request: a principal already on ``ctx`` is kept."""
    if ctx.principal is not None:
        return None
    try:
        check = await authenticator.check(presented_key(scope))
    except GuardError as exc:
        ctx.decide("auth", "denied", status=exc.status, code=exc.code)
        raise
    ctx.principal = check.principal
    ctx.profile = check.profile
    ctx.decide("auth", "allowed", key_id=check.principal.key_id, profile=check.principal.profile)
    return check


async def require_profiles(
    ctx: GuardContext,
    scope: Scope,
    authenticator: KeyAuthenticator,
    profiles: Sequence[str],
    *,
    allow_admin: bool,
) -> Principal:
    """Authenticate (unless done) and require one of ``profiles`` (or ``admin``); the framework faces'
    ``require_profile`` dependencies are this."""
    await authenticate(ctx, scope, authenticator)
    principal = ctx.principal
    assert principal is not None
    if principal.profile not in profiles and not (allow_admin and principal.profile == "admin"):
        ctx.decide("auth", "denied", code="profile")
        raise PermissionDeniedError(
            f"This route needs the {' or '.join(sorted(profiles))} profile.", code="profile"
        )
    return principal
