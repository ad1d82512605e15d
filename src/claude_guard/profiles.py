"""Least-privilege profiles: what a client key may do.

A profile bounds what a request may ask of Claude: the client tools it declares and the models it uses, the
Anthropic-defined tools (server tools such as web search, web fetch and code execution, and the typed
tools the app runs such as bash, text editor, computer use and memory), remote MCP servers, ``anthropic-beta``
features, ``max_tokens``, the thinking budget, ``speed`` (fast mode) and ``service_tier``. It also carries the
default rate limits, concurrency cap, per-request maximum cost and budgets that the other protections enforce
for the keys that hold it. Built in: ``analysis`` (Read, Grep), ``generation`` (Read, Write, Edit) and
``admin`` (all); the working profiles attach no server tool, no MCP server, no fast mode and only the
billing-neutral betas of `SAFE_BETAS`.

`check_request` is the one enforcement of these bounds; the gateway (``ProfileMiddleware``) and the SDK egress
hook (``ProfileHook``) both call it, before anything is reserved or sent. A refusal is a 403
``permission_error`` naming what was refused (a field, a tool type, a beta name) and never user content.

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

import fnmatch
import re
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from .errors import ConfigurationError, PermissionDeniedError
from .sandbox._policy import ToolPolicy, parse_tool_policies

__all__ = [
    "BUILTIN_PROFILES",
    "PROFILE_MODE_STATE",
    "SAFE_BETAS",
    "Budgets",
    "Profile",
    "check_request",
    "load_profiles",
    "parse_betas",
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

PROFILE_MODE_STATE: Final = "claude_guard.profile_mode"
"""``ctx.state`` key: the mode (``enforce``, ``shadow``, ``off``) of the profile bounds for this request,
when it is not the default ``enforce``."""

_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_.:@/-]{1,64}")
_BETA_HEADER: Final = b"anthropic-beta"
_THINKING_TYPES: Final = frozenset({"enabled", "disabled", "adaptive"})


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
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)

    def allows_server_tool(self, tool_type: str) -> bool:
        """Whether an Anthropic-defined tool of this ``type`` may be declared."""
        if self.server_tools is None:
            return True
        return any(_type_matches(tool_type, pattern) for pattern in self.server_tools)

    def allows_beta(self, beta: str) -> bool:
        if self.betas is None:
            return True
        return any(fnmatch.fnmatchcase(beta, pattern.strip().lower()) for pattern in self.betas)

    def allows_mcp_server(self, url: str) -> bool:
        if self.mcp_servers is None:
            return True
        return any(url_matches(url, pattern) for pattern in self.mcp_servers)


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


# --- the request check -------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """A value that may appear in an error message: a short identifier, or "requested"."""
    return value if isinstance(value, str) and _SAFE_NAME.fullmatch(value) else "requested"


def _deny(message: str, code: str) -> PermissionDeniedError:
    return PermissionDeniedError(message, code=code)


def parse_betas(headers: Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Every beta a request asks for, from all of its ``anthropic-beta*`` headers.

    Headers may repeat, each may hold a comma-separated list, and names and values may differ in case or
    carry spaces and tabs: each value is stripped and lower-cased, empty items dropped, order kept. Header
    names are matched by prefix, the same rule by which the gateway forwards them.

    Example:
        >>> parse_betas([(b"Anthropic-Beta", b" A-1 ,, b-2\\t"), (b"anthropic-beta", b"c-3"), (b"via", b"x")])
        ('a-1', 'b-2', 'c-3')
    """
    betas: list[str] = []
    for name, value in headers:
        raw_name = name if isinstance(name, bytes) else name.encode("latin-1", "replace")
        if not raw_name.strip().lower().startswith(_BETA_HEADER):
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        betas.extend(item.strip(" \t\r\n").lower() for item in text.split(",") if item.strip(" \t\r\n"))
    return tuple(betas)


def url_matches(url: str, pattern: str) -> bool:
    """Whether an MCP server ``url`` is one ``pattern`` allows.

    Compared by parts, never as text: the scheme and port must be equal (default ports filled in), the host
    equal or, for ``*.example.com``, a subdomain of it; the path must match the pattern's path
    (``fnmatch``; no path in the pattern allows every path). URLs with user info, backslashes, control
    characters, encoded dots or slashes, or dot segments never match.

    Example:
        >>> url_matches("https://mcp.example.com/v1/sse", "https://mcp.example.com/*")
        True
        >>> url_matches("https://mcp.example.com@evil.test/", "https://mcp.example.com/*")
        False
        >>> url_matches("https://a.tools.example.com/mcp", "https://*.example.com/mcp")
        True
    """
    got = _url_parts(url)
    want = _url_parts(pattern, is_pattern=True)
    if got is None or want is None:
        return False
    scheme, host, port, path = got
    p_scheme, p_host, p_port, p_path = want
    if scheme != p_scheme or port != p_port:
        return False
    if p_host.startswith("*."):
        if not host.endswith(p_host[1:]) or host == p_host[2:]:
            return False
    elif host != p_host:
        return False
    return fnmatch.fnmatchcase(path, p_path or "*")


_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def _url_parts(url: str, *, is_pattern: bool = False) -> tuple[str, str, int, str] | None:
    if not isinstance(url, str) or len(url) > 2048:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url) or "\\" in url:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host or (not is_pattern and "*" in host):
        return None
    path = parts.path or "/"
    lowered = path.lower()
    if "%2e" in lowered or "%2f" in lowered or "%5c" in lowered:
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    if is_pattern and not parts.path:
        path = ""
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme], path


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_request(profile: Profile, body: Mapping[str, Any], betas: Sequence[str] = ()) -> None:
    """Refuse (403 ``PermissionDeniedError``) a Messages request that asks for more than ``profile`` allows.

    ``betas`` are the request's ``anthropic-beta`` values (`parse_betas`). The message names what was
    refused: the model, tool name or type, beta, MCP server (by its position), field and bound; never text of
    the prompt.
    """
    model = body.get("model")
    if isinstance(model, str) and not profile.allows_model(model):
        raise _deny(f"The model {_shown(model)} is not allowed for this key.", "model_not_allowed")
    for beta in betas:
        if not profile.allows_beta(beta):
            raise _deny(f"The beta {_shown(beta)} is not allowed for this key.", "beta_not_allowed")
    allowed_names = _check_tools(profile, body.get("tools"))
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not (profile.allows_tool(name) or name in allowed_names):
            raise _deny(f"The tool {_shown(name)} is not allowed for this key.", "tool_not_allowed")
    _check_mcp_servers(profile, body.get("mcp_servers"))
    _check_output(profile, body)
    speed = body.get("speed", None)
    speed = "standard" if speed is None else speed
    if profile.speeds is not None and speed not in profile.speeds:
        if speed == "fast":
            raise _deny('Fast mode (speed "fast") is not allowed for this key.', "speed_not_allowed")
        raise _deny(f"The speed {_shown(speed)} is not allowed for this key.", "speed_not_allowed")
    tier = body.get("service_tier", None)
    tier = "auto" if tier is None else tier
    if profile.service_tiers is not None and tier not in profile.service_tiers:
        raise _deny(
            f"The service tier {_shown(tier)} is not allowed for this key.", "service_tier_not_allowed"
        )


def _check_tools(profile: Profile, tools: object) -> set[str]:
    """Check ``tools``; return the names of the Anthropic-defined tools it declares (all allowed)."""
    typed_names: set[str] = set()
    if tools is None:
        return typed_names
    if not isinstance(tools, list):
        raise _deny("The tools of this request are not allowed for this key.", "tool_not_allowed")
    for tool in tools:
        if not isinstance(tool, Mapping):
            raise _deny("The tool requested is not allowed for this key.", "tool_not_allowed")
        kind = tool.get("type")
        name = tool.get("name")
        if kind is None or kind == "custom":
            if not isinstance(name, str) or not profile.allows_tool(name):
                raise _deny(f"The tool {_shown(name)} is not allowed for this key.", "tool_not_allowed")
            continue
        if not isinstance(kind, str) or not profile.allows_server_tool(kind):
            raise _deny(
                f"The server tool type {_shown(kind)} is not allowed for this key.",
                "server_tool_not_allowed",
            )
        if isinstance(name, str):
            typed_names.add(name)
    return typed_names


def _check_mcp_servers(profile: Profile, servers: object) -> None:
    if servers is None or profile.mcp_servers is None:
        return
    if not isinstance(servers, list):
        raise _deny("mcp_servers: remote MCP servers are not allowed for this key.", "mcp_server_not_allowed")
    for index, server in enumerate(servers):
        if not profile.mcp_servers:
            raise _deny(
                "mcp_servers: remote MCP servers are not allowed for this key.", "mcp_server_not_allowed"
            )
        url = server.get("url") if isinstance(server, Mapping) else None
        if not isinstance(url, str) or not profile.allows_mcp_server(url):
            raise _deny(
                f"mcp_servers[{index}]: this MCP server URL is not allowed for this key.",
                "mcp_server_not_allowed",
            )


def _check_output(profile: Profile, body: Mapping[str, Any]) -> None:
    if profile.max_tokens is not None and "max_tokens" in body:
        max_tokens = _int(body.get("max_tokens"))
        if max_tokens is None or max_tokens > profile.max_tokens:
            raise _deny(
                f"max_tokens: this key may ask for at most {profile.max_tokens} output tokens.",
                "max_tokens_not_allowed",
            )
    if profile.max_thinking_tokens is None or body.get("thinking") is None:
        return
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if not isinstance(thinking, Mapping) or kind not in _THINKING_TYPES:
        raise _deny(
            "thinking: this thinking configuration is not allowed for this key.", "thinking_not_allowed"
        )
    if kind == "enabled":
        budget = _int(thinking.get("budget_tokens"))
        if budget is None or budget > profile.max_thinking_tokens:
            raise _deny(
                f"thinking.budget_tokens: this key may ask for at most {profile.max_thinking_tokens} "
                "thinking tokens.",
                "thinking_not_allowed",
            )


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
