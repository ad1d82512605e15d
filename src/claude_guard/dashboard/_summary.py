"""What the dashboard shows, computed from audit records and ledger usage: identifiers, counts and money only.

``summarize`` is pure (records and usages in, a JSON-ready dict out) so it is tested without a server;
``collect`` reads a guard's audit log, ledger and keys and calls it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from ..audit import AuditRecord
from ..audit._record import REFUSED_OUTCOMES
from ..errors import ConfigurationError
from ..ledger._ledger import ScopeUsage
from ..profiles import BUILTIN_PROFILES, Profile
from ..ratelimit._config import parse_limits

if TYPE_CHECKING:
    from ..guard import ClaudeGuard

__all__ = ["DashboardConfig", "collect", "refusal_reason", "summarize", "usd_text"]

_MAX_RECORDS: Final = 100_000
_PROTECTION_NAMES: Final = {
    "auth": "access",
    "rate_limit": "rate limit",
    "budget": "budget",
    "cost": "max cost",
    "validation": "validation",
    "pii": "pii",
    "error": "error",
    "upstream": "upstream",
}
_STATUS_REASONS: Final = {
    400: "invalid request",
    401: "access",
    403: "access",
    402: "budget",
    408: "request limits",
    413: "request limits",
    415: "request limits",
    429: "rate limit",
    503: "store unavailable",
    504: "upstream",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardConfig:
    """What the dashboard looks at."""

    window_hours: float = 24.0
    """How far back the charts and tables reach."""
    buckets: int = 48
    """Bars of the requests-over-time chart."""
    recent: int = 25
    """Rows of the recent-requests table."""
    top: int = 10
    """Rows of the top rules and top PII types tables."""
    refresh_seconds: float = 5.0
    """How often the page fetches fresh figures."""
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    """Custom profiles over the built-in ones (their budgets and rate limits are shown)."""

    def __post_init__(self) -> None:
        if self.window_hours <= 0 or self.buckets <= 0 or self.recent < 0 or self.top <= 0:
            raise ConfigurationError("window_hours, buckets and top must be positive, recent non-negative")
        if self.refresh_seconds <= 0:
            raise ConfigurationError("refresh_seconds must be positive")


def refusal_reason(record: AuditRecord) -> str | None:
    """Why a request was refused, in one word per protection, or ``None`` when it was not refused.

    Example:
        >>> r = AuditRecord(time=0, request_id="req_1", route="/v1/messages", outcome="refused", status=400,
        ...                 decisions=("auth:allowed", "validation:blocked", "error:refused"))
        >>> refusal_reason(r)
        'validation'
    """
    if record.outcome != "refused":
        return None
    for decision in record.decisions:
        protection, _, outcome = decision.partition(":")
        # ``error:refused`` is the safe-error boundary rendering the refusal: the protection that said no
        # came before it.
        if protection != "error" and (outcome in REFUSED_OUTCOMES or outcome == "store_unavailable"):
            return _PROTECTION_NAMES.get(protection, protection)
    return _STATUS_REASONS.get(record.status or 0, f"status {record.status}")


def usd_text(value: Decimal | int | float | None) -> str:
    """An amount of USD exactly as the ledger holds it, with at least two decimals (``""`` for none).

    Example:
        >>> usd_text(Decimal("0.0000230")), usd_text(3), usd_text(None)
        ('0.000023', '3.00', '')
    """
    if value is None:
        return ""
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    text = format(amount.normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _budget(stored: Mapping[str, Decimal | int], dim: str, configured: Decimal | None) -> Decimal | None:
    value = stored.get(dim)
    if value is not None:
        return Decimal(value)
    return configured


def summarize(
    records: Sequence[AuditRecord],
    *,
    now: float,
    config: DashboardConfig,
    key_profiles: Mapping[str, str] | None = None,
    key_usage: Mapping[str, ScopeUsage] | None = None,
    profile_usage: Mapping[str, ScopeUsage] | None = None,
) -> dict[str, Any]:
    """The dashboard's figures as a JSON-ready dict (money as decimal strings).

    Args:
        records: audit records of the window, oldest first.
        now: the time of the summary (epoch seconds).
        config: the window and table sizes, and the profiles.
        key_profiles: each known key id's profile (keys with no request in the window are listed too).
        key_usage: the ledger's usage per key id (today and this month, reservations included).
        profile_usage: the ledger's usage per profile name.
    """
    profiles = {**BUILTIN_PROFILES, **config.profiles}
    since = now - config.window_hours * 3600.0
    window = [r for r in records if since <= r.time <= now]
    width = config.window_hours * 3600.0 / config.buckets

    timeline: list[dict[str, Any]] = [
        {"start": since + i * width, "allowed": 0, "refused": {}, "errors": 0} for i in range(config.buckets)
    ]
    reasons: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    cost = Decimal(0)
    profiles_of: dict[str, str] = dict(key_profiles or {})
    cost_by_key: dict[str, Decimal] = {}
    for record in window:
        index = min(int((record.time - since) // width), config.buckets - 1)
        bucket = timeline[index]
        reason = refusal_reason(record)
        outcomes[record.outcome] += 1
        if reason is not None:
            reasons[reason] += 1
            bucket["refused"][reason] = bucket["refused"].get(reason, 0) + 1
        elif record.outcome == "allowed":
            bucket["allowed"] += 1
        else:
            bucket["errors"] += 1
        rules.update(record.rule_ids)
        for entity, count in record.pii_counts.items():
            pii[entity] += count
        if record.cost_usd is not None:
            cost += record.cost_usd
            if record.key_id:
                cost_by_key[record.key_id] = cost_by_key.get(record.key_id, Decimal(0)) + record.cost_usd
        if record.key_id and record.profile:
            profiles_of[record.key_id] = record.profile

    keys = []
    for key_id in sorted(profiles_of):
        profile = profiles.get(profiles_of[key_id])
        usage = (key_usage or {}).get(key_id)
        budgets = profile.budgets if profile else None
        stored = usage.limits if usage else {}
        keys.append(
            {
                "key_id": key_id,
                "profile": profiles_of[key_id],
                "today_usd": usd_text(usage.used.get("usd_day") if usage else 0),
                "month_usd": usd_text(usage.used.get("usd_month") if usage else 0),
                "window_usd": usd_text(cost_by_key.get(key_id, Decimal(0))),
                "budget_day_usd": usd_text(
                    _budget(stored, "usd_day", budgets.usd_per_day if budgets else None)
                ),
                "budget_month_usd": usd_text(
                    _budget(stored, "usd_month", budgets.usd_per_month if budgets else None)
                ),
            }
        )
    profile_rows = []
    for name in sorted({row["profile"] for row in keys} | set(profile_usage or {})):
        profile = profiles.get(name)
        usage = (profile_usage or {}).get(name)
        budgets = profile.profile_budgets if profile else None
        stored = usage.limits if usage else {}
        profile_rows.append(
            {
                "profile": name,
                "today_usd": usd_text(usage.used.get("usd_day") if usage else 0),
                "month_usd": usd_text(usage.used.get("usd_month") if usage else 0),
                "budget_day_usd": usd_text(
                    _budget(stored, "usd_day", budgets.usd_per_day if budgets else None)
                ),
                "budget_month_usd": usd_text(
                    _budget(stored, "usd_month", budgets.usd_per_month if budgets else None)
                ),
            }
        )

    return {
        "generated_at": now,
        "window": {"since": since, "hours": config.window_hours, "bucket_seconds": width},
        "refresh_seconds": config.refresh_seconds,
        "totals": {
            "requests": len(window),
            "allowed": outcomes.get("allowed", 0),
            "refused": sum(reasons.values()),
            "errors": len(window) - outcomes.get("allowed", 0) - sum(reasons.values()),
            "cost_usd": usd_text(cost),
        },
        "timeline": timeline,
        "refusals": _ranked(reasons, None),
        "rules": _ranked(rules, config.top),
        "pii": _ranked(pii, config.top),
        "keys": keys,
        "profiles": profile_rows,
        "rate_limits": _headroom(window, profiles_of, profiles, now),
        "recent": [_recent(r) for r in reversed(window[-config.recent :])] if config.recent else [],
    }


def _ranked(counter: Counter[str], top: int | None) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counter.most_common(top)]


def _headroom(
    window: Iterable[AuditRecord], profiles_of: Mapping[str, str], profiles: Mapping[str, Profile], now: float
) -> list[dict[str, Any]]:
    """Each key's profile rate limits and what its admitted requests left of them.

    The rate-limit engine keeps no per-key listing to read, so this counts the audit records the limiter
    admitted (``rate_limit:allowed``) in each window: exact for a moving window, the engine's sliding window
    counter agrees within its own approximation. Limits of single routes (``rate_limit(...)`` dependencies)
    are not shown.
    """
    admitted: dict[str, list[float]] = {}
    for record in window:
        if record.key_id and "rate_limit:allowed" in record.decisions:
            admitted.setdefault(record.key_id, []).append(record.time)
    rows = []
    for key_id in sorted(profiles_of):
        profile = profiles.get(profiles_of[key_id])
        if profile is None or not profile.rate_limits:
            continue
        times = admitted.get(key_id, [])
        for spec in parse_limits(profile.rate_limits):
            used = sum(1 for t in times if now - spec.window < t <= now)
            rows.append(
                {
                    "key_id": key_id,
                    "profile": profile.name,
                    "limit": _limit_text(spec.amount, spec.window),
                    "quota": spec.amount,
                    "used": used,
                    "remaining": max(spec.amount - used, 0),
                }
            )
    return rows


_UNITS: Final = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def _limit_text(amount: int, window: int) -> str:
    unit = _UNITS.get(window)
    return f"{amount}/{unit}" if unit else f"{amount}/{window}s"


def _recent(record: AuditRecord) -> dict[str, Any]:
    return {
        "time": record.time,
        "request_id": record.request_id,
        "key_id": record.key_id,
        "profile": record.profile,
        "route": record.route,
        "status": record.status,
        "outcome": record.outcome,
        "decisions": list(record.decisions),
        "cost_usd": usd_text(record.cost_usd),
        "latency_ms": round(record.latency_ms, 1),
    }


async def collect(guard: ClaudeGuard, config: DashboardConfig, *, now: float | None = None) -> dict[str, Any]:
    """Read ``guard``'s audit log, ledger and keys, and summarize them."""
    moment = time.time() if now is None else now
    records = await guard.audit.get_logs(
        since=moment - config.window_hours * 3600.0, until=moment + 1.0, limit=_MAX_RECORDS
    )
    key_profiles = {k.key_id: k.profile for k in await guard.keys.list() if k.revoked_at is None}
    for record in records:
        if record.key_id and record.profile:
            key_profiles.setdefault(record.key_id, record.profile)
    key_ids = sorted(key_profiles)
    profile_names = sorted(set(key_profiles.values()))
    scopes = [f"key:{k}" for k in key_ids] + [f"profile:{p}" for p in profile_names]
    usages = await guard.ledger.usages(scopes, now=moment) if scopes else []
    key_usage = dict(zip(key_ids, usages[: len(key_ids)], strict=True))
    profile_usage = dict(zip(profile_names, usages[len(key_ids) :], strict=True))
    return summarize(
        records,
        now=moment,
        config=config,
        key_profiles=key_profiles,
        key_usage=key_usage,
        profile_usage=profile_usage,
    )
