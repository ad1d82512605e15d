"""``ClaudeGuard``: one object that builds every protection from ``GuardSettings`` and installs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anthropic

from ._asgi import ASGIApp
from .audit import AuditLogger, AuditMiddleware, SQLiteAuditSink, TracingHook, traced_proxy
from .egress import GuardAnthropicMiddleware, UpstreamKeyHook
from .errors import ConfigurationError, GuardError
from .keys import APIKeyMiddleware, KeyAuthenticator, KeyStore
from .logscrub import RegisteringSecretSource, install_log_scrubbing
from .middleware import RequestLimitsMiddleware, SafeErrorMiddleware
from .ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware
from .responses import render_error
from .settings import GuardSettings
from .store import Store, StoreConfig, store_from_url
from .transport import HTTPSOnlyMiddleware
from .upstream import MessagesProxy, UpstreamClient

__all__ = ["ClaudeGuard"]


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
                raise ConfigurationError(
                    "No upstream Claude key: set CLAUDE_API_KEY, CLAUDE_API_KEY_FILE to a file holding it, "
                    "or CLAUDE_API_KEY_SOURCE to a secrets manager."
                )
            self._upstream = UpstreamClient(
                base_url=self.settings.api_url,
                # Every value handed out (rotations included) is known to the log scrubber.
                key_source=RegisteringSecretSource(self.settings.api_key_source),
                timeout=self.settings.timeout,
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
    def audit(self) -> AuditLogger:
        """The audit log: a Redis stream with Redis storage, else a SQLite file (``audit_db``)."""
        if self._audit is None:
            retention = self.settings.audit_retention_days
            if self.store.kind == "redis":
                self._audit = AuditLogger.for_storage(self.store, retention_days=retention)
            else:
                self._audit = AuditLogger([SQLiteAuditSink(self.settings.audit_db)], retention_days=retention)
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

    def messages_proxy(self) -> ASGIApp:
        """An ASGI endpoint forwarding Messages API calls upstream (mount it on ``/v1/messages``), each
        call in a CLIENT span ``chat {model}``."""
        return traced_proxy(MessagesProxy(self.upstream, error_format=self.settings.error_format))

    def middleware(self) -> list[tuple[type[Any], dict[str, Any]]]:
        """Every protection as ``(class, options)``, innermost first (the order ``add_middleware`` wants).

        Outermost first, a request meets: the audit record (it sees the final status of everything inside),
        the safe-error boundary, HTTPS enforcement (production only), authentication (before any body is
        read), rate limits and concurrency leases (before any body is read, so a flood costs little), and
        request limits (body cap and timeouts, in-flight caps per principal).
        """
        s = self.settings
        fmt = {"error_format": s.error_format}
        return [
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
                    **fmt,
                },
            ),
            (APIKeyMiddleware, {"authenticator": self.authenticator, **fmt}),
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
            # The guard's lifespan (or the Litestar plugin) closes the audit log, so the lifespan passes untouched.
            (AuditMiddleware, {"logger": self.audit, "flush_on_shutdown": False}),
        ]

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` wrapped in every protection (for a plain ASGI app)."""
        for cls, options in self.middleware():
            app = cls(app, **options)
        return app

    def install(self, app: Any) -> Any:
        """Install every protection on a Starlette or FastAPI app (or wrap a plain ASGI app and return it).

        The middlewares go in through ``add_middleware``, so they sit inside the framework's own error
        boundary and outside its routing; a ``GuardError`` raised by a route dependency is rendered in the
        configured format; route dependencies find this guard in ``app.state.claude_guard``.
        """
        add = getattr(app, "add_middleware", None)
        if add is None:
            return self.wrap(app)
        for cls, options in self.middleware():
            add(cls, **options)
        state = getattr(app, "state", None)
        if state is not None:
            state.claude_guard = self
        add_handler = getattr(app, "add_exception_handler", None)
        if add_handler is not None:
            add_handler(GuardError, self._starlette_error_handler)
        return app

    async def _starlette_error_handler(self, request: Any, exc: Exception) -> Any:
        from starlette.responses import Response

        from ._asgi import context_for

        assert isinstance(exc, GuardError)
        ctx = context_for(request.scope)
        rendered = render_error(exc, request_id=ctx.request_id, format=self.settings.error_format)
        return Response(rendered.body, status_code=rendered.status, headers=rendered.headers)

    def anthropic_middleware(self) -> GuardAnthropicMiddleware:
        """The egress hook: ``AsyncAnthropic(middleware=[guard.anthropic_middleware()])``."""
        return GuardAnthropicMiddleware()

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
                GuardAnthropicMiddleware([TracingHook(), UpstreamKeyHook(self.upstream)]),
                *kwargs.pop("middleware", []),
            ],
            **kwargs,
        )
        self._clients.append(client)
        return client

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start and stop the guard with the app (``FastAPI(lifespan=guard.lifespan)``): log scrubbing is
        installed once the server has configured logging, and connections are closed at the end."""
        install_log_scrubbing()
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
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
