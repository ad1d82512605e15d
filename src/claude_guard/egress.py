"""The egress face: an ``anthropic`` SDK middleware that ties an app's own calls to Claude to the request
that caused them.

It finds the inbound request's ``GuardContext`` through the contextvar, so protections that act on outgoing
calls (cost metering, PII redaction) land on the right principal. With no current context (a background job)
it passes calls through unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import anthropic

from ._hooks import EgressHook
from ._json import check_json_value
from ._profile_check import parse_betas
from .context import current_context
from .errors import GuardError, UpstreamError, UpstreamTimeoutError
from .keys import ProtectionMode
from .keys._middleware import enforce_profile
from .logscrub import SecretScrubFilter
from .secrets import Secret
from .upstream import UpstreamClient, upstream_error

__all__ = [
    "GuardAnthropicMiddleware",
    "ProfileHook",
    "SyncProfileMiddleware",
    "guard_error_from_sdk",
]

logger = logging.getLogger("claude_guard")


def _check_profile(request: anthropic.APIRequest, mode: ProtectionMode | None) -> None:
    ctx = current_context()
    if ctx is None or ctx.profile is None or request.method.upper() != "POST":
        return
    path = request.url.split("?")[0].rstrip("/")
    if not (path.endswith("/v1/messages") or path.endswith("/v1/messages/count_tokens")):
        return
    headers = [(str(k), v) for k, v in dict(request.headers).items() if isinstance(v, str)]
    enforce_profile(ctx, request.json, parse_betas(headers), mode=mode)


class ProfileHook(EgressHook):
    """Holds an app's own Messages calls to the least privilege of the inbound key's profile.

    The same check as the gateway's ``ProfileMiddleware`` (``keys.enforce_profile``), on the body the SDK is
    about to send (``extra_body`` already merged in) and the betas of the call (``betas=`` and
    ``extra_headers``). It comes first in the hook chain, so a refused call reserves nothing and never
    leaves the process. Headers set once on the client (``default_headers``) are not visible here.
    ``mode`` is ``enforce``, ``shadow`` (record ``would_refuse`` and send) or ``off``; ``None`` follows the
    request's mode (``keys.enforce_profile``).
    """

    def __init__(self, *, mode: ProtectionMode | None = None) -> None:
        self.mode: ProtectionMode | None = mode

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        _check_profile(request, self.mode)
        return request


class SyncProfileMiddleware(anthropic.Middleware):
    """``ProfileHook`` for the sync ``anthropic.Anthropic`` client called from a worker thread of a guarded
    request (a FastAPI ``def`` route): ``Anthropic(middleware=[SyncProfileMiddleware(), ...])``, first.

    Example:
        >>> client = anthropic.Anthropic(api_key="placeholder", middleware=[SyncProfileMiddleware()])
    """

    def __init__(self, *, mode: ProtectionMode | None = None) -> None:
        self.mode: ProtectionMode | None = mode

    def handle(self, request: anthropic.APIRequest, call_next: Any) -> Any:
        _check_profile(request, self.mode)
        return call_next(request)


# The SDK logs each request's options, headers included, at DEBUG ("Request options"): the guard's log
# scrubber, on that logger itself, masks the key set there whether or not the app installed it globally.
_SDK_LOG_SCRUBBER = SecretScrubFilter()


class UpstreamKeyHook(EgressHook):
    """Sets the upstream key on every attempt from the guard's key source, and re-reads it after a 401."""

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream
        # The key set here travels in the request options, which the SDK logs at DEBUG: mask it there.
        logging.getLogger("anthropic._base_client").addFilter(_SDK_LOG_SCRUBBER)  # idempotent

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        key = await self.upstream.key()
        # The SDK sends its api_key as ``Authorization: Bearer``; the same header, with the same spelling,
        # replaces the client's placeholder.
        headers = {**dict(request.headers), "Authorization": f"Bearer {key.get_secret_value()}"}
        return request.copy(headers=headers)

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            # The key this attempt used travels with the request (the hook keeps no per-request state).
            sent = next((v for k, v in dict(request.headers).items() if k.lower() == "authorization"), "")
            if isinstance(sent, str) and sent.startswith("Bearer ") and len(sent) > 7:
                self.upstream.key_answered(Secret(sent[7:]), status)
            elif status == 401:
                self.upstream.invalidate_key()
        return response


class GuardAnthropicMiddleware(anthropic.Middleware):
    """``AsyncAnthropic(middleware=[guard.anthropic_middleware()])``: runs the guard's egress hooks.

    It runs inside the SDK's retry loop, once per attempt; every attempt is recorded on the context.
    """

    def __init__(self, hooks: list[EgressHook] | None = None) -> None:
        self.hooks = list(hooks or [])

    async def handle_async(self, request: anthropic.APIRequest, call_next: Any) -> Any:
        ctx = current_context()
        if request.json is not None:
            # The body the hooks check is the value the SDK serializes: it must be JSON the API reads one
            # way (no lone surrogate, no NaN), as an ingress body is (claude_guard._json).
            check_json_value(request.json)
        for hook in self.hooks:
            request = await hook.before(request)
        try:
            response = await call_next(request)
        except BaseException as exc:
            # A failed attempt (connection error, cancellation) still closes what the hooks opened.
            for hook in self.hooks:
                hook.failed(request, exc)
            raise
        if ctx is not None:
            ctx.decide("egress", "called", path=request.url, status=response.status_code)
        for hook in reversed(self.hooks):
            response = await hook.after(request, response)
        return response


def guard_error_from_sdk(exc: anthropic.APIError) -> GuardError:
    """The ``GuardError`` to show a caller for an SDK error raised by an app route's call to Claude."""
    if isinstance(exc, anthropic.APITimeoutError):
        return UpstreamTimeoutError()
    if isinstance(exc, anthropic.APIStatusError):
        return upstream_error(exc.status_code, exc.body, exc.response.headers)
    return UpstreamError()
