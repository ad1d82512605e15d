"""The ASGI faces of access control: ``APIKeyMiddleware`` (client keys), ``ProfileMiddleware`` (profiles)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal

from .._asgi import ASGIApp, Receive, Scope, Send, add_response_headers, ensure_body, require_json
from .._profile_check import parse_betas
from .._routes import PathPatterns
from ..context import GuardContext
from ..errors import ConfigurationError, PermissionDeniedError
from ..middleware import GuardMiddleware
from ..profiles import check_request
from ..responses import ErrorFormat
from ._authenticator import KeyAuthenticator, authenticate

__all__ = ["PROFILE_ROUTES", "APIKeyMiddleware", "ProfileMiddleware", "ProtectionMode", "enforce_profile"]

logger = logging.getLogger("claude_guard")


class APIKeyMiddleware(GuardMiddleware):
    """Authenticates every HTTP request (except ``exempt_paths``: exact paths or globs, compared as they are,
    trailing slash included) with a client key.

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
        profile_mode: Literal["enforce", "shadow", "off"] = "enforce",
    ) -> None:
        super().__init__(app, error_format=error_format)
        self.authenticator = authenticator
        self.exempt_paths = PathPatterns(exempt_paths, strict_slash=True)
        if profile_mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("profile_mode must be enforce, shadow or off.")
        self.profile_mode = profile_mode
        """Mode of the profile's model and tool allow-lists (``allow_list_mode``); the key check itself is
        always enforced."""

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if self.exempt_paths.matches(ctx.path):
            await self.app(scope, receive, send)
            return
        check = await authenticate(ctx, scope, self.authenticator)
        if self.profile_mode != "enforce":
            ctx.profile_mode = self.profile_mode
        warning = self.authenticator.expiry_warning(check) if check is not None else None
        if warning is None:
            await self.app(scope, receive, send)
            return
        assert check is not None
        logger.warning("claude_guard: key %s expires at %s; rotate it", check.principal.key_id, warning)
        ctx.decide("auth", "key_expiring", expires_at=warning)
        await self.app(scope, receive, add_response_headers(send, [("claude-guard-key-expires", warning)]))


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
    ``ctx.profile_mode`` (set where ``CLAUDE_GUARD_PROFILE_MODE`` is applied), else enforces.

    Raises:
        PermissionDeniedError: the request asks for something the profile does not allow (403).
    """
    if mode is None:
        mode = ctx.profile_mode or "enforce"
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
        self.routes = PathPatterns(routes)
        self.mode: ProtectionMode | None = mode

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.mode != "off"
            and ctx.profile is not None
            and ctx.method == "POST"
            and self.routes.matches(ctx.path)
        ):
            require_json(scope)
            receive = await ensure_body(ctx, scope, receive)
            enforce_profile(ctx, ctx.json(), parse_betas(scope.get("headers", ())), mode=self.mode)
        await self.app(scope, receive, send)
