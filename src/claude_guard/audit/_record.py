"""``AuditRecord``: what one guarded request leaves behind, and how it is read from a ``GuardContext``.

A record holds identifiers, verdicts, counts and money: never prompt text, PII values or keys. Decision
details written by other protections are read through allow-lists, so a protection that puts a matched string
in its detail does not leak it here.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..context import Decision, GuardContext
from ..messages import Usage
from ..secrets import scrub

__all__ = ["AuditRecord", "record_from_context"]

# Names other protections use for themselves; each group maps onto one span attribute family.
VALIDATION: Final = frozenset({"validation", "prompt_validation", "injection"})
RATE_LIMIT: Final = frozenset({"rate_limit", "ratelimit", "concurrency", "in_flight"})
BUDGET: Final = frozenset({"budget", "ledger", "cost", "max_cost"})
PII: Final = frozenset({"pii"})
AUTH: Final = frozenset({"auth", "api_key", "keys", "authentication"})

REFUSED_OUTCOMES: Final = frozenset(
    {"refused", "blocked", "denied", "rejected", "exhausted", "exceeded", "limited", "invalid", "forbidden"}
)

# Keys of a decision's detail whose string values are safe to show (identifiers, never text).
SAFE_STRING_KEYS: Final = frozenset(
    {
        "code",
        "rule",
        "rule_id",
        "policy",
        "reason",
        "mode",
        "period",
        "scope",
        "action",
        "category",
        "entity_type",
        "error_type",
        "limit_name",
        "model",
        "kind",
        "dimension",
        "severity",
    }
)
SAFE_LIST_KEYS: Final = frozenset({"rule_ids", "rules", "entity_types", "categories", "policies"})
_COUNT_MAP_KEYS: Final = ("entities", "entity_counts", "counts")
_IDENTIFIER: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,79}$")


def safe_identifier(value: object) -> str | None:
    """``value`` if it looks like an identifier (a rule id, an entity type), else ``None``."""
    if isinstance(value, str) and _is_identifier(value):
        return value
    return None


@functools.lru_cache(maxsize=4096)
def _is_identifier(value: str) -> bool:
    # Identifiers repeat (models, rule ids, entity types, policies): the key-shape scan runs once for each.
    return bool(_IDENTIFIER.match(value)) and scrub(value) == value


def safe_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parts of a decision's detail that are safe to record: numbers, flags, allow-listed ids."""
    out: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            continue
        if isinstance(value, bool | int | float | Decimal) and not isinstance(value, str):
            out[key] = float(value) if isinstance(value, Decimal) else value
        elif key.endswith("_usd") and isinstance(value, str):
            amount = _decimal(value)
            if amount is not None and amount.is_finite():
                out[key] = float(amount)
        elif key in SAFE_STRING_KEYS and isinstance(value, str):
            ident = safe_identifier(value)
            if ident is not None:
                out[key] = ident
        elif key in SAFE_LIST_KEYS | SAFE_STRING_KEYS and isinstance(value, list | tuple | set | frozenset):
            items = [i for i in (safe_identifier(v) for v in value) if i is not None]
            if items:
                out[key] = sorted(items) if isinstance(value, set | frozenset) else items
    return out


def rule_ids_of(decisions: Iterable[Decision]) -> tuple[str, ...]:
    """Every rule id named by any decision, in order, without repeats."""
    seen: dict[str, None] = {}
    for decision in decisions:
        detail = decision.detail or {}
        for key in ("rule_id", "rule"):
            ident = safe_identifier(detail.get(key))
            if ident is not None:
                seen.setdefault(ident)
        for key in ("rule_ids", "rules"):
            values = detail.get(key)
            if isinstance(values, list | tuple | set | frozenset):
                for value in values:
                    ident = safe_identifier(value)
                    if ident is not None:
                        seen.setdefault(ident)
    return tuple(seen)


def pii_counts_of(decisions: Iterable[Decision]) -> dict[str, int]:
    """PII entity types and how many of each the ``pii`` protection found (types only, never values)."""
    counts: dict[str, int] = {}
    for decision in decisions:
        if decision.protection not in PII or not decision.detail:
            continue
        detail = decision.detail
        for key in _COUNT_MAP_KEYS:
            mapping = detail.get(key)
            if isinstance(mapping, Mapping):
                for entity, count in mapping.items():
                    ident = safe_identifier(entity)
                    if ident is not None and isinstance(count, int) and not isinstance(count, bool):
                        counts[ident] = counts.get(ident, 0) + max(count, 0)
                break
        else:
            types = detail.get("entity_types")
            if isinstance(types, list | tuple):
                for entity in types:
                    ident = safe_identifier(entity)
                    if ident is not None:
                        counts[ident] = counts.get(ident, 0) + 1
    return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One guarded request, as kept for compliance.

    Example:
        >>> record = AuditRecord(time=0.0, request_id="req_1", route="/v1/messages", outcome="allowed")
        >>> AuditRecord.from_dict(record.to_dict()) == record
        True
    """

    time: float
    """When the request started, seconds since the epoch (UTC)."""
    request_id: str
    """The guard's request id (the one in error bodies and the ``request-id`` header)."""
    route: str
    """The request path (never its query string)."""
    outcome: str
    """``allowed``, ``refused`` (a protection said no), ``upstream_error``, ``error`` or ``disconnected``."""
    method: str = "POST"
    key_id: str | None = None
    """The public id of the client key; never the key."""
    profile: str | None = None
    environment: str | None = None
    model: str | None = None
    status: int | None = None
    """The HTTP status the caller got; ``None`` when no response started."""
    input_tokens: int = 0
    """Input tokens including cache reads and writes."""
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    rule_ids: tuple[str, ...] = ()
    pii_counts: Mapping[str, int] = field(default_factory=dict)
    decisions: tuple[str, ...] = ()
    """``protection:outcome`` of every decision, in order."""
    latency_ms: float = 0.0
    """Time from the request's arrival to the end of its response."""
    guard_ms: float | None = None
    """The part of ``latency_ms`` spent outside the upstream call (the guard's own cost), when known."""
    would_refuse: tuple[str, ...] = ()
    """``protection:reason`` of every refusal a protection in shadow mode decided but did not make."""
    chain: Mapping[str, Any] | None = None
    """The tamper-evidence link (``id``, ``seq``, ``prev``, ``mac``) when the audit key is set."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the cost as a decimal string); ``chain`` only when the record is chained."""
        data = self._fields()
        if self.chain is not None:
            data["chain"] = dict(self.chain)
        return data

    def _fields(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "request_id": self.request_id,
            "method": self.method,
            "route": self.route,
            "outcome": self.outcome,
            "key_id": self.key_id,
            "profile": self.profile,
            "environment": self.environment,
            "model": self.model,
            "status": self.status,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "rule_ids": list(self.rule_ids),
            "pii_counts": dict(self.pii_counts),
            "decisions": list(self.decisions),
            "latency_ms": self.latency_ms,
            "guard_ms": self.guard_ms,
            "would_refuse": list(self.would_refuse),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        cost = data.get("cost_usd")
        return cls(
            time=float(data["time"]),
            request_id=str(data["request_id"]),
            method=str(data.get("method", "POST")),
            route=str(data.get("route", "")),
            outcome=str(data.get("outcome", "")),
            key_id=data.get("key_id"),
            profile=data.get("profile"),
            environment=data.get("environment"),
            model=data.get("model"),
            status=data.get("status"),
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cost_usd=None if cost is None else Decimal(str(cost)),
            rule_ids=tuple(data.get("rule_ids") or ()),
            pii_counts=dict(data.get("pii_counts") or {}),
            decisions=tuple(data.get("decisions") or ()),
            latency_ms=float(data.get("latency_ms") or 0.0),
            guard_ms=None if data.get("guard_ms") is None else float(data["guard_ms"]),
            would_refuse=tuple(data.get("would_refuse") or ()),
            chain=dict(data["chain"]) if isinstance(data.get("chain"), Mapping) else None,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditRecord:
        return cls.from_dict(json.loads(text))


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def model_of(ctx: GuardContext) -> str | None:
    """The model the request named: from the context (the GenAI span), or the captured body."""
    model = safe_identifier(ctx.model)
    if model is not None:
        return model
    if ctx.body is not None:
        try:
            body = ctx.json()
        except Exception:
            return None
        if isinstance(body, Mapping):
            return safe_identifier(body.get("model"))
    return None


def usage_of(ctx: GuardContext) -> Usage | None:
    return ctx.usage if ctx.usage is not None else ctx.observed_usage


def outcome_of(ctx: GuardContext, status: int | None, failed: bool) -> str:
    """One word for how the request ended."""
    if failed:
        return "error"
    if status is None:
        return "disconnected"
    upstream_status = ctx.upstream_status
    upstream_failed = upstream_status is not None and upstream_status >= 400
    if upstream_failed or any(d.protection == "upstream" and d.outcome != "called" for d in ctx.decisions):
        return "upstream_error" if status >= 400 or upstream_failed else "allowed"
    if status >= 500:
        return "error"
    if status >= 400:
        return "refused"
    if any(d.outcome == "client_disconnected" for d in ctx.decisions):
        return "disconnected"
    return "allowed"


def record_from_context(
    ctx: GuardContext,
    *,
    status: int | None,
    failed: bool = False,
    wall_time: float | None = None,
    ended_at: float | None = None,
) -> AuditRecord:
    """Build the audit record of a finished request from its context.

    ``wall_time`` is when the request started (epoch seconds); by default it is derived from
    ``ctx.started_at`` (a ``perf_counter`` reading).
    """
    end = time.perf_counter() if ended_at is None else ended_at
    elapsed = max(end - ctx.started_at, 0.0)
    started = wall_time if wall_time is not None else time.time() - elapsed
    principal = ctx.principal
    usage = usage_of(ctx)
    upstream_seconds = ctx.upstream_seconds
    guard_ms = max(elapsed - upstream_seconds, 0.0) * 1000.0 if upstream_seconds is not None else None
    return AuditRecord(
        time=started,
        request_id=ctx.request_id,
        method=ctx.method,
        route=ctx.path,
        outcome=outcome_of(ctx, status, failed),
        key_id=principal.key_id if principal else None,
        profile=principal.profile if principal else None,
        environment=principal.environment if principal else None,
        model=model_of(ctx),
        status=status,
        input_tokens=usage.total_input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost_usd=ctx.cost_usd,
        rule_ids=rule_ids_of(ctx.decisions),
        pii_counts=pii_counts_of(ctx.decisions),
        decisions=tuple(f"{d.protection}:{d.outcome}" for d in ctx.decisions),
        latency_ms=elapsed * 1000.0,
        guard_ms=guard_ms,
        would_refuse=would_refuse_of(ctx.decisions),
    )


def would_refuse_of(decisions: Iterable[Decision]) -> tuple[str, ...]:
    """``protection:reason`` of every shadow-mode decision (``would_refuse``), reasons being identifiers."""
    found: list[str] = []
    for decision in decisions:
        if decision.outcome == "would_refuse":
            detail = decision.detail or {}
            reason = next(
                (r for key in ("reason", "rule", "code") if (r := safe_identifier(detail.get(key)))),
                "unspecified",
            )
            found.append(f"{decision.protection}:{reason}")
    return tuple(found)
