"""``RateLimitMiddleware``: the pure ASGI face of the rate-limit engine."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from .._asgi import ASGIApp, Message, Receive, Scope, Send, with_headers
from .._proxies import TrustedProxies, client_address
from ..context import GuardContext
from ..errors import ConfigurationError, RateLimitedError
from ..middleware import GuardMiddleware
from ..responses import ErrorFormat
from ..store import Store
from ._config import RateLimitConfig, RateLimitRule
from ._engine import LimitState, RateLimiter
from ._policy import (
    admit,
    all_states,
    build_checks,
    identity,
    judge,
    plan,
    rate_limit_headers,
    state_of,
)

__all__ = ["RateLimitMiddleware"]

_OVERLOADED = frozenset({429, 529})
_MAX_ROUTES = 4096


def _shadowed(ctx: GuardContext, exc: RateLimitedError) -> None:
    # The engine recorded a denial: in shadow it is a "would refuse" with the same detail and a reason, and
    # it refunds nothing (a denied admission counted against no limit).
    state_of(ctx).denied = False
    detail: dict[str, Any] = {}
    for index in range(len(ctx.decisions) - 1, -1, -1):
        decision = ctx.decisions[index]
        if decision.protection == "rate_limit" and decision.outcome == "denied":
            detail = dict(decision.detail or {})
            del ctx.decisions[index]
            break
    detail["reason"] = exc.code or "rate_limit"
    ctx.decide("rate_limit", "would_refuse", **detail)


# The rules of a route as (name, rule), and as (name, rule, key kind) when no rule has a key function.
_Matched = tuple[tuple[tuple[str, RateLimitRule], ...], tuple[tuple[str, RateLimitRule, str], ...] | None]


class RateLimitMiddleware(GuardMiddleware):
    """Request-rate limits and concurrency caps by route and method, exact across replicas.

    Put it after authentication, so limits count per client key (``ctx.principal``); before it, or for
    anonymous routes, requests count per client address, taken from the socket or from trusted proxies.
    Every guarded response carries ``RateLimit-Policy`` and ``RateLimit``, added to ``http.response.start``
    as it passes (a stream is never buffered). A request denied by any limit counts against none; a 429 is
    Anthropic's ``rate_limit_error`` with ``retry-after`` from the real shortfall.

    Args:
        app: the ASGI app to guard.
        config: rules and policy; the default has no rules, so only profile defaults apply.
        limiter: the engine, to share it with ``rate_limit`` dependencies and other middlewares.
        store: the store of a new engine when ``limiter`` is not given (default: memory).

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarded = RateLimitMiddleware(app, config=RateLimitConfig(
        ...     rules=[RateLimitRule(path="/v1/messages*", methods=["POST"], limits="10/minute;1000/day",
        ...                          concurrency=2)]))
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: RateLimitConfig | None = None,
        limiter: RateLimiter | None = None,
        store: Store | None = None,
        error_format: ErrorFormat = "anthropic",
        mode: Literal["enforce", "shadow", "off"] = "enforce",
    ) -> None:
        super().__init__(app, error_format=error_format)
        if mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("RateLimitMiddleware mode must be enforce, shadow or off.")
        self.mode = mode
        """``shadow``: a denial is recorded as ``rate_limit:would_refuse`` and the request goes on (counting
        against nothing, as a denied one would); ``off``: no limit is checked."""
        self.config = config or RateLimitConfig()
        self.limiter = limiter or RateLimiter(store, store_timeout=self.config.store_timeout)
        self._rules: tuple[RateLimitRule, ...] = tuple(self.config.rules)
        trusted = self.config.trusted_proxies
        self._trusted = trusted if isinstance(trusted, TrustedProxies) else TrustedProxies(trusted)
        self._routes: dict[tuple[str, str], _Matched] = {}

    def __repr__(self) -> str:
        return f"RateLimitMiddleware(rules={len(self._rules)}, limiter={self.limiter!r})"

    def _matching(self, method: str, path: str) -> _Matched:
        # Which rules apply depends on the method and path alone: matched once per route, and whether every
        # identity is known without an await (no key functions). Bounded, since clients choose paths.
        matched = self._routes.get((method, path))
        if matched is None:
            rules = tuple((r.name or "", r) for r in self._rules if r.matches(method, path))
            kinds = tuple((name, rule, rule.key) for name, rule in rules if isinstance(rule.key, str))
            matched = (rules, kinds if len(kinds) == len(rules) else None)
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[method, path] = matched
        return matched

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mode != "enforce":
            if self.mode == "off":
                await self.app(scope, receive, send)
                return
            try:
                await self._admit(ctx, scope, receive, send)
            except RateLimitedError as exc:
                state = state_of(ctx)
                admitting, state.shadow_admitting = state.shadow_admitting, False
                if not admitting:
                    raise  # from further in (a route dependency): not this middleware's to shadow
                _shadowed(ctx, exc)
                await self.app(scope, receive, send)
            return
        await self._admit(ctx, scope, receive, send)

    async def _admit(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.config
        limiter = self.limiter
        if self._trusted:
            ctx.client_addr = client_address(scope, self._trusted)
        state = state_of(ctx)
        if state.limiter is None:
            state.limiter = limiter
        outermost = not state.middleware
        state.middleware = True
        rules, kinds = self._matching(ctx.method, ctx.path)
        if kinds is not None:
            checks, caps = build_checks(
                limiter,
                [(name, rule, identity(kind, ctx)) for name, rule, kind in kinds],
                ctx,
                profile_limits=config.profile_limits,
                profile_strategy=config.profile_strategy,
            )
        else:
            checks, caps = await plan(
                limiter,
                rules,
                ctx,
                scope,
                profile_limits=config.profile_limits,
                profile_strategy=config.profile_strategy,
            )
        admission = None
        if checks or caps:
            shadow = self.mode == "shadow"
            if shadow:
                state.shadow_admitting = True
            # The memory engine decides without an await; a store answers through admit's failure policy.
            admission = limiter.admit_nowait(checks, caps)
            if admission is not None:
                judge(ctx, admission, legacy_headers=config.legacy_headers)
            else:
                admission = await admit(
                    limiter,
                    ctx,
                    checks,
                    caps,
                    on_store_error=config.on_store_error,
                    legacy_headers=config.legacy_headers,
                )
            if shadow:
                state.shadow_admitting = False
        if outermost:
            state.headers_by = self
        renewer = None
        if admission is not None and admission.leases:
            renewer = asyncio.ensure_future(limiter.renew_while_running(admission))
        refund = False
        try:
            await self.app(scope, receive, send)
        except RateLimitedError:
            refund = True
            raise
        finally:
            if renewer is not None:
                renewer.cancel()
            if outermost:
                # A limit further in (a route dependency, a nested middleware) denied: what was counted out
                # here is given back, so a denied request consumes none of its limits.
                refund = refund or state.denied
                refund = refund or (config.refund_upstream_overload and state.upstream_overloaded)
                for held in state.admissions:
                    if not limiter.release_nowait(held, refund=refund):
                        await limiter.release(held, refund=refund)

    def on_response_start(self, ctx: GuardContext, message: Message) -> Message:
        # The response starts (the outermost guard's send wrapper calls this): note upstream rate limits, and
        # the outermost rate-limit middleware adds the headers. A stream passes on unbuffered.
        state = state_of(ctx)
        status = int(message.get("status", 200))
        raw = message.get("headers", ())
        if ctx.upstream_headers is not None or ctx.upstream_status is not None:
            upstream = _upstream_rate_limits(ctx.upstream_headers, raw)
            if upstream:
                state.upstream_limits = upstream
        if status in _OVERLOADED and ctx.upstream_status in _OVERLOADED:
            state.upstream_overloaded = True
            ctx.decide("rate_limit", "upstream_overloaded", status=status)
        if self.config.headers and state.headers_by is self and not state.headers_sent:
            state.headers_sent = True
            held = state.admissions
            # One admission (the common case) already holds its states in order.
            states = (held[0].limits if len(held) == 1 else all_states(ctx)) if held else ()
            if states:
                message = with_headers(message, _encoded_headers(states, self.config.legacy_headers))
        return message


_policy_headers: dict[tuple[Any, ...], bytes] = {}


def _encoded_headers(states: Sequence[LimitState], legacy: bool) -> list[tuple[bytes, bytes]]:
    # RateLimit-Policy is the same for every request of a route: encode it once.
    if len(states) == 1 and not legacy:  # the common case, without the generators
        s = states[0]
        shape: tuple[Any, ...] = (s.policy, s.quota, s.window)
        policy = _policy_headers.get(shape)
        if policy is None:
            policy = _remember_policy(shape, f'"{s.policy}";q={s.quota};w={s.window}'.encode())
        current = f'"{s.policy}";r={s.remaining};t={math.ceil(s.reset)}'.encode()
        return [(b"ratelimit-policy", policy), (b"ratelimit", current)]
    shape = tuple((s.policy, s.quota, s.window) for s in states)
    policy = _policy_headers.get(shape)
    if policy is None:
        policy = _remember_policy(shape, ", ".join(f'"{p}";q={q};w={w}' for p, q, w in shape).encode())
    current = ", ".join(f'"{s.policy}";r={s.remaining};t={math.ceil(s.reset)}' for s in states).encode()
    headers = [(b"ratelimit-policy", policy), (b"ratelimit", current)]
    if legacy:
        headers += [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in rate_limit_headers(states, legacy=True)[2:]
        ]
    return headers


def _remember_policy(shape: tuple[Any, ...], encoded: bytes) -> bytes:
    if len(_policy_headers) > 1024:
        _policy_headers.clear()
    _policy_headers[shape] = encoded
    return encoded


def _upstream_rate_limits(upstream_headers: Any, response_headers: Iterable[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    if upstream_headers is not None:
        for name, value in upstream_headers.items():
            lower = str(name).lower()
            if lower.startswith("anthropic-ratelimit-"):
                found[lower] = str(value)
    if not found:
        for name, value in response_headers:
            lower = bytes(name).decode("latin-1").lower()
            if lower.startswith("anthropic-ratelimit-"):
                found[lower] = bytes(value).decode("latin-1")
    return found
