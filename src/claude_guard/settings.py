"""``GuardSettings``: every setting of claude_guard, read from the environment or given in code.

Example:
    >>> s = GuardSettings.from_env({"CLAUDE_API_KEY": "sk-ant-fake-canary", "CLAUDE_TIMEOUT": "30"})
    >>> s.timeout, s.api_url, s.storage_url
    (30.0, 'https://api.anthropic.com', 'memory://')
    >>> "sk-ant-fake-canary" in repr(s)
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlsplit

from ._proxies import TrustedProxies
from .errors import ConfigurationError
from .messages._walker import UNKNOWN_CONTENT_POLICIES, UnknownContent
from .pii._config import PIIConfig
from .profiles import Profile, load_profiles
from .responses import ErrorFormat
from .secret_providers import KEY_VARIABLES, source_from_env
from .secrets import Secret, SecretSource, check_https_url
from .store._url import REDIS_SCHEMES, parse_redis_url
from .validation import ValidationConfig

__all__ = ["GuardSettings"]

Environment = Literal["development", "staging", "production"]
ProtectionMode = Literal["enforce", "shadow", "off"]
"""How a protection acts: ``enforce`` refuses, ``shadow`` decides and records ``would_refuse`` but lets the
request go on, ``off`` does not run."""
MODES: tuple[ProtectionMode, ...] = ("enforce", "shadow", "off")
_MODE_VARIABLES = {
    "validation_mode": "CLAUDE_GUARD_VALIDATION_MODE",
    "pii_mode": "CLAUDE_GUARD_PII_MODE",
    "rate_limit_mode": "CLAUDE_GUARD_RATE_LIMIT_MODE",
    "budget_mode": "CLAUDE_GUARD_BUDGET_MODE",
    "profile_mode": "CLAUDE_GUARD_PROFILE_MODE",
}
ENVIRONMENTS: tuple[Environment, ...] = ("development", "staging", "production")
_STORAGE_SCHEMES = ("memory", *REDIS_SCHEMES)


def check_upstream_url(url: str) -> str:
    """Return ``url`` without a trailing slash if it is https, or http on a loopback host; else raise."""
    return check_https_url(url, "CLAUDE_API_URL")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardSettings:
    """Settings of one guard. ``from_env`` reads the variables in the table of docs/configuration.md."""

    api_key_source: SecretSource | None = field(default=None, repr=False)
    """Where the upstream Claude key comes from; ``None`` for apps that never forward to Claude."""
    api_url: str = "https://api.anthropic.com"
    """Upstream base URL: https, or http on a loopback host."""
    timeout: float = 300.0
    """Seconds for one upstream call, until the last byte of a stream."""
    max_cost: Decimal = Decimal("1.0")
    """Default maximum USD for one request."""
    environment: Environment = "development"
    """development, staging or production; production refuses unsafe settings."""
    storage_url: str = "memory://"
    """``memory://`` for one process, ``redis://host:port/db`` to share state across replicas; also
    ``redis+cluster://``, ``redis+sentinel://``, ``rediss`` for TLS and ``valkey`` aliases
    (docs/storage.md)."""
    storage_prefix: str = "cg"
    """Namespace of every key in the store, so one Redis can serve several deployments."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Largest accepted request body."""
    body_timeout: float = 30.0
    """Seconds allowed for receiving the whole request body (408 past it)."""
    max_in_flight: int | None = None
    """Requests handled at once by this process; ``None`` for no cap."""
    max_in_flight_per_principal: int | None = None
    """Requests one principal may have in flight in this process; ``None`` for no cap."""
    error_format: ErrorFormat = "anthropic"
    """``anthropic`` (the envelope the SDK understands) or ``problem`` (RFC 9457)."""
    keys_file: str | None = None
    """With ``memory://`` storage, a JSON file holding client key records (hashes only) that the CLI writes
    and the server reads, so the embedded mode survives restarts."""
    key_max_age_days: float | None = 90.0
    """Client keys older than this are refused, whatever their expiry; ``None`` for no maximum age."""
    key_warn_days: float = 14.0
    """Days before a key's expiry when responses start carrying ``claude-guard-key-expires``."""
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    """Custom profiles, added to (or replacing) the built-in ``analysis``, ``generation`` and ``admin``."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of reverse proxies whose ``X-Forwarded-*`` / ``Forwarded`` headers are believed (client address,
    original scheme); headers from any other peer are ignored."""
    https_redirect: bool = False
    """In production, redirect plain-HTTP GET and HEAD to https instead of refusing them with 403."""
    rate_limit_on_store_error: Literal["closed", "open"] = "closed"
    """When the store cannot be reached: refuse with 503 (``closed``) or admit, counted and audited
    (``open``)."""
    audit_db: str | None = None
    """With ``memory://`` storage, the SQLite file of the audit log (``None``: ``CLAUDE_GUARD_AUDIT_DB`` or
    ``./claude_guard_audit.sqlite3``); with Redis the audit log is a Redis stream."""
    audit_retention_days: float | None = 90.0
    """Audit records older than this are purged; ``None`` keeps them."""
    count_tokens: bool = False
    """Estimate a request's input tokens with the upstream's ``count_tokens`` (one more call per request,
    exact) instead of the conservative bound from its size (free); the bound is used if the count fails."""
    validation: ValidationConfig | None = None
    """Prompt validation rules and limits for Messages routes; ``None`` for the defaults."""
    pii: Literal["auto", "on", "off"] = "auto"
    """PII redaction: ``on`` (the ``pii`` extra must be installed), ``off``, or ``auto`` (on when the extra is
    installed, with a warning at start-up when it is not)."""
    pii_config: PIIConfig | None = None
    """Entities, operators, thresholds and pool of the PII engine; ``None`` for the defaults."""
    unknown_content: UnknownContent = "scan"
    """What to do with content the request shape table does not know (a new block type or field): ``scan``
    it as text with every protection, ``refuse`` the request (400), or ``forward`` it unread."""
    pii_key: Secret | None = field(default=None, repr=False)
    """The HMAC key of PII placeholders; give every replica the same one so a conversation keeps its
    placeholders across replicas and restarts (``None``: a random key per process)."""
    validation_mode: ProtectionMode = "enforce"
    """Prompt validation: ``enforce``, ``shadow`` (refusals recorded as ``would_refuse``) or ``off``."""
    pii_mode: ProtectionMode = "enforce"
    """Refusals of PII redaction (``block`` operator, analysis or vault unavailable): ``enforce``, ``shadow``
    (recorded, the request goes on, blocked values still replaced) or ``off`` (no PII redaction at all)."""
    rate_limit_mode: ProtectionMode = "enforce"
    """Rate limits and concurrency caps of ``RateLimitMiddleware``: ``enforce``, ``shadow`` or ``off``."""
    budget_mode: ProtectionMode = "enforce"
    """Budgets and the per-request maximum cost: ``enforce``, ``shadow`` (spend still metered) or ``off``."""
    profile_mode: ProtectionMode = "enforce"
    """The model and tool allow-lists of profiles: ``enforce``, ``shadow`` or ``off``. Key authentication is
    never shadowed: a bad key is always a 401."""
    vault_key: Secret | None = field(default=None, repr=False)
    """AES-GCM keys of the PII vault, ``id:base64`` comma-separated, the current one first (see
    docs/operations.md); ``None`` keeps vault values in the clear."""
    audit_key: Secret | None = field(default=None, repr=False)
    """HMAC key chaining audit records (tamper evidence, ``claude-guard audit verify``); ``None``: none."""
    audit_jsonl: str | None = None
    """Audit records also as JSON lines: ``stdout``, ``stderr`` or a file path; ``None`` for none."""
    audit_otlp: Literal["auto", "on", "off"] = "auto"
    """Audit records also as OpenTelemetry log records: ``auto`` when an OTLP logs endpoint is configured."""
    prometheus_port: int | None = None
    """Serve the guard's metrics for Prometheus on this port (the ``prometheus`` extra); ``None``: no."""
    prometheus_host: str = "127.0.0.1"
    """Address of the Prometheus endpoint."""
    security_contact: str | None = None
    """Who to tell about a security incident (an address or URL), checked by ``claude-guard check``."""
    tool_policy_mode: Literal["enforce", "shadow", "off"] = "enforce"
    """The profiles' tool policies (the sandbox): ``enforce``, ``shadow`` (decide and audit
    ``would_refuse``, change nothing) or ``off``."""
    tool_policy_on_violation: Literal["replace", "error"] = "replace"
    """A refused tool call in an answer: replaced by a text block (``replace``) or the answer refused with
    a 403 ``permission_error`` (``error``; in a stream, an ``error`` event ends it)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", check_upstream_url(self.api_url))
        if self.environment not in ENVIRONMENTS:
            raise ConfigurationError(f"CLAUDE_GUARD_ENV must be one of {', '.join(ENVIRONMENTS)}.")
        if not self.timeout > 0:
            raise ConfigurationError("CLAUDE_TIMEOUT must be a positive number of seconds.")
        if self.max_cost < 0:
            raise ConfigurationError("CLAUDE_MAX_COST must not be negative.")
        if self.max_body_bytes <= 0 or self.body_timeout <= 0:
            raise ConfigurationError("The body size cap and body timeout must be positive.")
        for name in ("max_in_flight", "max_in_flight_per_principal"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be positive or None.")
        scheme = urlsplit(self.storage_url).scheme.lower()
        if scheme not in _STORAGE_SCHEMES:
            raise ConfigurationError(
                f"CLAUDE_GUARD_STORAGE_URL has an unknown scheme {scheme!r}; use memory://, redis://, "
                "rediss://, redis+cluster://, redis+sentinel:// (or valkey in place of redis)."
            )
        if scheme != "memory":
            try:
                parse_redis_url(self.storage_url)
            except ValueError as exc:  # the message has the password redacted
                raise ConfigurationError(f"CLAUDE_GUARD_STORAGE_URL: {exc}") from None
        if self.key_max_age_days is not None and self.key_max_age_days <= 0:
            raise ConfigurationError("CLAUDE_GUARD_KEY_MAX_AGE_DAYS must be positive.")
        try:
            TrustedProxies(self.trusted_proxies)
        except ConfigurationError:
            raise ConfigurationError("CLAUDE_GUARD_TRUSTED_PROXIES must list CIDRs.") from None
        if self.pii not in ("auto", "on", "off"):
            raise ConfigurationError("CLAUDE_GUARD_PII must be auto, on or off.")
        if self.rate_limit_on_store_error not in ("closed", "open"):
            raise ConfigurationError("rate_limit_on_store_error must be 'closed' or 'open'.")
        if self.unknown_content not in UNKNOWN_CONTENT_POLICIES:
            raise ConfigurationError("CLAUDE_GUARD_UNKNOWN_CONTENT must be scan, refuse or forward.")
        if self.tool_policy_mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("CLAUDE_GUARD_TOOL_POLICY_MODE must be enforce, shadow or off.")
        if self.tool_policy_on_violation not in ("replace", "error"):
            raise ConfigurationError("CLAUDE_GUARD_TOOL_POLICY_ON_VIOLATION must be replace or error.")
        if self.error_format not in ("anthropic", "problem"):
            raise ConfigurationError("error_format must be 'anthropic' or 'problem'.")
        for name, variable in _MODE_VARIABLES.items():
            if getattr(self, name) not in MODES:
                raise ConfigurationError(f"{variable} must be one of {', '.join(MODES)}.")
        if self.audit_otlp not in ("auto", "on", "off"):
            raise ConfigurationError("CLAUDE_GUARD_AUDIT_OTLP must be auto, on or off.")
        if self.prometheus_port is not None and not 0 < self.prometheus_port < 65536:
            raise ConfigurationError("CLAUDE_GUARD_PROMETHEUS_PORT must be a TCP port.")
        if self.vault_key is not None:
            from .pii._vault import VaultCipher

            VaultCipher.from_secret(self.vault_key)  # raises ConfigurationError naming the variable

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, require_api_key: bool = True
    ) -> GuardSettings:
        """Read settings from the environment; problems raise ``ConfigurationError`` naming the variable."""
        env = os.environ if environ is None else environ
        source: SecretSource | None = None
        if require_api_key or any(name in env for name in KEY_VARIABLES):
            source = source_from_env(env)
        profiles_file = env.get("CLAUDE_GUARD_PROFILES_FILE", "").strip()
        environment = env.get("CLAUDE_GUARD_ENV", "development").strip().lower() or "development"
        if environment not in ENVIRONMENTS:
            raise ConfigurationError(f"CLAUDE_GUARD_ENV must be one of {', '.join(ENVIRONMENTS)}.")
        return cls(
            api_key_source=source,
            api_url=env.get("CLAUDE_API_URL", "https://api.anthropic.com").strip(),
            timeout=_float(env, "CLAUDE_TIMEOUT", 300.0),
            max_cost=_decimal(env, "CLAUDE_MAX_COST", Decimal("1.0")),
            environment=environment,
            storage_url=env.get("CLAUDE_GUARD_STORAGE_URL", "memory://").strip() or "memory://",
            storage_prefix=env.get("CLAUDE_GUARD_STORAGE_PREFIX", "cg").strip() or "cg",
            max_body_bytes=_int(env, "CLAUDE_GUARD_MAX_BODY_BYTES", 10 * 1024 * 1024),
            body_timeout=_float(env, "CLAUDE_GUARD_BODY_TIMEOUT", 30.0),
            keys_file=env.get("CLAUDE_GUARD_KEYS_FILE") or None,
            key_max_age_days=_float(env, "CLAUDE_GUARD_KEY_MAX_AGE_DAYS", 90.0),
            profiles=load_profiles(profiles_file) if profiles_file else {},
            trusted_proxies=tuple(
                p.strip() for p in env.get("CLAUDE_GUARD_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            https_redirect=env.get("CLAUDE_GUARD_HTTPS_REDIRECT", "").strip().lower() in ("1", "true", "yes"),
            count_tokens=_choice(env, "CLAUDE_GUARD_COUNT_TOKENS", ("off", "on")) == "on",
            rate_limit_on_store_error=_choice(
                env, "CLAUDE_GUARD_RATE_LIMIT_ON_STORE_ERROR", ("closed", "open")
            ),
            audit_db=env.get("CLAUDE_GUARD_AUDIT_DB") or None,
            audit_retention_days=_float(env, "CLAUDE_GUARD_AUDIT_RETENTION_DAYS", 90.0) or None,
            pii=_choice(env, "CLAUDE_GUARD_PII", ("auto", "on", "off")),
            pii_config=_pii_config(env),
            validation=_validation_config(env),
            unknown_content=_choice(env, "CLAUDE_GUARD_UNKNOWN_CONTENT", UNKNOWN_CONTENT_POLICIES),
            pii_key=secret_from_env(env, "CLAUDE_GUARD_PII_KEY"),
            **{name: _choice(env, variable, MODES) for name, variable in _MODE_VARIABLES.items()},
            vault_key=secret_from_env(env, "CLAUDE_GUARD_VAULT_KEY"),
            audit_key=secret_from_env(env, "CLAUDE_GUARD_AUDIT_KEY"),
            audit_jsonl=env.get("CLAUDE_GUARD_AUDIT_JSONL", "").strip() or None,
            audit_otlp=_choice(env, "CLAUDE_GUARD_AUDIT_OTLP", ("auto", "on", "off")),
            prometheus_port=_int(env, "CLAUDE_GUARD_PROMETHEUS_PORT", 0) or None,
            prometheus_host=env.get("CLAUDE_GUARD_PROMETHEUS_HOST", "").strip() or "127.0.0.1",
            security_contact=env.get("CLAUDE_GUARD_SECURITY_CONTACT", "").strip() or None,
            tool_policy_mode=_choice(env, "CLAUDE_GUARD_TOOL_POLICY_MODE", ("enforce", "shadow", "off")),
            tool_policy_on_violation=_choice(
                env, "CLAUDE_GUARD_TOOL_POLICY_ON_VIOLATION", ("replace", "error")
            ),
        )


def _validation_config(env: Mapping[str, str]) -> ValidationConfig | None:
    # None (the defaults) unless CLAUDE_GUARD_VALIDATION_MODE is set: enforce, shadow or off.
    if not env.get("CLAUDE_GUARD_VALIDATION_MODE", "").strip():
        return None
    try:
        return ValidationConfig.from_env(env)
    except ValueError:
        raise ConfigurationError("CLAUDE_GUARD_VALIDATION_MODE must be enforce, shadow or off.") from None


def secret_from_env(env: Mapping[str, str], name: str) -> Secret | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (not both); ``None`` when neither."""
    direct = env.get(name, "").strip()
    path = env.get(f"{name}_FILE", "").strip()
    if direct and path:
        raise ConfigurationError(f"Both {name} and {name}_FILE are set; set one of them.")
    if path:
        from .secrets import FileSecretSource

        return FileSecretSource(path, variable=f"{name}_FILE")._read()
    return Secret(direct) if direct else None


def _pii_config(env: Mapping[str, str]) -> PIIConfig | None:
    # None (the defaults) unless one of the PII variables is set.
    names = ("CLAUDE_GUARD_PII_ENTITIES", "CLAUDE_GUARD_PII_OUTPUT_SCAN", "CLAUDE_GUARD_PII_EXECUTOR")
    if not any(env.get(name, "").strip() for name in names):
        return None
    raw = env.get("CLAUDE_GUARD_PII_ENTITIES", "")
    entities = tuple(e.strip().upper() for e in raw.split(",") if e.strip()) or None
    # Read before the try: a ConfigurationError is a ValueError too, and must keep its own message.
    output_scan = _choice(env, "CLAUDE_GUARD_PII_OUTPUT_SCAN", ("off", "report", "redact"))
    executor = _choice(env, "CLAUDE_GUARD_PII_EXECUTOR", ("process", "thread"))
    try:
        return PIIConfig(entities=entities, output_scan=output_scan, executor=executor)
    except ValueError:
        raise ConfigurationError(
            "CLAUDE_GUARD_PII_ENTITIES must list entity types (upper case, digits and _), comma-separated."
        ) from None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> Any:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}.")
    return raw


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number.") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer.") from None


def _decimal(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigurationError(f"{name} must be a decimal number of USD.") from None
    if not value.is_finite():
        raise ConfigurationError(f"{name} must be a finite number.")
    return value
