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

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from ._asgi import ASGIApp, Receive, Scope, Send, ensure_body, header, require_json
from .context import GuardContext, Principal
from .errors import (
    AuthenticationError,
    ConfigurationError,
    GuardError,
    PermissionDeniedError,
    StoreUnavailableError,
)
from .middleware import GuardMiddleware
from .profiles import BUILTIN_PROFILES, PROFILE_MODE_STATE, Profile, check_request, parse_betas
from .responses import ErrorFormat
from .store import MemoryStore, Store

__all__ = [
    "PROFILE_ROUTES",
    "APIKeyMiddleware",
    "ClientKey",
    "IssuedKey",
    "KeyAuthenticator",
    "KeyStore",
    "ProfileMiddleware",
    "enforce_profile",
    "generate_key",
    "parse_key",
]

logger = logging.getLogger("claude_guard")

ENV_CODES = {"development": "dev", "staging": "stg", "production": "prod"}
_CODE_ENVS = {v: k for k, v in ENV_CODES.items()}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_RE = re.compile(r"^cg_(dev|stg|prod)_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
DAY = 86400.0


def _now() -> float:
    return time.time()



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
        raise ValueError(f"unknown environment {environment!r}")
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
        now = _now()
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
        record = dataclasses.replace(await self._require(key_id), revoked_at=_now())
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
        until = _now() + grace
        expires = until if old.expires_at is None else min(old.expires_at, until)
        await self.put(dataclasses.replace(old, rotated_to=successor.key_id, expires_at=expires))
        return successor


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
        except GuardError:
            raise
        except Exception as exc:
            logger.warning("claude_guard: the key store is unavailable (%s)", type(exc).__name__)
            raise StoreUnavailableError() from None
        # Hash the presented key even when the id is unknown, so timing says nothing about which ids exist.
        presented_hash = hash_key(presented)
        expected = record.key_hash if record is not None else "0" * 64
        if record is None or not hmac.compare_digest(presented_hash, expected):
            raise AuthenticationError("Invalid API key.")
        now = _now()
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
        if check.expires_at is None or check.expires_at - _now() > self.warn_before:
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


class APIKeyMiddleware(GuardMiddleware):
    """Authenticates every HTTP request (except ``exempt_paths``) with a client key.

    Puts the ``Principal`` and its ``Profile`` on the ``GuardContext``; 401 for a missing, malformed, unknown,
    revoked or expired key; 403 for a key of another environment. A key near its expiry gets a
    ``claude-guard-key-expires`` response header, a warning log line and an audit decision.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: KeyAuthenticator,
        exempt_paths: Sequence[str] = ("/healthz",),
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        self.authenticator = authenticator
        self.exempt_paths = frozenset(exempt_paths)

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if ctx.path in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        check = await authenticate(ctx, scope, self.authenticator)
        warning = self.authenticator.expiry_warning(check) if check is not None else None
        if warning is None:
            await self.app(scope, receive, send)
            return
        assert check is not None
        logger.warning("claude_guard: key %s expires at %s; rotate it", check.principal.key_id, warning)
        ctx.decide("auth", "key_expiring", expires_at=warning)
        extra = (b"claude-guard-key-expires", warning.encode())

        async def send_with_warning(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), extra]}
            await send(message)

        await self.app(scope, receive, send_with_warning)


PROFILE_ROUTES: tuple[str, ...] = ("/v1/messages", "/v1/messages/count_tokens")
"""The Messages routes whose requests ``ProfileMiddleware`` checks against the key's profile."""


ProtectionMode = Literal["enforce", "shadow", "off"]


def enforce_profile(
    ctx: GuardContext, body: object, betas: Sequence[str], *, mode: ProtectionMode | None = None
) -> None:
    """Check a Messages request against ``ctx.profile`` (no profile: nothing to check) and record the verdict.

    The gateway face (`ProfileMiddleware`) and the SDK egress face (``egress.ProfileHook``) both call this.
    In ``shadow`` mode a refusal is recorded as ``would_refuse`` (with its code as the reason) and the
    request goes on; ``off`` checks nothing. ``None`` takes the request's mode from
    ``ctx.state[PROFILE_MODE_STATE]`` (set where ``CLAUDE_GUARD_PROFILE_MODE`` is applied), else enforces.

    Raises:
        PermissionDeniedError: the request asks for something the profile does not allow (403).
    """
    if mode is None:
        mode = ctx.state.get(PROFILE_MODE_STATE, "enforce")
    profile = ctx.profile
    if mode == "off" or profile is None or not isinstance(body, Mapping):
        return
    try:
        check_request(profile, body, betas)
    except PermissionDeniedError as exc:
        if mode == "shadow":
            ctx.decide("profile", "would_refuse", reason=exc.code, profile=profile.name)
            return
        ctx.decide("profile", "refused", profile=profile.name, code=exc.code)
        raise
    ctx.decide("profile", "allowed", profile=profile.name)


class ProfileMiddleware(GuardMiddleware):
    """Holds gateway Messages requests to the least privilege of the key's profile (403 before upstream).

    Put it after authentication (``ctx.profile`` is set there) and request limits (the body cap), before
    validation and metering, so a refused request costs nothing. Every ``anthropic-beta`` header counts.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarded = ProfileMiddleware(app)
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[str] = PROFILE_ROUTES,
        mode: ProtectionMode | None = None,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        if mode not in ("enforce", "shadow", "off", None):
            raise ConfigurationError("ProfileMiddleware mode must be enforce, shadow or off.")
        self.routes = frozenset(route.rstrip("/") for route in routes)
        self.mode: ProtectionMode | None = mode

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.mode != "off"
            and ctx.profile is not None
            and ctx.method == "POST"
            and ctx.path.rstrip("/") in self.routes
        ):
            require_json(scope)
            receive = await ensure_body(ctx, scope, receive)
            enforce_profile(ctx, ctx.json(), parse_betas(scope.get("headers", ())), mode=self.mode)
        await self.app(scope, receive, send)
