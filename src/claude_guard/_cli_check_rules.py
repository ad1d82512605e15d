"""The checks of ``claude-guard check``, in the documented order: each reads what ``run_checks`` gathered
(``_Inputs``) and answers one ``CheckResult``, naming what it saw (variables, counts, places), never a value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._cli_check_scan import key_shaped_literals, scan_source
from .errors import ConfigurationError
from .secret_providers import KEY_VARIABLES

__all__ = ["CHECKS", "DAY", "MAX_KEY_AGE_DAYS", "CheckResult", "Status"]

Status = Literal["pass", "warn", "fail"]
DAY = 86_400.0
MAX_KEY_AGE_DAYS = 90.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One box of the checklist."""

    id: str
    """Stable identifier (see the module docstring)."""
    title: str
    status: Status
    detail: str
    """What was seen (names of variables, counts, places; never a value)."""
    fix: str | None = None
    """What to change, for ``warn`` and ``fail``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(slots=True, kw_only=True)
class _Inputs:
    env: Mapping[str, str]
    settings: Any
    guard: Any
    arguments: list[str]
    pid: int | None
    source: Path | None
    app_classes: list[type[Any]] | None
    keys: list[Any] | None = None
    keys_error: str | None = None
    admin_uses: int | None = None


def _result(id: str, title: str, problems: list[tuple[Status, str, str]], ok: str) -> CheckResult:
    """A pass with ``ok``, or the worst status of ``problems`` (status, detail, fix), every one named."""
    if not problems:
        return CheckResult(id=id, title=title, status="pass", detail=ok)
    status: Status = "fail" if any(p[0] == "fail" for p in problems) else "warn"
    ordered = sorted(problems, key=lambda p: p[0] != "fail")
    return CheckResult(
        id=id,
        title=title,
        status=status,
        detail="; ".join(p[1] for p in ordered),
        fix="; ".join(dict.fromkeys(p[2] for p in ordered)),
    )


def _mode_problem(name: str, variable: str, mode: str) -> list[tuple[Status, str, str]]:
    if mode == "off":
        return [("fail", f"{variable}=off: {name} does not run", f"set {variable}=enforce")]
    if mode == "shadow":
        return [
            (
                "warn",
                f"{variable}=shadow: {name} only records would-refuse",
                f"set {variable}=enforce after review",
            )
        ]
    return []


def _check_upstream_key(i: _Inputs, probed: str | None) -> CheckResult:
    from .secret_providers import source_from_env

    problems: list[tuple[Status, str, str]] = []
    fix_literal = "move the key to CLAUDE_API_KEY_FILE or CLAUDE_API_KEY_SOURCE and rotate it"
    chosen = [name for name in KEY_VARIABLES if name in i.env]
    ok = ""
    try:
        from .secret_providers import describe_source

        source = source_from_env(i.env)
        described = describe_source(source)
        ok = f"from {chosen[0]} ({described.kind} {described.name}), read once"
        if probed is not None:
            problems.append(("fail", f"the key source did not answer: {probed}", "check the source's access"))
    except ConfigurationError as exc:
        problems.append(("fail", exc.message, "set exactly one of " + ", ".join(KEY_VARIABLES)))
    for index, argument in enumerate(i.arguments):
        if key_shaped_literals(argument):
            who = f"process {i.pid}" if i.pid is not None else "this process"
            problems.append(("fail", f"a key-shaped literal in argument {index} of {who}", fix_literal))
    if i.source is not None:
        places = scan_source(i.source)
        if places:
            shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
            problems.append(("fail", f"key-shaped literals in the source: {shown}", fix_literal))
        ok += f"; no key-shaped literal in the arguments or under {i.source}"
    else:
        ok += "; no key-shaped literal in the arguments"
    return _result("upstream_key", "Upstream key from the environment or a secrets source", problems, ok)


def _check_https(i: _Inputs) -> CheckResult:
    from urllib.parse import urlsplit

    from .secrets import is_loopback

    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    url = urlsplit(s.api_url)
    if s.environment != "production":
        problems.append(
            (
                "warn",
                f"CLAUDE_GUARD_ENV={s.environment}: plain-HTTP requests are not refused",
                "set CLAUDE_GUARD_ENV=production for production",
            )
        )
    elif url.scheme != "https":
        host = "loopback" if is_loopback(url.hostname or "") else "remote"
        problems.append(
            (
                "fail",
                f"the upstream is {url.scheme}:// on a {host} host",
                "set CLAUDE_API_URL to an https URL",
            )
        )
    return _result(
        "https",
        "HTTPS in production",
        problems,
        "production: plain-HTTP requests refused, HSTS sent, upstream over https",
    )


def _check_least_privilege(i: _Inputs) -> CheckResult:
    problems: list[tuple[Status, str, str]] = []
    profiles = i.guard.authenticator.profiles
    unbounded = sorted(name for name, p in profiles.items() if name != "admin" and p.tools is None)
    if unbounded:
        problems.append(
            (
                "fail",
                f"profiles without a tool allow-list: {', '.join(unbounded)}",
                "give every profile but admin a tools list in CLAUDE_GUARD_PROFILES_FILE",
            )
        )
    if i.keys is not None:
        admin = [k for k in i.keys if k.profile == "admin" and _active(k)]
        if admin:
            problems.append(
                (
                    "warn",
                    f"{len(admin)} active admin key(s)",
                    "issue services keys of a least-privilege profile; keep admin keys for operators",
                )
            )
    if i.admin_uses:
        problems.append(
            (
                "fail",
                f"admin keys answered {i.admin_uses} request(s) to Messages routes in the last 30 days",
                "give the services behind them keys of a least-privilege profile",
            )
        )
    problems += _mode_problem("the profile allow-lists", "CLAUDE_GUARD_PROFILE_MODE", i.settings.profile_mode)
    tool_policy = getattr(i.settings, "tool_policy_mode", "enforce")
    problems += _mode_problem("the tool-call sandbox", "CLAUDE_GUARD_TOOL_POLICY_MODE", tool_policy)
    return _result(
        "least_privilege",
        "Least-privilege profiles",
        problems,
        f"{len(profiles)} profiles, every one but admin bounds its tools; no admin key used by a service",
    )


def _check_cost_limits(i: _Inputs) -> CheckResult:
    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    if s.max_cost is None or s.max_cost <= 0:
        problems.append(("fail", "no maximum cost per request", "set CLAUDE_MAX_COST"))
    profiles = i.guard.authenticator.profiles
    budgeted = sorted(
        name
        for name, p in profiles.items()
        if any(
            getattr(b, f) is not None
            for b in (p.budgets, p.profile_budgets)
            for f in ("usd_per_day", "usd_per_month")
        )
    )
    if not budgeted:
        problems.append(
            (
                "fail",
                "no profile has a USD budget per day or month",
                "set budgets (usd_per_day, usd_per_month) in CLAUDE_GUARD_PROFILES_FILE",
            )
        )
    problems += _mode_problem("budgets and the maximum cost", "CLAUDE_GUARD_BUDGET_MODE", s.budget_mode)
    return _result(
        "cost_limits",
        "Cost limits and budgets",
        problems,
        f"at most ${s.max_cost} per request; budgets on {', '.join(budgeted) or '-'}",
    )


def _check_validation(i: _Inputs) -> CheckResult:
    from .guard import _with_validation_mode

    mode = i.settings.validation_mode
    problems = _mode_problem("prompt validation", "CLAUDE_GUARD_VALIDATION_MODE", mode)
    try:
        if mode == "shadow":  # off needs no validator support: the guard leaves validation out
            _with_validation_mode(i.settings.validation, mode)
    except ConfigurationError as exc:
        problems.insert(0, ("fail", exc.message, "set CLAUDE_GUARD_VALIDATION_MODE=enforce"))
    return _result(
        "validation", "Prompt validation on", problems, "schema, limits and injection rules enforced"
    )


def _check_error_hygiene(i: _Inputs) -> CheckResult:
    from .middleware import SafeErrorMiddleware

    classes = i.app_classes
    where = "the app given" if classes is not None else "the middleware ClaudeGuard.install adds"
    problems: list[tuple[Status, str, str]] = []
    if classes is None:
        try:
            classes = [cls for cls, _ in _guard_middleware(i.guard)]
        except ConfigurationError as exc:
            problems.append(("fail", f"the guard cannot be built: {exc.message}", "fix that setting"))
            classes = [SafeErrorMiddleware]
    if not any(issubclass(c, SafeErrorMiddleware) for c in classes):
        problems.append(
            (
                "fail",
                f"no safe-error boundary (SafeErrorMiddleware) in {where}",
                "install the guard with guard.install(app), or add SafeErrorMiddleware outside the app",
            )
        )
    return _result(
        "error_hygiene",
        "Error hygiene",
        problems,
        f"SafeErrorMiddleware in {where}; log scrubbing at start-up",
    )


def _check_audit(i: _Inputs) -> CheckResult:
    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    if s.audit_retention_days is None:
        problems.append(
            ("fail", "audit records are kept forever", "set CLAUDE_GUARD_AUDIT_RETENTION_DAYS (e.g. 90)")
        )
    if s.audit_key is None:
        problems.append(
            (
                "warn" if s.environment != "production" else "fail",
                "the audit log is not tamper-evident",
                "set CLAUDE_GUARD_AUDIT_KEY (or _FILE) to chain records; check them with claude-guard audit "
                "verify",
            )
        )
    where = "a Redis stream" if s.storage_url.startswith(("redis", "valkey")) else "SQLite"
    retention = f"{s.audit_retention_days:g} days" if s.audit_retention_days else "-"
    return _result(
        "audit_logging",
        "Audit logging with retention",
        problems,
        f"records in {where}, kept {retention}, chained",
    )


def _check_rate_limits(i: _Inputs) -> CheckResult:
    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    profiles = i.guard.authenticator.profiles
    unlimited = sorted(
        name
        for name, p in profiles.items()
        if name != "admin" and p.rate_limits is None and p.max_concurrency is None
    )
    if unlimited:
        problems.append(
            (
                "fail",
                f"profiles without rate limits: {', '.join(unlimited)}",
                "set rate_limits and max_concurrency for them in CLAUDE_GUARD_PROFILES_FILE",
            )
        )
    if s.rate_limit_on_store_error == "open":
        problems.append(
            (
                "warn",
                "limits fail open when the store is down",
                "set CLAUDE_GUARD_RATE_LIMIT_ON_STORE_ERROR=closed",
            )
        )
    problems += _mode_problem("rate limits", "CLAUDE_GUARD_RATE_LIMIT_MODE", s.rate_limit_mode)
    return _result(
        "rate_limits",
        "Rate limits in place",
        problems,
        "every profile but admin has request and concurrency limits",
    )


def _check_pii(i: _Inputs) -> CheckResult:
    from .guard import pii_extra_installed

    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    if s.pii == "off":
        problems.append(("fail", "CLAUDE_GUARD_PII=off", "set CLAUDE_GUARD_PII=on"))
    elif not pii_extra_installed():
        problems.append(
            ("fail", "the pii extra is not installed: redaction is off", "pip install 'claude-guard[pii]'")
        )
    problems += _mode_problem("PII redaction", "CLAUDE_GUARD_PII_MODE", s.pii_mode)
    shared = not s.storage_url.startswith("memory")
    if shared and s.vault_key is None:
        problems.append(
            (
                "warn",
                "PII vault values are stored in the clear in the shared store",
                "set CLAUDE_GUARD_VAULT_KEY (or _FILE) to encrypt them",
            )
        )
    if shared and s.pii_key is None:
        problems.append(
            (
                "warn",
                "no CLAUDE_GUARD_PII_KEY: placeholders differ between replicas",
                "set CLAUDE_GUARD_PII_KEY on every replica",
            )
        )
    return _result(
        "pii", "PII protection on", problems, "redaction on" + (", vault encrypted" if s.vault_key else "")
    )


def _active(key: Any, now: float | None = None) -> bool:
    t = time.time() if now is None else now
    revoked = key.revoked_at is not None and key.revoked_at <= t
    expired = key.expires_at is not None and key.expires_at <= t
    return not revoked and not expired


def _check_key_rotation(i: _Inputs) -> CheckResult:
    s = i.settings
    problems: list[tuple[Status, str, str]] = []
    if i.keys_error is not None:
        problems.append(
            ("fail", f"the key store cannot be read ({i.keys_error})", "check CLAUDE_GUARD_STORAGE_URL")
        )
        return _result("key_rotation", "Key rotation", problems, "")
    now = time.time()
    keys = [k for k in (i.keys or []) if _active(k, now)]
    old = [k.key_id for k in keys if now - k.created_at > MAX_KEY_AGE_DAYS * DAY]
    if old:
        problems.append(
            (
                "fail",
                f"{len(old)} key(s) older than {MAX_KEY_AGE_DAYS:g} days: {', '.join(old[:5])}",
                "claude-guard keys rotate ID for each",
            )
        )
    no_expiry = [k.key_id for k in keys if k.expires_at is None]
    if no_expiry:
        problems.append(
            (
                "warn",
                f"{len(no_expiry)} key(s) without an expiry: {', '.join(no_expiry[:5])}",
                "issue keys with an expiry (claude-guard keys create --expires-in DAYS)",
            )
        )
    if s.key_max_age_days is None or s.key_max_age_days > MAX_KEY_AGE_DAYS:
        problems.append(
            (
                "warn",
                "keys are accepted past 90 days of age",
                f"set CLAUDE_GUARD_KEY_MAX_AGE_DAYS to {MAX_KEY_AGE_DAYS:g} or less",
            )
        )
    return _result(
        "key_rotation",
        "Key rotation",
        problems,
        f"{len(keys)} active key(s), none older than {MAX_KEY_AGE_DAYS:g} days, all with an expiry",
    )


def _check_monitoring(i: _Inputs) -> CheckResult:
    from .audit import otlp_endpoint

    s = i.settings
    sinks = []
    if any(otlp_endpoint(signal, i.env) for signal in ("TRACES", "METRICS", "LOGS")):
        sinks.append("OTLP")
    if s.prometheus_port:
        sinks.append(f"Prometheus on port {s.prometheus_port}")
    if s.audit_jsonl:
        sinks.append("audit JSON lines")
    if s.audit_otlp == "on":
        sinks.append("audit OTLP logs")
    problems: list[tuple[Status, str, str]] = []
    if not sinks:
        problems.append(
            (
                "fail",
                "no exporter or alert sink: decisions are seen by no one",
                "set OTEL_EXPORTER_OTLP_ENDPOINT, CLAUDE_GUARD_PROMETHEUS_PORT or CLAUDE_GUARD_AUDIT_JSONL",
            )
        )
    return _result("monitoring", "Security monitoring", problems, "exported to " + ", ".join(sinks))


def _check_incident(i: _Inputs) -> CheckResult:
    s = i.settings
    places = [p for p in {i.source or Path.cwd(), Path.cwd()} if (p / "SECURITY.md").is_file()]
    problems: list[tuple[Status, str, str]] = []
    if not s.security_contact and not places:
        problems.append(
            (
                "fail",
                "no SECURITY.md and no CLAUDE_GUARD_SECURITY_CONTACT",
                "add SECURITY.md with a reporting contact, or set CLAUDE_GUARD_SECURITY_CONTACT",
            )
        )
    ok = "contact set in CLAUDE_GUARD_SECURITY_CONTACT" if s.security_contact else "SECURITY.md present"
    return _result("incident_response", "Incident-response contact", problems, ok)


def _guard_middleware(guard: Any) -> list[tuple[type[Any], dict[str, Any]]]:
    result: list[tuple[type[Any], dict[str, Any]]] = guard.middleware()
    return result


CHECKS: tuple[Callable[[_Inputs], CheckResult], ...] = (
    _check_https,
    _check_least_privilege,
    _check_cost_limits,
    _check_validation,
    _check_error_hygiene,
    _check_audit,
    _check_rate_limits,
    _check_pii,
    _check_key_rotation,
    _check_monitoring,
    _check_incident,
)
"""Every check after ``_check_upstream_key`` (which also takes the probe's answer), in order."""
