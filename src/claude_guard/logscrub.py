"""Log scrubbing: no secret value and no key-shaped string leaves through ``logging``.

``SecretScrubFilter`` rewrites each record before any handler formats it: the message is formatted with its
arguments and scrubbed (``args`` becomes ``None``), an exception is formatted into ``exc_text`` and scrubbed
(``exc_info`` is cleared so no later handler formats the raw exception again), and so are ``stack_info`` and
string attributes given through ``extra=``. Scrubbing replaces every registered ``Secret`` value and every
key-shaped string: each format of the credential table that PII redaction uses too
(``claude_guard._credentials.CREDENTIALS``: provider keys and tokens, private key blocks, JWTs, bearer
tokens, passwords in URLs; see ``secrets.scrub``).

``install_log_scrubbing`` puts one filter on the named loggers AND on each of their handlers. Both, because
``logging`` applies a logger's filters only to records logged on that very logger, never to records that
propagate up from a child logger (``uvicorn.error`` → root, ``claude_guard.x`` → ``claude_guard``); a
handler's filters apply to every record the handler emits, wherever it was logged. The logger filters cover
records logged on those loggers even when they reach a handler added later (or ``logging.lastResort``).
Records are rewritten in place, so the first filter that sees a record cleans it for every handler after it.

Example:
    >>> import io, logging
    >>> stream = io.StringIO()
    >>> log = logging.getLogger("claude_guard.doctest")
    >>> log.addHandler(logging.StreamHandler(stream)); log.propagate = False
    >>> scrubber = install_log_scrubbing(known=[Secret("hunter2-fake-canary")], loggers=[log])
    >>> log.warning("upstream key %s, password %s", "sk-ant-api03-FAKEFAKEFAKE", "hunter2-fake-canary")
    >>> stream.getvalue()
    'upstream key **********, password **********\\n'
    >>> uninstall_log_scrubbing()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from .secrets import _MASK, Secret, SecretSource, scrub

__all__ = [
    "RegisteringSecretSource",
    "SecretScrubFilter",
    "install_log_scrubbing",
    "register",
    "uninstall_log_scrubbing",
]

DEFAULT_LOGGERS: tuple[str, ...] = (
    "",  # the root logger
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "claude_guard",
    "httpx",
    "anthropic",
)
# uvicorn's AccessFormatter unpacks record.args as a 5-tuple: keep the tuple, scrub its members.
_TUPLE_ARGS_LOGGERS = ("uvicorn.access",)
_SCRUBBED = "_claude_guard_scrubbed"
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    _SCRUBBED,
}
_MAX_DEPTH = 4


class SecretRegistry:
    """The secret values a scrubber knows, safe to update from any thread while others log.

    Holds at most ``capacity`` values; the oldest registered is forgotten first (rotated-out keys stay known
    for a while, which is the point: an old key can still show up in a late error).
    """

    def __init__(self, secrets: Iterable[Secret] = (), *, capacity: int = 256) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._secrets: tuple[Secret, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        if not isinstance(secret, Secret):
            raise TypeError("register a Secret, not a plain string")
        if not secret:
            return
        with self._lock:
            if secret in self._secrets:
                return
            # Longest first, so a secret that contains another is masked whole.
            kept = (*self._secrets, secret)[-self.capacity :]
            self._secrets = tuple(sorted(kept, key=len, reverse=True))

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()

    def snapshot(self) -> tuple[Secret, ...]:
        return self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self)} secrets)"


default_registry = SecretRegistry()
"""The registry every scrubber consults unless given another; ``register`` adds to it."""


def register(secret: Secret) -> None:
    """Make ``secret`` known to every scrubber using the default registry."""
    default_registry.add(secret)


class RegisteringSecretSource:
    """A ``SecretSource`` wrapper that registers every value it hands out, so rotated keys are scrubbed too.

    Example:
        >>> from claude_guard.secrets import EnvSecretSource
        >>> source = RegisteringSecretSource(EnvSecretSource("K", {"K": "fake-canary-value"}))
        >>> source.name
        'K'
    """

    def __init__(self, source: SecretSource, registry: SecretRegistry | None = None) -> None:
        self.source = source
        self.name = source.name
        self.registry = default_registry if registry is None else registry

    async def get(self) -> Secret:
        secret = await self.source.get()
        self.registry.add(secret)
        return secret

    def invalidate(self) -> None:
        invalidate = getattr(self.source, "invalidate", None)
        if callable(invalidate):
            invalidate()

    def __repr__(self) -> str:
        return f"RegisteringSecretSource({self.source!r})"


class SecretScrubFilter(logging.Filter):
    """A ``logging.Filter`` that masks secrets in a record and never drops it.

    Args:
        known: Secrets to mask in addition to the registry's.
        registry: The shared registry; ``default_registry`` unless given.
    """

    def __init__(self, known: Iterable[Secret] = (), *, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self.registry = default_registry if registry is None else registry
        self.own = SecretRegistry(known)
        self._formatter = logging.Formatter()

    def register(self, secret: Secret) -> None:
        """Mask ``secret`` in every record this filter sees from now on."""
        self.own.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SCRUBBED, False):
            return True
        try:
            self._scrub(record)
        except Exception:
            # Logging must never fail, and a record that cannot be cleaned must not go out as it is.
            record.msg = "claude_guard: a log record was withheld because it could not be scrubbed"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        setattr(record, _SCRUBBED, True)
        return True

    def _scrub(self, record: logging.LogRecord) -> None:
        known = (*self.own.snapshot(), *self.registry.snapshot())
        if record.name in _TUPLE_ARGS_LOGGERS and isinstance(record.args, tuple) and record.args:
            self._scrub_tuple_args(record, known)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):
                message = f"{record.msg} [arguments withheld: they do not fit the format]"
            record.msg = scrub(message, known)
            record.args = None
        if "message" in record.__dict__:
            record.message = record.getMessage()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            # Later formatters would format the raw exception again; they use exc_text instead.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, known)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, known)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES:
                record.__dict__[name] = _scrub_value(value, known, 0)

    def _scrub_tuple_args(self, record: logging.LogRecord, known: Sequence[Secret]) -> None:
        assert isinstance(record.args, tuple)
        args = tuple(scrub(a, known) if isinstance(a, str) else a for a in record.args)
        record.args = args
        message = record.getMessage()
        if scrub(message, known) != message:
            # A secret spans two arguments: mask every text argument rather than break the formatter.
            record.args = tuple(_MASK if isinstance(a, str) else a for a in args)
        record.msg = scrub(str(record.msg), known)


def _scrub_value(value: Any, known: Sequence[Secret], depth: int) -> Any:
    if isinstance(value, str):
        return scrub(value, known)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            (scrub(k, known) if isinstance(k, str) else k): _scrub_value(v, known, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v, known, depth + 1) for v in value)
    return value


_install_lock = threading.Lock()
_installed: SecretScrubFilter | None = None
_attached: list[logging.Filterer] = []


def install_log_scrubbing(
    known: Iterable[Secret] = (),
    *,
    loggers: Iterable[str | logging.Logger] = DEFAULT_LOGGERS,
    registry: SecretRegistry | None = None,
) -> SecretScrubFilter:
    """Add the process's one ``SecretScrubFilter`` to the named loggers and to every handler they have.

    Idempotent: a second call registers more ``known`` secrets and attaches the same filter to loggers and
    handlers added since (call it again after reconfiguring logging: ``dictConfig`` replaces handlers).
    Call it once logging is configured, e.g. at application start-up.

    Returns:
        The installed filter (``.register(secret)`` adds a value to mask).
    """
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = SecretScrubFilter(registry=registry)
        scrubber = _installed
        for secret in known:
            scrubber.register(secret)
        for entry in loggers:
            logger = entry if isinstance(entry, logging.Logger) else logging.getLogger(entry or None)
            for target in (logger, *logger.handlers):
                if scrubber not in target.filters:
                    target.addFilter(scrubber)
                    _attached.append(target)
        return scrubber


def uninstall_log_scrubbing() -> None:
    """Remove the filter from every logger and handler ``install_log_scrubbing`` added it to."""
    global _installed
    with _install_lock:
        if _installed is not None:
            for target in _attached:
                target.removeFilter(_installed)
        _attached.clear()
        _installed = None
