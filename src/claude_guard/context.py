"""The per-request ``GuardContext`` and the contextvar that carries it.

Every guard middleware, dependency and the egress hook find the same context: it is created once by the
outermost guard, stored in the ASGI scope and in a contextvar, and reset with its token when the request ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ._json import dumps_forward, loads_strict

if TYPE_CHECKING:  # annotations only: profiles reads the current context (lazily)
    from .messages import Usage
    from .profiles import Profile

__all__ = [
    "GuardContext",
    "Principal",
    "current_context",
]

SCOPE_KEY = "claude_guard.context"

_current: contextvars.ContextVar[GuardContext | None] = contextvars.ContextVar(
    "claude_guard_context", default=None
)


_ID_BATCH = 256
# Ids are drawn from os.urandom in batches: one system call per 256 requests instead of one each. list.pop
# and list.extend are atomic, so threads never share an id; a forked child starts with an empty pool, so
# processes never share one either.
_ids: list[str] = []


def _refill_ids() -> None:
    digits = os.urandom(12 * _ID_BATCH).hex()
    _ids.extend(["req_" + digits[i : i + 24] for i in range(0, len(digits), 24)])


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.clear)


def new_request_id() -> str:
    """A request id in the style of Anthropic's (``req_`` and 24 random hex digits).

    Example:
        >>> rid = new_request_id()
        >>> rid.startswith("req_") and len(rid) == 28
        True
    """
    while True:
        try:
            return _ids.pop()
        except IndexError:
            _refill_ids()


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: a client key's public id and its least-privilege profile. Never the key itself."""

    key_id: str
    profile: str
    environment: str
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One protection's verdict, kept for the audit record and the span."""

    protection: str
    outcome: str
    detail: dict[str, Any] | None = None


@dataclass(slots=True, kw_only=True, eq=False)
class GuardContext:
    """What one request learns once and later steps reuse.

    Every fact one protection learns and another (or the app, or the audit) reads is a typed attribute
    below, written by the protection named in its docstring. An object a protection owns (its redaction, its
    rate-limit state) is typed ``object`` here, since the core imports no protection, and read back through
    the owner's typed accessor (``ratelimit.state_of``, an ``isinstance`` check). ``state`` is left to user
    extensions: no protection reads or writes it.

    Example:
        >>> ctx = GuardContext(method="POST", path="/v1/messages")
        >>> with use_context(ctx):
        ...     current_context() is ctx
        True
        >>> current_context() is None
        True
    """

    method: str = "GET"
    path: str = "/"
    client_addr: str | None = None
    """The caller's address: the socket's, or the one trusted proxies name (rate limits rewrite it)."""
    request_id: str = field(default_factory=new_request_id)
    principal: Principal | None = None
    """Who is calling, set by authentication (``APIKeyMiddleware``)."""
    profile: Profile | None = None
    """The principal's least-privilege profile, set by authentication."""
    profile_mode: Literal["enforce", "shadow", "off"] | None = None
    """Mode of the profile's model and tool bounds for this request when it is not the default ``enforce``
    (``APIKeyMiddleware(profile_mode=...)``, ``CLAUDE_GUARD_PROFILE_MODE``)."""
    max_body_bytes: int | None = None
    body: bytes | None = None
    decisions: list[Decision] = field(default_factory=list)
    """Every protection's verdicts, in order, for the audit record and the span."""
    model: str | None = None
    """The model the request named, as the audit's GenAI span read it (a safe identifier)."""
    max_cost: Decimal | None = None
    """The route's maximum cost of each Claude call (``max_cost(...)`` dependency, ``apply_max_cost``)."""
    cost_usd: Decimal | None = None
    """What the request's Claude calls cost, summed over its calls, once the ledger settled them; ``None``
    when nothing was metered."""
    usage: Usage | None = None
    """The request's token usage summed over its metered calls (set with ``cost_usd``)."""
    observed_usage: Usage | None = None
    """The usage of the last answer the audit's GenAI span read (the record's fallback without a meter)."""
    unsettled: dict[str, object] | None = None
    """Calls (``ledger.Metered``) the egress ``MeteringHook`` reserved and has not settled yet, by
    reservation id; the ``CostMeterMiddleware`` settles what is left when the request ends."""
    event_loop: asyncio.AbstractEventLoop | None = None
    """The loop serving the request (``CostMeterMiddleware``), where sync SDK calls from worker threads
    settle (``SyncMeteringMiddleware``)."""
    redaction: object | None = None
    """The request's ``pii.Redaction`` (``PIIRedactionMiddleware``, ``pii_redaction()``); set once, it marks
    the request as redacted, so it is never redacted twice."""
    rate_limit: object | None = None
    """The request's ``RateLimitState`` (``ratelimit.state_of(ctx)``): its admissions and what the rate-limit
    middlewares and dependencies share about it."""
    upstream_status: int | None = None
    """The status of the upstream answer ``MessagesProxy`` relayed."""
    upstream_headers: Mapping[str, str] | None = None
    """The headers of the upstream answer ``MessagesProxy`` relayed (before filtering)."""
    upstream_seconds: float | None = None
    """Seconds spent waiting on the upstream, summed over the request's calls (the audit's GenAI spans)."""
    response_started: bool = False
    """``http.response.start`` has been sent: an error can no longer be rendered. Tracked by the outermost
    guard middleware (and ``MessagesProxy``)."""
    audited: bool = False
    """An ``AuditMiddleware`` (or ``AuditLogger.log_request``) records this request: a nested one does not."""
    state: MutableMapping[str, Any] = field(default_factory=dict)
    """Free for user extensions (the app's own middlewares and routes); claude_guard never touches it."""
    started_at: float = field(default_factory=time.perf_counter)
    _response_hooks: list[Any] | None = None  # the guards' on_response_start, for the outermost's wrapper
    _json: Any = None
    _json_parsed: bool = False
    _forward: bytes | None = None

    def json(self) -> Any:
        """The request body parsed once, strictly (see ``claude_guard._json.loads_strict``).

        Raises:
            InvalidJSONError: bad UTF-8 or JSON, trailing data, a duplicated key, a lone surrogate, NaN or
                Infinity (400, ``code`` naming the problem). Raised again on every call: a refused body
                never becomes a value.
        """
        if not self._json_parsed:
            if self.body is None:
                raise RuntimeError("the request body has not been captured")
            self._json = loads_strict(self.body)
            self._json_parsed = True
        return self._json

    def set_json(self, value: Any) -> None:
        """Replace the parsed body (a protection that rewrote the request); ``body`` is re-encoded."""
        self._json = value
        self._json_parsed = True
        self.body = self._forward = dumps_forward(value)

    def forward_body(self) -> bytes:
        """The bytes to send upstream: the checked value (`json`) serialized, never the caller's bytes.

        Parsing and re-serializing means the upstream reads exactly what every protection read, whatever
        another parser would make of the original bytes. Computed once, and again after `set_json`.

        Raises:
            InvalidJSONError: the body does not parse (see `json`).
        """
        if self._forward is None or not self._json_parsed:
            self._forward = dumps_forward(self.json())
        return self._forward

    def decide(self, protection: str, outcome: str, **detail: Any) -> None:
        self.decisions.append(decision(protection, outcome, detail or None))


_new = object.__new__
_set_protection = Decision.__dict__["protection"].__set__
_set_outcome = Decision.__dict__["outcome"].__set__
_set_detail = Decision.__dict__["detail"].__set__


def decision(protection: str, outcome: str, detail: dict[str, Any] | None) -> Decision:
    """``Decision(...)`` for the per-request path, equal to it field by field.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; writing the slots
    directly costs half as much, and the instance is as frozen as any other afterwards.

    >>> decision("rate_limit", "allowed", None) == Decision(protection="rate_limit", outcome="allowed")
    True
    """
    made: Decision = _new(Decision)
    _set_protection(made, protection)
    _set_outcome(made, outcome)
    _set_detail(made, detail)
    return made


def dataclass_factory(cls: type[Any], *params: str) -> Callable[..., Any]:
    """A function of ``params`` (positional) making ``cls(**params)``: for a dataclass built per request.

    Generated from the class's fields as ``dataclasses`` writes ``__init__``, but without a keyword parameter
    per field: every other field's default is a constant (or its factory's call) in the code, so a request
    pays for the fields it sets and not for parsing thirty defaults. A field added later is never missed.
    Not for frozen classes (their ``__init__`` goes through ``object.__setattr__``).
    """
    if hasattr(cls, "__post_init__") or getattr(cls, "__dataclass_params__", None) is None:
        raise TypeError(f"dataclass_factory needs a dataclass without __post_init__, not {cls.__name__}")
    if cls.__dataclass_params__.frozen:
        raise TypeError(f"dataclass_factory cannot build the frozen {cls.__name__}")
    missing = [
        f.name
        for f in fields(cls)
        if f.name not in params and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise TypeError(
            f"dataclass_factory: {cls.__name__} fields without a default must be params: {missing}"
        )
    namespace: dict[str, Any] = {"_new": _new, "cls": cls}
    lines = [f"def new_{cls.__name__}({', '.join(params)}):", "    made = _new(cls)"]
    for item in fields(cls):
        name = item.name
        if name in params:
            value = name
        elif item.default_factory is not MISSING:
            namespace[f"_factory_{name}"] = item.default_factory
            value = f"_factory_{name}()"
        elif item.default is None or isinstance(item.default, bool):
            value = repr(item.default)
        else:
            namespace[f"_default_{name}"] = item.default
            value = f"_default_{name}"
        lines.append(f"    made.{name} = {value}")
    lines.append("    return made")
    exec("\n".join(lines), namespace)  # noqa: S102 - code built above from the dataclass's own fields
    function: Callable[..., Any] = namespace[f"new_{cls.__name__}"]
    return function


new_context: Callable[[str, str, str | None], GuardContext] = dataclass_factory(
    GuardContext, "method", "path", "client_addr"
)
"""``GuardContext(method=method, path=path, client_addr=client_addr)``, at half the cost: what the outermost
guard calls once per request."""


def current_context() -> GuardContext | None:
    """The ``GuardContext`` of the request being handled in this task, or ``None`` outside one."""
    return _current.get()


@contextmanager
def use_context(ctx: GuardContext) -> Iterator[GuardContext]:
    """Make ``ctx`` current for the block and restore the previous value after it, with its token."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
