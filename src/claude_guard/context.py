"""The per-request ``GuardContext`` and the contextvar that carries it.

Every guard middleware, dependency and the egress hook find the same context: it is created once by the
outermost guard, stored in the ASGI scope and in a contextvar, and reset with its token when the request ends.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._json import dumps_forward, loads_strict
from .profiles import Profile

__all__ = [
    "Decision",
    "GuardContext",
    "Principal",
    "current_context",
    "new_request_id",
    "use_context",
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
    request_id: str = field(default_factory=new_request_id)
    principal: Principal | None = None
    profile: Profile | None = None
    max_body_bytes: int | None = None
    body: bytes | None = None
    decisions: list[Decision] = field(default_factory=list)
    state: MutableMapping[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.perf_counter)
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
        self.decisions.append(Decision(protection=protection, outcome=outcome, detail=detail or None))


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
