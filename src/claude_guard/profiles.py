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
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["BUILTIN_PROFILES", "Budgets", "Profile"]


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

    def allows_tool(self, name: str) -> bool:
        return self.tools is None or name in self.tools

    def allows_model(self, model: str) -> bool:
        if self.models is None:
            return True
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)


BUILTIN_PROFILES: Mapping[str, Profile] = {
    "analysis": Profile(name="analysis", tools=frozenset({"Read", "Grep"})),
    "generation": Profile(name="generation", tools=frozenset({"Read", "Write", "Edit"})),
    "admin": Profile(name="admin"),
}
