"""``KeyAuthenticator``: a presented key to a ``Principal`` and ``Profile``, or a 401/403."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._asgi import Scope, header
from ..context import GuardContext, Principal
from ..errors import AuthenticationError, GuardError, PermissionDeniedError, StoreUnavailableError
from ..profiles import BUILTIN_PROFILES, Profile
from . import _keys
from ._keys import DAY, hash_key, parse_key
from ._store import KeyStore

__all__ = ["KeyAuthenticator", "KeyCheck", "authenticate", "presented_key", "require_profiles"]

logger = logging.getLogger("claude_guard")


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
        expected = record.key_hash if record is not None else "0" * 64
        if record is None or not hmac.compare_digest(presented_hash, expected):
            raise AuthenticationError("Invalid API key.")
        now = _keys._now()
        if record.revoked_at is not None and record.revoked_at <= now:
            raise AuthenticationError("This API key has been revoked.")
        expires_at = record.expires_at
        if self.max_age is not None:
            aged_out = record.created_at + self.max_age
            expires_at = aged_out if expires_at is None else min(expires_at, aged_out)
        if expires_at is not None and expires_at <= now:
            raise AuthenticationError("This API key has expired; rotate it.")
        if key_env != self.environment or record.environment != self.environment:
            raise PermissionDeniedError(
                f"This key was issued for {record.environment}, not {self.environment}.", code="environment"
            )
        profile = self.profiles.get(record.profile)
        if profile is None:
            logger.error("claude_guard: key %s names an unknown profile %r", key_id, record.profile)
            raise PermissionDeniedError("This key's profile is not configured here.", code="profile")
        principal = Principal(
            key_id=record.key_id, profile=record.profile, environment=record.environment, name=record.name
        )
        return KeyCheck(principal=principal, profile=profile, expires_at=expires_at)

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
