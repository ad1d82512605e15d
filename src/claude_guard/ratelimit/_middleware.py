"""``RateLimitMiddleware``: the pure ASGI face of the rate-limit engine."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from math import ceil
from time import time
from typing import TYPE_CHECKING, Any, Literal

from .._asgi import ASGIApp, Message, Receive, Scope, Send, with_headers
from .._proxies import TrustedProxies, client_address
from ..context import GuardContext, decision
from ..errors import ConfigurationError, RateLimitedError
from ..middleware import GuardMiddleware
from ..responses import ErrorFormat
from ..store import Store
from ._config import RateLimitConfig, RateLimitRule
from ._engine import ConcurrencyCheck, LimitCheck, LimitState, RateLimiter
from ._policy import (
    RateLimitState,
    admit,
    all_states,
    build_checks,
    identity,
    judge,
    new_state,
    plan,
    rate_limit_headers,
    state_of,
)

if TYPE_CHECKING:
    from ..profiles import Profile

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


_MAX_PLANS = 4096


class _Route:
    """The rules of one (method, path), and the checks already built for each identity seen on it."""

    __slots__ = ("kind", "kinds", "plans", "profile_plans", "rules")

    def __init__(self, rules: tuple[tuple[str, RateLimitRule], ...]) -> None:
        self.rules = rules
        kinds = tuple((name, rule, rule.key) for name, rule in rules if isinstance(rule.key, str))
        self.kinds: tuple[tuple[str, RateLimitRule, str], ...] | None = (
            kinds if len(kinds) == len(rules) else None
        )
        """(name, rule, key kind) per rule when no rule has a key function: every identity known at once."""
        self.kind = kinds[0][2] if self.kinds is not None and len(kinds) == 1 else None
        """The key kind of the route's one rule, when it has one."""
        self.plans: dict[str, tuple[tuple[LimitCheck, ...], tuple[ConcurrencyCheck, ...]]] = {}
        """The checks without profile limits, per identity (joined by NUL for several rules)."""
        self.profile_plans: dict[
            str, tuple[Profile, tuple[tuple[LimitCheck, ...], tuple[ConcurrencyCheck, ...]]]
        ]
        self.profile_plans = {}
        """The checks with the caller's profile limits, per identity and key, with the profile they were built
        for: a profile replaced (reloaded configuration) is not that object, so its plan is built again."""


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
        self._has_trusted = bool(self._trusted)
        self._headers = self.config.headers
        self._enforce = mode == "enforce"
        self._profile_limits = self.config.profile_limits
        self._legacy = self.config.legacy_headers
        self._memory = self.limiter.memory if self._enforce else None
        """The memory engine when enforcing on it: ``handle`` admits the common case inline."""
        self._routes: dict[tuple[str, str], _Route] = {}
        self._by_rules: dict[tuple[tuple[str, RateLimitRule], ...], _Route] = {}

    def __repr__(self) -> str:
        return f"RateLimitMiddleware(rules={len(self._rules)}, limiter={self.limiter!r})"

    def _matching(self, method: str, path: str) -> _Route:
        # Which rules apply depends on the method and path alone: matched once per route, and whether every
        # identity is known without an await (no key functions). Bounded, since clients choose paths.
        # Paths with the same rules share one _Route, so its plans are bounded by the rule sets of the config,
        # not by the paths clients choose.
        route = self._routes.get((method, path))
        if route is None:
            rules = tuple((r.name or "", r) for r in self._rules if r.matches(method, path))
            route = self._by_rules.get(rules)
            if route is None:
                if len(self._by_rules) >= _MAX_ROUTES:
                    self._by_rules.clear()
                route = self._by_rules[rules] = _Route(rules)
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[method, path] = route
        return route

    def _checks(
        self, route: _Route, ctx: GuardContext
    ) -> tuple[Sequence[LimitCheck], Sequence[ConcurrencyCheck]] | None:
        # The checks of a route whose identities are all known, built once per identity (and, with profile
        # limits, per key and profile); None when a key function decides.
        kinds = route.kinds
        if kinds is None:
            return None
        kind = route.kind
        if kind is not None:
            who = identity(kind, ctx)
        else:
            who = "\0".join([identity(k, ctx) for _, _, k in kinds])
        profile = ctx.profile
        if self._profile_limits and profile is not None:
            return self._profile_checks(route, ctx, who, profile)
        planned = route.plans.get(who)
        if planned is None:
            checks, caps = build_checks(
                self.limiter,
                [(name, rule, identity(k, ctx)) for name, rule, k in kinds],
                ctx,
                profile_limits=False,
            )
            if len(route.plans) >= _MAX_PLANS:  # bounded: many identities only cost building them again
                route.plans.clear()
            planned = route.plans[who] = (tuple(checks), tuple(caps))
        return planned

    def _profile_checks(
        self, route: _Route, ctx: GuardContext, who: str, profile: Profile
    ) -> tuple[Sequence[LimitCheck], Sequence[ConcurrencyCheck]]:
        # The profile's limits count per key (identity "principal"), whatever the route's rules count by.
        kinds = route.kinds
        assert kinds is not None
        plan_key = f"{who}\0{identity('principal', ctx)}"
        cached = route.profile_plans.get(plan_key)
        if cached is not None and cached[0] is profile:
            return cached[1]
        checks, caps = build_checks(
            self.limiter,
            [(name, rule, identity(k, ctx)) for name, rule, k in kinds],
            ctx,
            profile_limits=True,
            profile_strategy=self.config.profile_strategy,
        )
        planned = (tuple(checks), tuple(caps))
        if len(route.profile_plans) >= _MAX_PLANS:
            route.profile_plans.clear()
        route.profile_plans[plan_key] = (profile, planned)
        return planned

    def _one_check(self, ctx: GuardContext, scope: Scope) -> LimitCheck | None:
        # The common case: enforcing on the memory engine, the request's first rate-limit layer, and one
        # limit, no cap, already planned for this identity; None for anything else.
        if self._has_trusted:
            ctx.client_addr = client_address(scope, self._trusted)  # _admit would set the same
        route = self._routes.get((ctx.method, ctx.path))
        if route is None or route.kind is None or (self._profile_limits and ctx.profile is not None):
            return None
        planned = route.plans.get(identity(route.kind, ctx))
        if planned is None or len(planned[0]) != 1 or planned[1]:
            return None
        check = planned[0][0]
        return check if 0 < check.cost <= check.amount else None

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        memory = self._memory
        check = self._one_check(ctx, scope) if memory is not None and ctx.rate_limit is None else None
        if check is None:
            await self._handle(ctx, scope, receive, send)
            return
        # The steps _admit, admit_nowait and _release_all take for one limit in memory, without their calls.
        assert memory is not None
        limiter = self.limiter
        state = new_state(limiter, True)
        ctx.rate_limit = state
        admission = memory.admit_one(check, time() * 1000)
        if not admission.allowed:
            judge(ctx, admission, legacy_headers=self._legacy)  # raises RateLimitedError
        limit = admission.limits[0]
        detail = {"policy": [limit.policy], "remaining": limit.remaining}
        ctx.decisions.append(decision("rate_limit", "allowed", detail))
        state.admissions.append(admission)
        state.headers_by = self
        refund = False
        try:
            await self.app(scope, receive, send)
        except RateLimitedError:
            refund = True
            raise
        finally:
            if refund or state.denied or state.upstream_overloaded or len(state.admissions) != 1:
                await _release_all(limiter, state, self.config, refund=refund)
            else:
                admission.released = True  # what release_nowait does for an admission holding no lease

    async def _handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
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
        if self._has_trusted:
            ctx.client_addr = client_address(scope, self._trusted)
        state = state_of(ctx)
        if state.limiter is None:
            state.limiter = limiter
        outermost = not state.middleware
        state.middleware = True
        route = self._routes.get((ctx.method, ctx.path)) or self._matching(ctx.method, ctx.path)
        planned: tuple[Sequence[LimitCheck], Sequence[ConcurrencyCheck]] | None = None
        checks: Sequence[LimitCheck]
        caps: Sequence[ConcurrencyCheck]
        if route.kind is not None and not (self._profile_limits and ctx.profile is not None):
            planned = route.plans.get(identity(route.kind, ctx))  # one rule, its checks already built
        if planned is None:
            planned = self._checks(route, ctx)
        if planned is not None:
            checks, caps = planned
        else:  # a key function decides an identity: planned afresh
            checks, caps = await plan(
                limiter,
                route.rules,
                ctx,
                scope,
                profile_limits=config.profile_limits,
                profile_strategy=config.profile_strategy,
            )
        admission = None
        if planned is not None and self._enforce and len(checks) == 1 and not caps:
            # The common case, one limit and no cap: admit_nowait and judge's allowed path without the loops.
            admission = limiter.admit_nowait(checks)
            if admission is not None and admission.allowed:
                limit = admission.limits[0]
                detail = {"policy": [limit.policy], "remaining": limit.remaining}
                ctx.decisions.append(decision("rate_limit", "allowed", detail))
                state.admissions.append(admission)
            elif admission is not None:
                judge(ctx, admission, legacy_headers=config.legacy_headers)
            else:
                admission = await admit(
                    limiter,
                    ctx,
                    checks,
                    caps,
                    on_store_error=config.on_store_error,
                    legacy_headers=self._legacy,
                )
        elif checks or caps:
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
        if outermost and renewer is not None:
            # A concurrency lease is freed before the last body chunk goes out: a client that has read the
            # whole response finds the cap free again, never a lease held while its release is in flight.
            send = self._releasing_before_the_end(send, limiter, state, config)
        try:
            await self.app(scope, receive, send)
        except RateLimitedError:
            refund = True
            raise
        finally:
            if renewer is not None:
                renewer.cancel()
            if outermost:
                await _release_all(limiter, state, config, refund=refund)

    @staticmethod
    def _releasing_before_the_end(
        send: Send, limiter: RateLimiter, state: RateLimitState, config: RateLimitConfig
    ) -> Send:
        async def releasing_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await _release_all(limiter, state, config, refund=False)
            await send(message)

        return releasing_send

    def on_response_start(self, ctx: GuardContext, message: Message) -> Message:
        # The response starts (the outermost guard's send wrapper calls this): note upstream rate limits, and
        # the outermost rate-limit middleware adds the headers. A stream passes on unbuffered.
        state: RateLimitState = ctx.rate_limit  # type: ignore[assignment]  # checked on the next line
        if state.__class__ is not RateLimitState:
            state = state_of(ctx)
        if ctx.upstream_headers is not None or ctx.upstream_status is not None:
            self._upstream_response(ctx, message)
        if self._headers and state.headers_by is self and not state.headers_sent:
            state.headers_sent = True
            held = state.admissions
            if held:
                limits = held[0].limits if len(held) == 1 else all_states(ctx)
                if len(limits) == 1 and not self._legacy:  # the common case (with_headers, inline)
                    s = limits[0]
                    policy, start = _one_policy.get((s.policy, s.quota, s.window)) or _encode_one(s)
                    current = b"%b%d;t=%d" % (start, s.remaining, ceil(s.reset))
                    own = message.get("headers", ())
                    return {
                        **message,
                        "headers": [*own, (b"ratelimit-policy", policy), (b"ratelimit", current)],
                    }
                elif limits:
                    message = with_headers(message, _encoded_headers(limits, self._legacy))
        return message

    def _upstream_response(self, ctx: GuardContext, message: Message) -> None:
        # Note the upstream's rate limits for the audit, and whether it was overloaded (for the refund).
        state = state_of(ctx)
        status = int(message.get("status", 200))
        # Parsed only when read (RateLimitState.upstream_limits): nothing on the request path reads them.
        state.upstream_sources = (ctx.upstream_headers, message.get("headers", ()))
        state._upstream_limits = None
        if status in _OVERLOADED and ctx.upstream_status in _OVERLOADED:
            state.upstream_overloaded = True
            ctx.decide("rate_limit", "upstream_overloaded", status=status)


_one_policy: dict[tuple[str, int, int], tuple[bytes, bytes]] = {}


def _encode_one(s: LimitState) -> tuple[bytes, bytes]:
    # One limit: RateLimit-Policy and the start of RateLimit are the same for every request of a route,
    # encoded once; only remaining and reset are formatted per response.
    if len(_one_policy) > 1024:
        _one_policy.clear()
    encoded = _one_policy[s.policy, s.quota, s.window] = (
        f'"{s.policy}";q={s.quota};w={s.window}'.encode(),
        f'"{s.policy}";r='.encode(),
    )
    return encoded


_policy_headers: dict[tuple[Any, ...], bytes] = {}


def _encoded_headers(states: Sequence[LimitState], legacy: bool) -> list[tuple[bytes, bytes]]:
    # RateLimit-Policy is the same for every request of a route: encode it once.
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


async def _release_all(
    limiter: RateLimiter, state: RateLimitState, config: RateLimitConfig, *, refund: bool
) -> None:
    """Release every admission the request holds (idempotent: each is released once).

    A limit further in (a route dependency, a nested middleware) denied: what was counted out here is given
    back, so a denied request consumes none of its limits.
    """
    refund = refund or state.denied
    refund = refund or (config.refund_upstream_overload and state.upstream_overloaded)
    for held in state.admissions:
        if not limiter.release_nowait(held, refund=refund):
            await limiter.release(held, refund=refund)
