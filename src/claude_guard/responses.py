"""Rendering errors for callers: Anthropic's envelope (the default) or RFC 9457 problem details.

Example:
    >>> import json
    >>> from claude_guard.errors import BudgetExceededError
    >>> r = render_error(BudgetExceededError(), request_id="req_0123")
    >>> r.status, r.headers["x-should-retry"]
    (402, 'false')
    >>> json.loads(r.body)["error"]
    {'type': 'billing_error', 'message': 'The budget for this period is spent.'}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from ._asgi import Receive, Scope, Send
from .errors import GuardError

__all__: list[str] = []  # nothing public: see the protections that render errors

ErrorFormat = Literal["anthropic", "problem"]


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A rendered error, usable as an ASGI app."""

    status: int
    headers: dict[str, str]
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.send(send)

    async def send(self, send: Send) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        raw.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def render_error(error: GuardError, *, request_id: str, format: ErrorFormat = "anthropic") -> ErrorResponse:
    """Render ``error`` for the caller with our ``request-id``; the message is the error's safe text."""
    headers = {"request-id": request_id}
    if error.should_retry is not None:
        headers["x-should-retry"] = "true" if error.should_retry else "false"
    headers.update(error.headers)
    if format == "problem":
        problem: dict[str, object] = {
            "type": f"https://claude-guard.dev/errors/{error.error_type}",
            "title": error.error_type.replace("_", " "),
            "status": error.status,
            "detail": error.message,
            "request_id": request_id,
        }
        if error.code is not None:
            problem["code"] = error.code
        headers["content-type"] = "application/problem+json"
        body = json.dumps(problem, separators=(",", ":")).encode()
    else:
        envelope: dict[str, object] = {"type": error.error_type, "message": error.message}
        if error.code is not None:
            envelope["code"] = error.code
        headers["content-type"] = "application/json"
        body = json.dumps(
            {"type": "error", "error": envelope, "request_id": request_id}, separators=(",", ":")
        ).encode()
    return ErrorResponse(status=error.status, headers=headers, body=body)
