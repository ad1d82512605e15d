"""The behaviour every provider source shares: cache, refresh with jitter, single flight, rotation safety.

``CachedSecretSource`` is the base of every source in this package. A subclass implements ``_fetch`` (one read
from its provider, returning a ``Secret`` or raising ``SecretSourceError``) and ``describe`` (where it reads
from, never a value); the base does the rest:

- **Cache.** ``get()`` serves the cached value until its refresh time, then reads again. Each refresh time is
  ``ttl`` seconds shortened at random by up to ``jitter`` of it, so replicas started together do not all ask
  the provider in the same second.
- **Single flight.** Concurrent ``get()`` calls share one read; a cancelled caller never cancels the read the
  others wait for.
- **Outage.** A failed refresh keeps the last good value (logged as a warning naming the source, never the
  value) and retries after ``retry_after_error`` seconds (at most ``ttl``). A refresh slower than
  ``stale_grace`` seconds does not hold requests: they get the current value while it goes on.
- **Upstream feedback.** ``reject(secret)`` after an upstream 401 makes the next ``get()`` read again.
  ``confirm(secret)`` after an accepted call marks a value good.
- **Old key kept until the new one is confirmed.** When a refresh brings a value different from a confirmed
  one, the confirmed one is kept beside it. If the upstream refuses the new value before it was ever accepted
  (a rotation whose new key is not active yet), the source goes back to the old one and reads the provider
  again after ``retry_after_error`` seconds. Once the new value is confirmed, the old one is dropped.
- **Scrubbing.** Every value read is registered with ``logscrub`` before anyone gets it.
- **Tracing.** Each read from the provider is an OpenTelemetry span (kind, name, outcome; never a value).

``SDK_LOGGERS_QUIETED`` lists the SDK loggers that log request headers or response bodies at DEBUG (botocore's
parser logs the whole ``GetSecretValue`` answer, its signer the session token). Records below WARNING on those
loggers are dropped once a source of that SDK is built: a value is read before it can be registered with the
scrubber, so scrubbing alone would come too late.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx

from ..errors import ConfigurationError, SecretSourceError
from ..logscrub import register
from ..secrets import Secret

__all__ = ["CachedSecretSource", "SourceStatus"]

logger = logging.getLogger("claude_guard.secrets")

DEFAULT_RETRY_AFTER_ERROR = 10.0
DEFAULT_STALE_GRACE = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceStatus:
    """What a key source is and, once probed, whether it answers: for ``claude-guard check`` and health pages.

    Never carries a value or a credential.

    Example:
        >>> status = SourceStatus(kind="vault", name="vault:secret/claude", details=(("auth", "kubernetes"),))
        >>> status.state, status.ok
        ('configured', False)
    """

    kind: str
    """The source's kind: ``env``, ``file``, ``aws-secretsmanager``, ``azure-keyvault``,
    ``gcp-secretmanager``, ``vault``, or the class name of a source from elsewhere."""
    name: str
    """The source's name, as errors and logs show it (e.g. ``aws-secretsmanager:prod/claude``)."""
    state: Literal["configured", "ok", "failed"] = "configured"
    """``configured``: described without asking the provider; ``ok``: a probe read a value; ``failed``: a
    probe could not."""
    detail: str = ""
    """For ``failed``, why (the provider's error, named as in logs); else empty."""
    details: tuple[tuple[str, str], ...] = field(default=())
    """Where the source reads from and how it authenticates: ``(("region", "eu-west-1"), ...)``."""

    @property
    def ok(self) -> bool:
        """Whether a probe read a value."""
        return self.state == "ok"


class CachedSecretSource:
    """Base of the provider sources: see the module docstring for the behaviour.

    Args:
        ttl: Seconds a value is served before the provider is read again (0: every ``get`` reads, concurrent
            ones sharing the read).
        jitter: Each refresh time is ``ttl`` shortened at random by up to this fraction of it (0 to 1).
        retry_after_error: Seconds before a failed refresh, or a refused new value, is retried.
        stale_grace: Seconds a request waits for a due refresh before it is served the current value (one
            not refused) while the refresh goes on; ``None`` waits as long as the read takes. A request
            with no value to fall back on (the first read, after a 401) always waits.
        clock: Monotonic seconds, for tests.
        rng: Uniform numbers in [0, 1), for tests.
    """

    kind: ClassVar[str] = "provider"
    name: str
    quiet_loggers: ClassVar[tuple[str, ...]] = ()
    tracer_provider: Any = None
    """An OpenTelemetry ``TracerProvider`` for the refresh spans; ``None``: the global one (no-op without the
    SDK). Each read from the provider is a span ``claude_guard.secret_source.refresh`` with the source's kind
    and name and an outcome (``read``, ``kept_last_value``, ``failed``), never a value."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        stale_grace: float | None = DEFAULT_STALE_GRACE,
    ) -> None:
        if not ttl >= 0:
            raise ConfigurationError(f"{type(self).__name__}: ttl must not be negative.")
        if not 0 <= jitter <= 1:
            raise ConfigurationError(f"{type(self).__name__}: jitter must be between 0 and 1.")
        self.ttl = float(ttl)
        self.jitter = float(jitter)
        self.retry_after_error = float(retry_after_error)
        self.stale_grace = stale_grace
        self._clock = clock
        self._rng = rng
        self._secret: Secret | None = None
        self._confirmed = False
        # The last confirmed value, kept while a newer one is not confirmed yet.
        self._previous: Secret | None = None
        self._valid_until = float("-inf")
        # Bumped by invalidate(); a value read under an older generation is never served as fresh again.
        self._generation = 0
        self._secret_generation = -1
        self._inflight: asyncio.Task[Secret] | None = None
        self._inflight_generation = -1
        _quiet(self.quiet_loggers)

    # --- the SecretSource protocol, and feedback from the upstream ---------------------------------------

    async def get(self) -> Secret:
        """The current value: from the cache while it is fresh, else read from the provider."""
        if self._secret is not None and self._clock() < self._valid_until:
            return self._secret
        loop = asyncio.get_running_loop()
        task = self._inflight
        if (
            task is None
            or task.done()
            or task.get_loop() is not loop
            or self._inflight_generation != self._generation
        ):
            task = loop.create_task(self._refresh(self._generation))
            # Retrieve the outcome even when every waiter was cancelled, so nothing is reported as lost.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._inflight = task
            self._inflight_generation = self._generation
        stale = self._secret if self._secret_generation == self._generation else None
        if stale is None or self.stale_grace is None:
            return await asyncio.shield(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.stale_grace)
        except TimeoutError:
            # A slow provider (an SDK retrying through an outage) must not hold every request: the value not
            # refused yet is served while the read goes on.
            return stale

    def invalidate(self) -> None:
        """Forget the cached value: the next ``get`` reads the provider again."""
        self._generation += 1
        self._valid_until = float("-inf")

    def reject(self, secret: Secret) -> None:
        """The upstream refused ``secret`` (a 401): go back to the old value if ``secret`` is a new one never
        accepted, else read the provider again at the next ``get``."""
        if secret != self._secret:
            if secret == self._previous:
                self._previous = None
            return
        if not self._confirmed and self._previous is not None:
            logger.warning(
                "claude_guard: the upstream refused the new value from %s before ever accepting it; "
                "going back to the previous value and reading again in %.0f s",
                self.name,
                min(self.ttl, self.retry_after_error),
            )
            self._secret, self._confirmed, self._previous = self._previous, True, None
            self._secret_generation = self._generation
            self._valid_until = self._clock() + min(self.ttl, self.retry_after_error)
            return
        self._confirmed = False
        self.invalidate()

    def confirm(self, secret: Secret) -> None:
        """The upstream accepted ``secret``: it is the good value now, and an older one is dropped."""
        if self._confirmed or secret != self._secret:
            return
        self._confirmed = True
        self._previous = None

    # --- what check commands ask ---------------------------------------------------------------------------

    def describe(self) -> SourceStatus:
        """What this source is and where it reads from; no network, no value."""
        return SourceStatus(kind=self.kind, name=self.name, details=tuple(self._details()))

    async def probe(self) -> SourceStatus:
        """Read the provider once, bypassing (and not changing) the cache; say whether it answered."""
        described = self.describe()
        try:
            register(await self._fetch_checked())
        except SecretSourceError as exc:
            return SourceStatus(
                kind=described.kind, name=described.name, state="failed", detail=str(exc),
                details=described.details,
            )  # fmt: skip
        return SourceStatus(kind=described.kind, name=described.name, state="ok", details=described.details)

    async def aclose(self) -> None:
        """Release the provider's client, if the source holds one."""

    # --- for subclasses -----------------------------------------------------------------------------------

    async def _fetch(self) -> Secret:
        raise NotImplementedError

    def _details(self) -> Iterable[tuple[str, str]]:
        return ()

    def _expire(self) -> None:
        """Read again at the next ``get`` (the value changed, it was not refused: it stays the fallback)."""
        self._valid_until = float("-inf")

    def _prime(self, secret: Secret) -> None:
        """Start with ``secret`` as the cached value (read at construction)."""
        register(secret)
        self._secret, self._confirmed = secret, False
        self._secret_generation = self._generation
        self._valid_until = self._next_refresh(self.ttl)

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"{self.name}: {why}")

    # --- internals ----------------------------------------------------------------------------------------

    def _next_refresh(self, seconds: float) -> float:
        return self._clock() + seconds * (1.0 - self.jitter * self._rng())

    async def _refresh(self, generation: int) -> Secret:
        tracer = _tracer(self.tracer_provider)
        if tracer is None:
            return await self._refresh_traced(generation, None)
        attributes = {
            "claude_guard.secret_source.kind": self.kind,
            "claude_guard.secret_source.name": self.name,
        }
        # Exceptions are recorded by hand: only a SecretSourceError's text is known to be safe to export.
        with tracer.start_as_current_span(
            "claude_guard.secret_source.refresh",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            return await self._refresh_traced(generation, span)

    async def _fetch_checked(self) -> Secret:
        return check_value(await self._fetch(), self._fail)

    async def _refresh_traced(self, generation: int, span: Any) -> Secret:
        try:
            secret = await self._fetch_checked()
        except SecretSourceError as exc:
            if span is not None:
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, str(exc)))
            if self._secret is not None and self._secret_generation == self._generation:
                logger.warning("claude_guard: %s; keeping the last value read", exc)
                self._valid_until = self._clock() + min(self.ttl, self.retry_after_error)
                if span is not None:
                    span.set_attribute(_OUTCOME, "kept_last_value")
                return self._secret
            if span is not None:
                span.set_attribute(_OUTCOME, "failed")
            raise
        except BaseException as exc:
            if span is not None:
                from opentelemetry.trace import Status, StatusCode

                span.set_attribute(_OUTCOME, "failed")
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        if span is not None:
            span.set_attribute(_OUTCOME, "read")
        # Values read are masked in every log record from now on.
        register(secret)
        if generation != self._generation:
            return secret
        if secret != self._secret:
            if self._secret is not None and self._confirmed:
                self._previous = self._secret
            self._secret, self._confirmed = secret, False
        self._secret_generation = generation
        self._valid_until = self._next_refresh(self.ttl)
        return secret


def check_value(secret: Secret, fail: Callable[[str], SecretSourceError]) -> Secret:
    """``secret`` if it can go into an HTTP header; else ``fail``'s error (which never shows the value).

    A line break (a second line in a file, a pasted newline) or another control character would fail every
    request later, or worse, split the header.
    """
    value = secret.get_secret_value()
    if not value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise fail("the value is empty or holds a line break or another control character")
    return secret


async def send_request(
    client: httpx.AsyncClient | None, request: httpx.Request, *, verify: str | bool = True
) -> httpx.Response:
    """Send one request on ``client``, or on a client opened for it (reads are rare)."""
    if client is not None:
        return await client.send(request)
    async with httpx.AsyncClient(follow_redirects=False, verify=verify) as own:
        return await own.send(request)


_OUTCOME = "claude_guard.secret_source.outcome"


def _tracer(provider: Any) -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_tracer("claude_guard", tracer_provider=provider)


class _BelowWarning(logging.Filter):
    """Drops records below WARNING: on loggers that log request headers or response bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_BELOW_WARNING = _BelowWarning()


def _quiet(names: Iterable[str]) -> None:
    for name in names:
        target = logging.getLogger(name)
        if _BELOW_WARNING not in target.filters:
            target.addFilter(_BELOW_WARNING)
