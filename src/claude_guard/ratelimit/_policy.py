"""Shared by the middleware and the dependency: rules into checks, the store-failure policy, headers."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._asgi import Scope
from ..context import GuardContext, dataclass_factory
from ..errors import RateLimitedError, StoreUnavailableError
from ._config import RateLimitRule, Strategy, parse_limits
from ._engine import Admission, ConcurrencyCheck, LimitCheck, LimitState, RateLimiter

logger = logging.getLogger("claude_guard")


@dataclass(slots=True, eq=False)
class RateLimitState:
    """What the rate-limit middlewares and dependencies of one request share (``GuardContext.rate_limit``)."""

    admissions: list[Admission] = field(default_factory=list)
    """Every admission of the request (middleware, dependencies), for headers and release."""
    limiter: RateLimiter | None = None
    """The engine of the outermost ``RateLimitMiddleware``, which dependencies share."""
    middleware: bool = False
    """A ``RateLimitMiddleware`` is around the app: it adds the headers at response start."""
    denied: bool = False
    """Some limit denied the request, so limits counted before it are given back."""
    upstream_sources: tuple[Any, Any] | None = None
    """Where `upstream_limits` is read from when first asked: the upstream's headers
    (``ctx.upstream_headers``) and the response's own, as the response started."""
    _upstream_limits: dict[str, str] | None = None
    headers_by: object = None
    """The (outermost) middleware that adds the headers."""
    headers_sent: bool = False
    upstream_overloaded: bool = False
    """The upstream answered 429 or 529."""
    shadow_admitting: bool = False
    """A shadow-mode middleware is admitting: a denial raised now is its own to shadow."""

    @property
    def upstream_limits(self) -> dict[str, str] | None:
        """The ``anthropic-ratelimit-*`` headers of the upstream response, for the audit (``None``: none).

        Read from `upstream_sources` on first use, not as every response starts: nothing on the request path
        reads them."""
        limits = self._upstream_limits
        if limits is None and self.upstream_sources is not None:
            limits = upstream_rate_limits(*self.upstream_sources) or None
            self._upstream_limits = limits
        return limits

    @upstream_limits.setter
    def upstream_limits(self, limits: dict[str, str] | None) -> None:
        self._upstream_limits, self.upstream_sources = limits, None


def upstream_rate_limits(upstream_headers: Any, response_headers: Iterable[Any]) -> dict[str, str]:
    """The ``anthropic-ratelimit-*`` headers of the upstream (``ctx.upstream_headers``), else of the
    response's own headers (name and value bytes)."""
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


new_state: Callable[[RateLimiter | None, bool], RateLimitState] = dataclass_factory(
    RateLimitState, "limiter", "middleware"
)
"""``RateLimitState(limiter=limiter, middleware=middleware)`` at half the cost (the middleware's hot path)."""


def state_of(ctx: GuardContext) -> RateLimitState:
    """The request's ``RateLimitState``, created on first use."""
    state = ctx.rate_limit
    if not isinstance(state, RateLimitState):
        state = RateLimitState()
        ctx.rate_limit = state
    return state


def identity(kind: str, ctx: GuardContext) -> str:
    if kind == "global":
        return "*"
    if kind == "principal" and ctx.principal is not None:
        return f"key:{ctx.principal.key_id}"
    return f"addr:{ctx.client_addr or 'unknown'}"


async def plan(
    limiter: RateLimiter,
    rules: Iterable[tuple[str, RateLimitRule]],
    ctx: GuardContext,
    scope: Scope,
    *,
    profile_limits: bool = False,
    profile_strategy: Strategy = "moving_window",
) -> tuple[list[LimitCheck], list[ConcurrencyCheck]]:
    """The checks of one request: every matching rule, plus the caller's profile defaults."""
    counted: list[tuple[str, RateLimitRule, str]] = []
    for name, rule in rules:
        who = identity(rule.key, ctx) if isinstance(rule.key, str) else await rule.key(scope, ctx)
        if who is not None:
            counted.append((name, rule, who))
    return build_checks(
        limiter, counted, ctx, profile_limits=profile_limits, profile_strategy=profile_strategy
    )


def build_checks(
    limiter: RateLimiter,
    counted: Iterable[tuple[str, RateLimitRule, str]],
    ctx: GuardContext,
    *,
    profile_limits: bool = False,
    profile_strategy: Strategy = "moving_window",
) -> tuple[list[LimitCheck], list[ConcurrencyCheck]]:
    """``plan`` once every rule's identity is known: ``(name, rule, identity)`` per rule that applies."""
    store = limiter.store
    checks: list[LimitCheck] = []
    caps: list[ConcurrencyCheck] = []
    cache: dict[tuple[int, str, str], tuple[RateLimitRule, list[LimitCheck], ConcurrencyCheck | None]]
    cache = limiter.plan_cache
    for name, rule, who in counted:
        cached = cache.get((id(rule), name, who))
        if cached is not None and cached[0] is rule:
            checks += cached[1]
            if cached[2] is not None:
                caps.append(cached[2])
            continue
        first_check, first_cap = len(checks), len(caps)
        for spec in rule.specs:
            checks.append(
                LimitCheck(
                    key=store.key("rl", name, f"{rule.strategy}:{spec.amount}:{spec.window}", tag=who),
                    amount=spec.amount,
                    window=spec.window,
                    strategy=rule.strategy,
                    policy=f"{name}-{spec.window}s",
                )
            )
        if rule.concurrency is not None:
            caps.append(
                ConcurrencyCheck(key=store.key("cc", name, tag=who), cap=rule.concurrency, policy=name)
            )
        if len(cache) >= 10_000:  # bounded: many identities only cost the key building again
            cache.clear()
        cache[(id(rule), name, who)] = (
            rule,
            checks[first_check:],
            caps[first_cap] if len(caps) > first_cap else None,
        )
    profile = ctx.profile
    if profile_limits and profile is not None:
        who = identity("principal", ctx)
        if profile.rate_limits:
            for spec in _profile_specs(profile.rate_limits):
                checks.append(
                    LimitCheck(
                        key=store.key(
                            "rl",
                            "profile",
                            profile.name,
                            f"{profile_strategy}:{spec.amount}:{spec.window}",
                            tag=who,
                        ),
                        amount=spec.amount,
                        window=spec.window,
                        strategy=profile_strategy,
                        policy=f"profile-{spec.window}s",
                    )
                )
        if profile.max_concurrency is not None:
            caps.append(
                ConcurrencyCheck(
                    key=store.key("cc", "profile", profile.name, tag=who),
                    cap=profile.max_concurrency,
                    policy="profile",
                )
            )
    return checks, caps


_profile_cache: dict[str, Any] = {}


def _profile_specs(notation: str) -> Any:
    specs = _profile_cache.get(notation)
    if specs is None:
        specs = _profile_cache[notation] = parse_limits(notation)
    return specs


async def admit(
    limiter: RateLimiter,
    ctx: GuardContext,
    checks: Sequence[LimitCheck],
    caps: Sequence[ConcurrencyCheck],
    *,
    on_store_error: Literal["closed", "open"],
    legacy_headers: bool = False,
) -> Admission | None:
    """Admit or raise ``RateLimitedError`` / ``StoreUnavailableError``; ``None`` when failing open."""
    try:
        admission = await limiter.admit(checks, caps)
    except StoreUnavailableError:
        policies = [c.policy for c in checks] + [c.policy for c in caps]
        if on_store_error == "open":
            limiter.counters["fail_open"] += 1
            ctx.decide("rate_limit", "fail_open", policy=policies)
            logger.warning(
                "claude_guard: rate-limit store unavailable, admitting request %s (fail-open)", ctx.request_id
            )
            return None
        limiter.counters["fail_closed"] += 1
        ctx.decide("rate_limit", "store_unavailable", policy=policies)
        logger.warning("claude_guard: rate-limit store unavailable, refusing request %s", ctx.request_id)
        raise
    return judge(ctx, admission, legacy_headers=legacy_headers)


def judge(ctx: GuardContext, admission: Admission, *, legacy_headers: bool = False) -> Admission:
    """Record the verdict on the request: the audit decision, and the admission for headers and release.

    Raises ``RateLimitedError`` when the admission was denied.
    """
    if not admission.allowed:
        state_of(ctx).denied = True
        ctx.decide(
            "rate_limit",
            "denied",
            policy=admission.denied_by,
            remaining=min((s.remaining for s in admission.limits), default=0),
            retry_after=admission.retry_after,
        )
        concurrency = admission.denied_by is not None and all(
            s.policy != admission.denied_by for s in admission.limits
        )
        raise RateLimitedError(
            "Too many requests in flight." if concurrency else "Rate limit exceeded.",
            retry_after=admission.retry_after,
            code="concurrency" if concurrency else "rate_limit",
            headers=dict(rate_limit_headers(admission.limits, legacy=legacy_headers)),
        )
    limits = admission.limits
    remaining: int | None
    if len(limits) == 1 and not admission.leases:  # the common case, without the generators
        policy, remaining = [limits[0].policy], limits[0].remaining
    else:
        policy = [s.policy for s in limits] + [c.policy for c in admission.leases]
        remaining = min((s.remaining for s in limits), default=None)
    ctx.decide("rate_limit", "allowed", policy=policy, remaining=remaining)
    state_of(ctx).admissions.append(admission)
    return admission


def rate_limit_headers(states: Sequence[LimitState], *, legacy: bool = False) -> list[tuple[str, str]]:
    """``RateLimit-Policy`` and ``RateLimit`` (IETF draft), and optionally ``X-RateLimit-*``.

    Example:
        >>> s = LimitState(policy="r0-60s", quota=10, window=60, remaining=9, reset=42.2, allowed=True)
        >>> rate_limit_headers([s])
        [('ratelimit-policy', '"r0-60s";q=10;w=60'), ('ratelimit', '"r0-60s";r=9;t=43')]
    """
    if not states:
        return []
    headers = [
        ("ratelimit-policy", ", ".join(f'"{s.policy}";q={s.quota};w={s.window}' for s in states)),
        ("ratelimit", ", ".join(f'"{s.policy}";r={s.remaining};t={math.ceil(s.reset)}' for s in states)),
    ]
    if legacy:
        tightest = min(states, key=lambda s: (s.remaining, -s.reset))
        headers += [
            ("x-ratelimit-limit", str(tightest.quota)),
            ("x-ratelimit-remaining", str(tightest.remaining)),
            ("x-ratelimit-reset", str(math.ceil(tightest.reset))),
        ]
    return headers


def all_states(ctx: GuardContext) -> list[LimitState]:
    return [state for admission in state_of(ctx).admissions for state in admission.limits]
