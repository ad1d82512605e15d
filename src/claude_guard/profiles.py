"""Least-privilege profiles: what a client key may do.

A profile bounds what a request may ask of Claude: the client tools it declares and the models it uses, the
Anthropic-defined tools (server tools such as web search, web fetch and code execution, and the typed
tools the app runs such as bash, text editor, computer use and memory), remote MCP servers, ``anthropic-beta``
features, ``max_tokens``, the thinking budget, ``speed`` (fast mode) and ``service_tier``. It also carries the
default rate limits, concurrency cap, per-request maximum cost and budgets that the other protections enforce
for the keys that hold it. Built in: ``analysis`` (Read, Grep), ``generation`` (Read, Write, Edit) and
``admin`` (all); the working profiles attach no server tool, no MCP server, no fast mode and only the
billing-neutral betas of `SAFE_BETAS`.

`check_request` (``_profile_check``) is the one enforcement of these bounds, for the gateway and the SDK
egress hook alike.

Example:
    >>> p = BUILTIN_PROFILES["analysis"]
    >>> p.allows_tool("Grep"), p.allows_tool("Write")
    (True, False)
    >>> p.allows_model("claude-sonnet-4-6")
    True
    >>> admin = BUILTIN_PROFILES["admin"]
    >>> p.allows_server_tool("web_search_20250305"), admin.allows_server_tool("web_search_20250305")
    (False, True)
    >>> check_request(p, {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [], "speed": "fast"})
    Traceback (most recent call last):
    ...
    claude_guard.errors.PermissionDeniedError: Fast mode (speed "fast") is not allowed for this key.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from ._profile_check import _url_parts, check_request, url_matches
from .errors import ConfigurationError, PermissionDeniedError
from .sandbox._policy import ToolPolicy, parse_tool_policies

__all__ = [
    "SAFE_BETAS",
    "Budgets",
    "Profile",
    "check_request",
]

SAFE_BETAS: Final[tuple[str, ...]] = (
    "prompt-caching-2024-07-31",
    "extended-cache-ttl-2025-04-11",
    "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14",
    "pdfs-2024-09-25",
    "token-counting-2024-11-01",
)
"""The betas the working profiles allow: they add no tool, no remote access and no price of their own (the
1-hour cache TTL is priced from the request's ``cache_control``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Budgets:
    """Budgets of one principal (or of a whole profile); ``None`` means no budget of that kind."""

    usd_per_day: Decimal | None = None
    """USD per UTC day."""
    usd_per_month: Decimal | None = None
    """USD per UTC calendar month."""
    input_tokens_per_minute: int | None = None
    """Input tokens (cached ones included) per minute."""
    output_tokens_per_minute: int | None = None
    """Output tokens per minute."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """What the keys holding this profile may do.

    The Claude-feature bounds default to least privilege: a profile built without them attaches no server
    tool and no MCP server, uses only `SAFE_BETAS`, standard speed, and the two documented service tiers.
    ``None`` lifts a bound.
    """

    name: str
    """The profile's name, as stored with each key."""
    tools: frozenset[str] | None = None
    """Client tool names (tools without a ``type``, or ``"custom"``) a request may declare; ``None`` allows
    every client tool."""
    models: tuple[str, ...] | None = None
    """Model ids or ``fnmatch`` patterns (``claude-haiku-*``) a request may use; ``None`` allows all."""
    server_tools: tuple[str, ...] | None = ()
    """Anthropic-defined tools (every ``tools[]`` entry with a ``type`` other than ``custom``: web search,
    web fetch, code execution, bash, text editor, computer use, memory, tool search, MCP toolsets…) a
    request may declare, by type: an exact type (``web_search_20250305``), an ``fnmatch`` pattern
    (``web_search_*``) or a family name without its date (``web_search``). ``()``: none; ``None``: all."""
    mcp_servers: tuple[str, ...] | None = ()
    """URL patterns of the remote MCP servers a request may attach (``mcp_servers``), such as
    ``https://mcp.example.com/*`` or ``https://*.example.com/mcp``; ``()``: none; ``None``: any."""
    betas: tuple[str, ...] | None = SAFE_BETAS
    """``anthropic-beta`` values (exact or ``fnmatch`` patterns) a request may send; ``None``: any."""
    max_tokens: int | None = None
    """The largest ``max_tokens`` a request may ask for; ``None``: no bound of the profile's own."""
    max_thinking_tokens: int | None = None
    """The largest thinking ``budget_tokens``; ``None``: no bound of the profile's own."""
    speeds: tuple[str, ...] | None = ("standard",)
    """``speed`` values a request may use (absent means ``standard``); ``None``: any."""
    service_tiers: tuple[str, ...] | None = ("auto", "standard_only")
    """``service_tier`` values a request may use (absent means ``auto``); ``None``: any."""
    rate_limits: str | None = None
    """Default request-rate limits in ``limits`` notation, e.g. ``"60/minute;1000/day"``."""
    max_concurrency: int | None = None
    """Requests one key of this profile may have in flight across all replicas."""
    max_cost: Decimal | None = None
    """Maximum worst-case USD of one request; ``None`` keeps the guard's default."""
    budgets: Budgets = field(default_factory=Budgets)
    """Budgets applied to each key of this profile."""
    profile_budgets: Budgets = field(default_factory=Budgets)
    """Budgets shared by all keys of this profile together."""
    tool_policies: Mapping[str, ToolPolicy] | None = None
    """What the model may ask each tool to do (paths, commands, hosts, argument schemas), by tool name with
    ``"*"`` for the others; ``None`` takes the built-in sandbox (``analysis``/``generation``'s own, the
    ``generation`` one for a custom profile, none for ``admin``); ``{}`` sets no tool policy."""

    def allows_tool(self, name: str) -> bool:
        return self.tools is None or name in self.tools

    def allows_model(self, model: str) -> bool:
        if self.models is None:
            return True
        hit = _verdicts.get((id(self), "model", model))
        if hit is not None and hit[0] is self:
            return hit[1]
        return _remember(self, "model", model, any(fnmatch.fnmatchcase(model, p) for p in self.models))

    def allows_server_tool(self, tool_type: str) -> bool:
        """Whether an Anthropic-defined tool of this ``type`` may be declared."""
        if self.server_tools is None:
            return True
        hit = _verdicts.get((id(self), "server_tool", tool_type))
        if hit is not None and hit[0] is self:
            return hit[1]
        verdict = any(_type_matches(tool_type, pattern) for pattern in self.server_tools)
        return _remember(self, "server_tool", tool_type, verdict)

    def allows_beta(self, beta: str) -> bool:
        if self.betas is None:
            return True
        hit = _verdicts.get((id(self), "beta", beta))
        if hit is not None and hit[0] is self:
            return hit[1]
        verdict = any(fnmatch.fnmatchcase(beta, pattern.strip().lower()) for pattern in self.betas)
        return _remember(self, "beta", beta, verdict)

    def allows_mcp_server(self, url: str) -> bool:
        if self.mcp_servers is None:
            return True
        hit = _verdicts.get((id(self), "mcp_server", url))
        if hit is not None and hit[0] is self:
            return hit[1]
        return _remember(self, "mcp_server", url, any(url_matches(url, p) for p in self.mcp_servers))


_MAX_VERDICTS: Final = 4096
_verdicts: dict[tuple[int, str, str], tuple[Profile, bool]] = {}
"""Allow-list verdicts by (profile, list, value): each request asks the same few models and betas of its
key's profile, and the patterns (``fnmatch``, family names, URL patterns) cost far more than a lookup.

A verdict depends on the profile and the value alone, so it is the same for every key holding that profile
and never another profile's: the entry keeps its ``Profile`` object and is used only for that very object
(which, being held, keeps its ``id``). A changed profile (reloaded configuration, a key moved to another
profile) is another object, so nothing is carried over. Bounded: values are chosen by callers."""


def _remember(profile: Profile, kind: str, value: str, verdict: bool) -> bool:
    if len(_verdicts) >= _MAX_VERDICTS:
        _verdicts.clear()
    _verdicts[id(profile), kind, value] = (profile, verdict)
    return verdict


def _type_matches(tool_type: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(tool_type, pattern):
        return True
    # A family name without its date: "web_search" allows web_search_20250305 and later versions.
    return re.fullmatch(re.escape(pattern) + r"_\d{8}", tool_type) is not None


# Least privilege includes volume: the two working profiles get a default request rate and concurrency cap
# (a custom profile of the same name replaces them); admin keys are for operators and are not throttled and
# not bounded in what they ask of Claude (prices still follow every feature they use).
BUILTIN_PROFILES: Mapping[str, Profile] = {
    "analysis": Profile(
        name="analysis",
        tools=frozenset({"Read", "Grep"}),
        max_tokens=16_384,
        max_thinking_tokens=8_192,
        rate_limits="60/minute;10000/day",
        max_concurrency=8,
    ),
    "generation": Profile(
        name="generation",
        tools=frozenset({"Read", "Write", "Edit"}),
        max_tokens=64_000,
        max_thinking_tokens=32_000,
        rate_limits="60/minute;10000/day",
        max_concurrency=8,
    ),
    "admin": Profile(
        name="admin",
        server_tools=None,
        mcp_servers=None,
        betas=None,
        speeds=None,
        service_tiers=None,
    ),
}


# --- TOML ---------------------------------------------------------------------------------------------------


def _budgets(name: str, raw: Any) -> Budgets:
    if raw is None:
        return Budgets()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"profile {name!r}: budgets must be a table")
    known = {"usd_per_day", "usd_per_month", "input_tokens_per_minute", "output_tokens_per_minute"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigurationError(f"profile {name!r}: unknown budget {sorted(unknown)[0]!r}")
    try:
        return Budgets(
            usd_per_day=Decimal(str(raw["usd_per_day"])) if "usd_per_day" in raw else None,
            usd_per_month=Decimal(str(raw["usd_per_month"])) if "usd_per_month" in raw else None,
            input_tokens_per_minute=int(raw["input_tokens_per_minute"])
            if "input_tokens_per_minute" in raw
            else None,
            output_tokens_per_minute=int(raw["output_tokens_per_minute"])
            if "output_tokens_per_minute" in raw
            else None,
        )
    except (InvalidOperation, ValueError, TypeError):
        raise ConfigurationError(f"profile {name!r}: budgets must be numbers") from None


_MISSING: Final = object()


def _patterns(name: str, setting: str, raw: Any, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A list of strings, ``"*"`` for no bound, or the least-privilege default when absent."""
    if raw is _MISSING:
        return default
    if raw == "*":
        return None
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigurationError(f'profile {name!r}: {setting} must be a list of strings or "*"')
    return tuple(raw)


def _bound(name: str, setting: str, raw: Any) -> int | None:
    if raw is _MISSING:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigurationError(f"profile {name!r}: {setting} must be a positive integer")
    return raw


_KNOWN_SETTINGS: Final = frozenset(
    {
        "tools",
        "models",
        "server_tools",
        "mcp_servers",
        "betas",
        "max_tokens",
        "max_thinking_tokens",
        "speeds",
        "service_tiers",
        "rate_limits",
        "max_concurrency",
        "max_cost",
        "budgets",
        "profile_budgets",
        "tool_policies",
    }
)


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Custom profiles from a TOML file, one table per profile.

    Settings left out take the least-privilege default (no server tools, no MCP servers, `SAFE_BETAS`,
    standard speed); ``"*"`` lifts a list bound.

    Example file::

        [profiles.reviewer]
        tools = ["Read", "Grep"]
        models = ["claude-haiku-*", "claude-sonnet-4-6"]
        server_tools = ["web_search"]
        mcp_servers = ["https://mcp.example.com/*"]
        betas = ["prompt-caching-2024-07-31"]
        max_tokens = 8192
        max_thinking_tokens = 4096
        speeds = ["standard"]
        service_tiers = ["standard_only"]
        rate_limits = "30/minute;500/day"
        max_concurrency = 2
        max_cost = "0.50"
        budgets = { usd_per_day = "5", output_tokens_per_minute = 20000 }

        [profiles.reviewer.tool_policies.Read]
        paths = { allow = ["/srv/repo/**"], deny = ["**/fixtures/secrets/**"] }
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"CLAUDE_GUARD_PROFILES_FILE cannot be read ({type(exc).__name__})."
        ) from None
    profiles: dict[str, Profile] = {}
    for name, raw in data.get("profiles", {}).items():
        if not isinstance(raw, dict):
            raise ConfigurationError(f"profile {name!r} must be a table")
        unknown = set(raw) - _KNOWN_SETTINGS
        if unknown:
            raise ConfigurationError(f"profile {name!r}: unknown setting {sorted(unknown)[0]!r}")
        tools = raw.get("tools")
        models = raw.get("models")
        defaults = Profile(name=name)

        bounds: dict[str, Any] = {
            setting: _patterns(name, setting, raw.get(setting, _MISSING), getattr(defaults, setting))
            for setting in ("server_tools", "mcp_servers", "betas", "speeds", "service_tiers")
        }
        for setting in ("max_tokens", "max_thinking_tokens"):
            bounds[setting] = _bound(name, setting, raw.get(setting, _MISSING))
        for pattern in bounds["mcp_servers"] or ():
            if _url_parts(pattern, is_pattern=True) is None:
                raise ConfigurationError(f"profile {name!r}: mcp_servers pattern {pattern!r} is not a URL")
        try:
            profiles[name] = Profile(
                name=name,
                tools=None if tools is None or tools == "*" else frozenset(str(t) for t in tools),
                models=None if models is None or models == "*" else tuple(str(m) for m in models),
                **bounds,
                rate_limits=raw.get("rate_limits"),
                max_concurrency=int(raw["max_concurrency"]) if "max_concurrency" in raw else None,
                max_cost=Decimal(str(raw["max_cost"])) if "max_cost" in raw else None,
                budgets=_budgets(name, raw.get("budgets")),
                profile_budgets=_budgets(name, raw.get("profile_budgets")),
                tool_policies=parse_tool_policies(name, raw["tool_policies"])
                if "tool_policies" in raw
                else None,
            )
        except (InvalidOperation, ValueError, TypeError):
            raise ConfigurationError(f"profile {name!r} has a malformed setting") from None
    return profiles


@contextlib.contextmanager
def allow_list_mode() -> Iterator[None]:
    """Around a profile's model and tool allow-list check: applies ``CLAUDE_GUARD_PROFILE_MODE``.

    In ``shadow`` a refusal (403) becomes the decision ``profile:would_refuse`` with its reason and the
    request goes on; in ``off`` it is ignored. Authentication is never shadowed.
    """
    from .context import current_context

    try:
        yield
    except PermissionDeniedError as exc:
        ctx = current_context()
        mode = (ctx.profile_mode or "enforce") if ctx is not None else "enforce"
        if mode == "enforce" or ctx is None:
            raise
        already = any(d.protection == "profile" and d.outcome == "would_refuse" for d in ctx.decisions)
        if mode == "shadow" and not already:  # ProfileMiddleware may have recorded it first
            ctx.decide("profile", "would_refuse", reason=exc.code or "profile")
