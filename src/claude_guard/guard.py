"""``ClaudeGuard``: one object that builds every protection from ``GuardSettings`` and installs them."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anthropic

from ._asgi import ASGIApp
from ._hooks import EgressHook
from .audit import (
    AuditLogger,
    AuditMiddleware,
    AuditSink,
    JSONLinesAuditSink,
    OTelLogSink,
    SQLiteAuditSink,
    TracingHook,
    otlp_endpoint,
    traced_proxy,
)
from .audit._chain import AuditChain
from .context import current_context
from .egress import GuardAnthropicMiddleware, ProfileHook, UpstreamKeyHook
from .errors import ConfigurationError
from .gateway import MessagesProxy
from .keys import APIKeyMiddleware, ProfileMiddleware
from .keys._authenticator import KeyAuthenticator
from .keys._store import KeyStore
from .ledger import CostMeter, CostMeterMiddleware, Ledger, MeteringHook
from .logscrub import RegisteringSecretSource, install_log_scrubbing
from .middleware import RequestLimitsMiddleware, SafeErrorMiddleware
from .pii import PIIConfig, PIIEgressHook, PIIRedactionMiddleware, Redactor
from .pii._shared import acquire_engine, is_held, release_engine
from .pii._vault import VaultCipher
from .pricing import PriceTable
from .ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware
from .sandbox import ToolPolicyEgressHook, ToolPolicyMiddleware
from .secret_providers import NO_KEY_MESSAGE, CachedSecretSource, ensure_source_answers
from .settings import GuardSettings, ProtectionMode
from .store import Store, StoreConfig, store_from_url
from .transport import HTTPSOnlyMiddleware
from .upstream import UpstreamClient
from .validation import PromptValidationMiddleware, ValidationConfig

__all__ = ["ClaudeGuard"]

logger = logging.getLogger("claude_guard")


def _with_validation_mode(config: ValidationConfig | None, mode: ProtectionMode) -> ValidationConfig | None:
    """The validation config with ``CLAUDE_GUARD_VALIDATION_MODE`` applied (the validator's own ``mode``);
    ``off`` never gets here: the guard then installs no validation middleware."""
    if mode == "enforce":
        return config
    return dataclasses.replace(config or ValidationConfig(), mode=mode)


def audit_export_sinks(settings: GuardSettings) -> list[AuditSink]:
    """The export sinks the settings ask for: JSON lines on a stream or file, OpenTelemetry log records."""
    import sys

    sinks: list[AuditSink] = []
    target = settings.audit_jsonl
    if target is not None:
        stream = {"stdout": sys.stdout, "stderr": sys.stderr, "-": sys.stdout}.get(target.lower())
        sinks.append(JSONLinesAuditSink(stream if stream is not None else target))
    if settings.audit_otlp == "on" or (settings.audit_otlp == "auto" and otlp_endpoint("LOGS")):
        sinks.append(OTelLogSink())
    return sinks


def pii_extra_installed() -> bool:
    return importlib.util.find_spec("presidio_analyzer") is not None and (
        importlib.util.find_spec("spacy") is not None
    )


class ClaudeGuard:
    """Every protection of claude_guard, configured once.

    Example:
        >>> guard = ClaudeGuard(settings=GuardSettings())
        >>> guard.settings.storage_url
        'memory://'
    """

    def __init__(
        self,
        *,
        settings: GuardSettings | None = None,
        store: Store | None = None,
        upstream: UpstreamClient | None = None,
    ) -> None:
        """``store`` and ``upstream`` replace the ones built from ``settings`` (tests, benchmarks, custom
        HTTP clients)."""
        self.settings = settings or GuardSettings()
        self._store = store
        self._upstream = upstream
        self._clients: list[anthropic.AsyncAnthropic] = []
        self._keys: KeyStore | None = None
        self._rate_limiter: RateLimiter | None = None
        self._audit: AuditLogger | None = None
        self._authenticator: KeyAuthenticator | None = None
        self._redactor: Redactor | None = None
        self._prices: PriceTable | None = None
        self._ledger: Ledger | None = None
        self._cost_meter: CostMeter | None = None
        self._pii_checked = False
        self._engine_held = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClaudeGuard:
        """A guard configured from the environment (see docs/configuration.md)."""
        return cls(settings=GuardSettings.from_env(environ))

    def __repr__(self) -> str:
        return f"ClaudeGuard(environment={self.settings.environment!r}, storage={self.store!r})"

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = store_from_url(
                self.settings.storage_url, config=StoreConfig(prefix=self.settings.storage_prefix)
            )
        return self._store

    @property
    def upstream(self) -> UpstreamClient:
        if self._upstream is None:
            if self.settings.api_key_source is None:
                raise ConfigurationError(NO_KEY_MESSAGE)
            source = self.settings.api_key_source
            cached = isinstance(source, CachedSecretSource)
            self._upstream = UpstreamClient(
                base_url=self.settings.api_url,
                # Every value handed out (rotations included) is known to the log scrubber; provider sources
                # register what they read themselves, and are given as is so they hear of 401s and successes.
                key_source=source if cached else RegisteringSecretSource(source),
                timeout=self.settings.timeout,
                # A provider source has its own cache and refresh interval (with jitter): ask it every time.
                key_refresh=0 if cached else 300.0,
            )
        return self._upstream

    @property
    def keys(self) -> KeyStore:
        """The client keys, in the configured store."""
        if self._keys is None:
            keys_file = self.settings.keys_file if self.store.kind == "memory" else None
            self._keys = KeyStore(self.store, keys_file=keys_file)
        return self._keys

    @property
    def rate_limiter(self) -> RateLimiter:
        """The one rate-limit engine shared by the middleware and the ``rate_limit(...)`` dependencies."""
        if self._rate_limiter is None:
            self._rate_limiter = RateLimiter(self.store)
        return self._rate_limiter

    @property
    def prices(self) -> PriceTable:
        """The price table: the packaged one with ``CLAUDE_GUARD_PRICES_FILE`` over it."""
        if self._prices is None:
            self._prices = PriceTable.load()
        return self._prices

    @property
    def ledger(self) -> Ledger:
        """Token and dollar budgets: reservations and settlements in the store."""
        if self._ledger is None:
            self._ledger = Ledger(self.store)
        return self._ledger

    @property
    def cost_meter(self) -> CostMeter:
        """Prices, the per-request maximum cost and the ledger, shared by the middleware, ``max_cost(...)``
        and the egress hook."""
        if self._cost_meter is None:
            count = self._count_redacted if self.settings.count_tokens else None
            self._cost_meter = CostMeter(
                ledger=self.ledger,
                prices=self.prices,
                max_cost=self.settings.max_cost,
                count_tokens=count,
                mode=self.settings.budget_mode,
            )
        return self._cost_meter

    async def _count_redacted(self, body: Mapping[str, Any]) -> int | None:
        # The meter runs before PII redaction, so the body it would count still holds the caller's values:
        # with PII on, what goes to count_tokens is redacted first (not recorded on the request: the PII
        # step records its own analysis of the body it forwards).
        redactor = self.pii_redactor
        if redactor is not None:
            ctx = current_context()
            principal = ctx.principal.key_id if ctx is not None and ctx.principal is not None else "anonymous"
            body = (await redactor.redact(body, principal=principal)).body
        return await self.upstream.count_tokens(body)

    @property
    def audit(self) -> AuditLogger:
        """The audit log: a Redis stream with Redis storage, else a SQLite file (``audit_db``)."""
        if self._audit is None:
            s = self.settings
            retention = s.audit_retention_days
            chain = AuditChain(s.audit_key.get_secret_value().encode()) if s.audit_key is not None else None
            extra = audit_export_sinks(s)
            if self.store.kind == "redis":
                self._audit = AuditLogger.for_storage(
                    self.store, extra_sinks=extra, retention_days=retention, chain=chain
                )
            else:
                self._audit = AuditLogger(
                    [SQLiteAuditSink(s.audit_db), *extra], retention_days=retention, chain=chain
                )
        return self._audit

    @property
    def authenticator(self) -> KeyAuthenticator:
        if self._authenticator is None:
            s = self.settings
            self._authenticator = KeyAuthenticator(
                self.keys,
                environment=s.environment,
                profiles=s.profiles,
                max_age=s.key_max_age_days * 86400 if s.key_max_age_days is not None else None,
                warn_before=s.key_warn_days * 86400,
            )
        return self._authenticator

    @property
    def pii_redactor(self) -> Redactor | None:
        """The PII redactor shared by the middleware, the dependency and the egress hook; ``None`` when PII
        redaction is off (or ``auto`` without the ``pii`` extra)."""
        if not self._pii_checked:
            self._pii_checked = True
            mode = "off" if self.settings.pii_mode == "off" else self.settings.pii
            if mode != "off":
                if not pii_extra_installed():
                    if mode == "on":
                        raise ConfigurationError(
                            "CLAUDE_GUARD_PII=on needs the pii extra: pip install 'claude-guard[pii]'"
                        )
                    logger.warning(
                        "claude_guard: PII redaction is off: the pii extra is not installed "
                        "(pip install 'claude-guard[pii]', or set CLAUDE_GUARD_PII=off to silence this)"
                    )
                else:
                    key = self.settings.pii_key
                    vault_key = self.settings.vault_key
                    self._engine_held = True
                    self._redactor = Redactor(
                        engine=acquire_engine(self.settings.pii_config or PIIConfig()),
                        store=self.store,
                        hmac_key=key.get_secret_value() if key is not None else None,
                        cipher=VaultCipher.from_secret(vault_key) if vault_key is not None else None,
                        unknown_content=self.settings.unknown_content,
                    )
        return self._redactor

    def messages_proxy(self) -> ASGIApp:
        """An ASGI endpoint forwarding Messages API calls upstream (mount it on ``/v1/messages``), each
        call in a CLIENT span ``chat {model}``."""
        return traced_proxy(
            MessagesProxy(
                self.upstream,
                error_format=self.settings.error_format,
                unknown_content=self.settings.unknown_content,
            )
        )

    def middleware(self) -> list[tuple[type[Any], dict[str, Any]]]:
        """Every protection as ``(class, options)``, innermost first (the order ``add_middleware`` wants).

        Outermost first, a request meets: the audit record (it sees the final status of everything inside),
        the safe-error boundary, HTTPS enforcement (production only), authentication (before any body is
        read), rate limits and concurrency leases (before any body is read, so a flood costs little), and
        request limits (body cap and timeouts, in-flight caps per principal), the profile's least-privilege
        bounds (server tools, MCP servers, betas, max_tokens, thinking, speed, service tier: 403 before
        anything is reserved), prompt validation (schema, limits, the profile's model and tool allow-lists,
        injection rules, on the original text), the tool policies (a replayed forged tool call is refused;
        the model's tool calls are checked on the way back, after PII is restored, so the policy judges what
        the app will run), the cost meter (maximum cost per request, budget reservation, settlement from the
        upstream's usage), and PII redaction (the costliest step, so floods and refused requests never reach
        it; the response is restored on its way out, after the meter has read the usage).
        """
        s = self.settings
        fmt = {"error_format": s.error_format}
        inner: list[tuple[type[Any], dict[str, Any]]] = []
        if self.pii_redactor is not None:
            pii_mode = "shadow" if s.pii_mode == "shadow" else "enforce"
            inner.append((PIIRedactionMiddleware, {"redactor": self.pii_redactor, "mode": pii_mode, **fmt}))
        inner.append((CostMeterMiddleware, {"meter": self.cost_meter, **fmt}))
        if s.tool_policy_mode != "off":
            inner.append(
                (
                    ToolPolicyMiddleware,
                    {"mode": s.tool_policy_mode, "on_violation": s.tool_policy_on_violation, **fmt},
                )
            )
        if s.validation_mode != "off":
            validation = _with_validation_mode(
                dataclasses.replace(s.validation or ValidationConfig(), unknown_content=s.unknown_content),
                s.validation_mode,
            )
            inner.append((PromptValidationMiddleware, {"config": validation, **fmt}))
        inner.append((ProfileMiddleware, {"mode": s.profile_mode, **fmt}))
        return [
            *inner,
            (
                RequestLimitsMiddleware,
                {
                    "max_body_bytes": s.max_body_bytes,
                    "body_timeout": s.body_timeout,
                    "timeout": s.timeout,
                    "max_in_flight": s.max_in_flight,
                    "max_in_flight_per_principal": s.max_in_flight_per_principal,
                    **fmt,
                },
            ),
            (
                RateLimitMiddleware,
                {
                    "limiter": self.rate_limiter,
                    "config": RateLimitConfig(
                        trusted_proxies=s.trusted_proxies, on_store_error=s.rate_limit_on_store_error
                    ),
                    "mode": s.rate_limit_mode,
                    **fmt,
                },
            ),
            (APIKeyMiddleware, {"authenticator": self.authenticator, "profile_mode": s.profile_mode, **fmt}),
            (
                HTTPSOnlyMiddleware,
                {
                    "environment": s.environment,
                    "trusted_proxies": s.trusted_proxies,
                    "redirect": s.https_redirect,
                    **fmt,
                },
            ),
            (SafeErrorMiddleware, fmt),
            # The guard's lifespan (or the Litestar plugin) closes the audit log; the lifespan passes as is.
            (AuditMiddleware, {"logger": self.audit, "flush_on_shutdown": False}),
        ]

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` wrapped in every protection (for a plain ASGI app)."""
        for cls, options in self.middleware():
            app = cls(app, **options)
        return app

    def install(self, app: Any) -> Any:
        """Install every protection on a Starlette or FastAPI app (or wrap a plain ASGI app and return it).

        The framework's part lives in its face, ``claude_guard.fastapi.install``: the middlewares go in
        through ``add_middleware``, so they sit inside the framework's own error boundary and outside its
        routing; a ``GuardError`` raised by a route dependency is rendered in the configured format; route
        dependencies find this guard in ``app.state.claude_guard``. A Litestar app takes
        ``claude_guard.litestar.ClaudeGuardPlugin(guard)`` instead.
        """
        if getattr(app, "add_middleware", None) is None:
            return self.wrap(app)
        from .fastapi import install

        return install(self, app)

    def anthropic_middleware(self) -> GuardAnthropicMiddleware:
        """The egress hook for a client you build yourself: ``AsyncAnthropic(middleware=[...])``.

        It meters, traces, redacts and sets the upstream key like ``anthropic_client()``'s does.
        """
        return GuardAnthropicMiddleware(self._egress_hooks())

    def anthropic_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        """An ``anthropic.AsyncAnthropic`` for app routes, closed with the guard.

        It calls ``CLAUDE_API_URL`` through the egress hook, which sets the upstream key on every attempt from
        its source (so the key never sits in the client and a rotated key is used at once), and it does not
        retry by default: the caller decides, so one request never spends quota twice.
        """
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", self.settings.timeout)
        client = anthropic.AsyncAnthropic(
            api_key="set-per-request-by-claude-guard",
            base_url=self.settings.api_url,
            middleware=[
                GuardAnthropicMiddleware(self._egress_hooks()),
                *kwargs.pop("middleware", []),
            ],
            **kwargs,
        )
        self._clients.append(client)
        return client

    def _egress_hooks(self) -> list[EgressHook]:
        # ``before`` runs in this order and ``after`` in reverse: the span opens first and closes last; PII
        # is redacted before the call and restored after the cost meter has read the usage.
        # The profile check comes first (a forbidden call reserves nothing), then the meter: a call over
        # budget is refused before anything else happens.
        hooks: list[EgressHook] = [ProfileHook(), MeteringHook(self.cost_meter), TracingHook()]
        if self.settings.api_key_source is not None or self._upstream is not None:
            # Without a configured upstream key, a client built by the app keeps its own key.
            hooks.append(UpstreamKeyHook(self.upstream))
        if self.settings.tool_policy_mode != "off":
            # Before PII in the list, so its ``after`` runs once the reply is restored.
            hooks.append(
                ToolPolicyEgressHook(
                    mode=self.settings.tool_policy_mode, on_violation=self.settings.tool_policy_on_violation
                )
            )
        if self.pii_redactor is not None:
            hooks.append(PIIEgressHook(self.pii_redactor, shadow=self.settings.pii_mode == "shadow"))
        return hooks

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start and stop the guard with the app (``FastAPI(lifespan=guard.lifespan)``): log scrubbing is
        installed once the server has configured logging, the PII workers are started and warmed, and
        connections and workers are closed at the end."""
        install_log_scrubbing()
        if self.settings.api_key_source is not None:
            # A gateway that cannot read its upstream key must not start (the error names the source).
            await ensure_source_answers(self.upstream.key_source)
        await self.astart()
        try:
            yield
        finally:
            await self.aclose()

    async def astart(self) -> None:
        """Start what the guard runs beside the app: the PII engine's worker pool, built and warmed off the
        event loop (the lifespan startup calls it; without it the first analysis starts the pool). Only what
        the app uses: a guard whose redactor nothing asked for starts no worker."""
        redactor = self._redactor
        if redactor is None:
            return
        if not self._engine_held:
            # Started again after aclose (a second lifespan on the same app): hold the engine again.
            acquire_engine(redactor.engine.config)
            self._engine_held = True
        await redactor.engine.astart()

    async def _release_pii(self) -> None:
        redactor = self._redactor
        if redactor is None:
            return
        if self._engine_held:
            self._engine_held = False
            last = release_engine(redactor.engine)
        else:
            # Closed again, or used after a close without a new lifespan: stopped if nobody holds it.
            last = not is_held(redactor.engine)
        if last:
            # The last guard using this engine: its workers stop now, not at interpreter exit.
            await asyncio.to_thread(redactor.engine.close)

    async def aclose(self) -> None:
        """Close the guard's clients, audit log, upstream and store, and stop the PII worker pool when no
        other guard of the process uses it."""
        await self._release_pii()
        for client in self._clients:
            await client.close()
        self._clients.clear()
        if self._audit is not None:
            # Before the store: the Redis sink shares its client, and every queued record must land.
            await self._audit.aclose()
            self._audit = None
        if self._upstream is not None:
            await self._upstream.aclose()
            self._upstream = None
        if self._store is not None:
            await self._store.aclose()
            self._store = None
