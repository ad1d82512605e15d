"""Least-privilege profiles: what a client key may do.

A profile bounds the tools a request may declare and the models it may use, and carries the default rate
limits, concurrency cap, per-request maximum cost and budgets that the other protections enforce for the keys
that hold it. Built in: ``analysis`` (Read, Grep), ``generation`` (Read, Write, Edit) and ``admin`` (all).

Example:
    >>> p = BUILTIN_PROFILES["analysis"]
    >>> p.allows_tool("Grep"), p.allows_tool("Write")
    (True, False)
    >>> p.allows_model("claude-sonnet-4-6")
    True
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .sandbox._policy import ToolPolicy, parse_tool_policies

__all__ = ["BUILTIN_PROFILES", "Budgets", "Profile", "load_profiles"]


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
    """What the keys holding this profile may do."""

    name: str
    """The profile's name, as stored with each key."""
    tools: frozenset[str] | None = None
    """Tool names a request may declare in ``tools``; ``None`` allows every tool."""
    models: tuple[str, ...] | None = None
    """Model ids or ``fnmatch`` patterns (``claude-haiku-*``) a request may use; ``None`` allows all."""
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


# Least privilege includes volume: the two working profiles get a default request rate and concurrency cap
# (a custom profile of the same name replaces them); admin keys are for operators and are not throttled.
BUILTIN_PROFILES: Mapping[str, Profile] = {
    "analysis": Profile(
        name="analysis",
        tools=frozenset({"Read", "Grep"}),
        rate_limits="60/minute;10000/day",
        max_concurrency=8,
    ),
    "generation": Profile(
        name="generation",
        tools=frozenset({"Read", "Write", "Edit"}),
        rate_limits="60/minute;10000/day",
        max_concurrency=8,
    ),
    "admin": Profile(name="admin"),
}


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


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Custom profiles from a TOML file, one table per profile.

    Example file::

        [profiles.reviewer]
        tools = ["Read", "Grep"]
        models = ["claude-haiku-*", "claude-sonnet-4-6"]
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
    known = {
        "tools",
        "models",
        "rate_limits",
        "max_concurrency",
        "max_cost",
        "budgets",
        "profile_budgets",
        "tool_policies",
    }
    for name, raw in data.get("profiles", {}).items():
        if not isinstance(raw, dict):
            raise ConfigurationError(f"profile {name!r} must be a table")
        unknown = set(raw) - known
        if unknown:
            raise ConfigurationError(f"profile {name!r}: unknown setting {sorted(unknown)[0]!r}")
        tools = raw.get("tools")
        models = raw.get("models")
        try:
            profiles[name] = Profile(
                name=name,
                tools=None if tools is None or tools == "*" else frozenset(str(t) for t in tools),
                models=None if models is None or models == "*" else tuple(str(m) for m in models),
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
