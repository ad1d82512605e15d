"""The egress face: ``ToolPolicyEgressHook`` applies the same tool policies to an app's own SDK calls."""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import anthropic
import httpx2

from .._asgi import EVENT_STREAM, media_type
from .._hooks import EgressHook
from ..context import current_context
from ..errors import ToolCallRefusedError, UpstreamError
from ._answers import AMBIGUOUS, DEFAULT_MAX_HOLD_BYTES, SSEToolCallFilter, parse_answer, rewrite_message
from ._middleware import Mode, _declares_tools, _record, check_request, policies_for
from ._policy import ToolPolicy, Violation

__all__ = ["ToolPolicyEgressHook"]

_MESSAGES_SUFFIXES = ("/v1/messages", "/messages")

# The policies of the attempt in flight (``before`` and ``after`` of one attempt run in one task).
_attempt: contextvars.ContextVar[Mapping[str, ToolPolicy] | None] = contextvars.ContextVar(
    "claude_guard_tool_policy_attempt", default=None
)


class ToolPolicyEgressHook(EgressHook):
    """Checks Messages calls an app makes with the ``anthropic`` SDK: a replayed ``tool_use`` that breaks
    its policy raises `ToolCallRefusedError` before the call, and refused calls in the answer are replaced
    (JSON) or held and replaced (streams) before the SDK parses it. The policies are the inbound request's
    profile's (through the contextvar), else ``default_policies`` (the ``generation`` sandbox).

    Example:
        >>> from claude_guard.egress import GuardAnthropicMiddleware
        >>> middleware = GuardAnthropicMiddleware([ToolPolicyEgressHook()])
    """

    def __init__(
        self,
        *,
        mode: Mode = "enforce",
        on_violation: Literal["replace", "error"] = "replace",
        max_hold_bytes: int = DEFAULT_MAX_HOLD_BYTES,
        default_policies: Mapping[str, ToolPolicy] | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.on_violation = on_violation
        self.max_hold_bytes = max_hold_bytes
        self.default_policies = default_policies

    async def before(self, request: anthropic.APIRequest) -> anthropic.APIRequest:
        _attempt.set(None)
        if self.mode == "off" or request.method.upper() != "POST":
            return request
        if not request.url.rstrip("/").endswith(_MESSAGES_SUFFIXES):
            return request
        body = request.json
        if not isinstance(body, dict):
            return request
        ctx = current_context()
        policies = policies_for(ctx.profile if ctx is not None else None, self.default_policies)
        if not policies:
            return request
        violation = check_request(body, policies)
        if violation is not None and _record(ctx, violation, where="request", mode=self.mode):
            raise ToolCallRefusedError(violation.describe(), code=violation.rule)
        if _declares_tools(body):
            _attempt.set(policies)
        return request

    async def after(self, request: anthropic.APIRequest, response: Any) -> Any:
        policies = _attempt.get()
        _attempt.set(None)
        if policies is None:
            return response
        http = getattr(response, "http_response", None)
        if not isinstance(http, httpx2.Response) or not http.is_success:
            return response
        ctx = current_context()

        def enforced(violation: Violation) -> bool:
            return _record(ctx, violation, where="answer", mode=self.mode)

        content_type = media_type(http.headers.get("content-type"))
        if content_type == EVENT_STREAM:
            inner = httpx2.Response(
                http.status_code, headers=http.headers, stream=http.stream, request=http.request
            )
            http.stream = _CheckedStream(
                inner,
                SSEToolCallFilter(
                    policies,
                    enforced,
                    max_hold_bytes=self.max_hold_bytes,
                    error=self.on_violation == "error",
                ),
            )
            http.headers.pop("content-encoding", None)
            http.headers.pop("content-length", None)
        elif content_type == "application/json":
            raw = await http.aread()
            message = parse_answer(raw)
            if message is AMBIGUOUS:
                if _record(ctx, Violation("?", "answer.ambiguous"), where="answer", mode=self.mode):
                    message_text = "The upstream's answer could not be checked."
                    raise UpstreamError(message_text, code="answer.ambiguous")
                return response
            if message is None:
                return response
            rewritten, violations = rewrite_message(message, policies, enforced)
            if violations and self.mode == "enforce" and self.on_violation == "error":
                raise ToolCallRefusedError(violations[0].describe(), code=violations[0].rule)
            if rewritten is not message:
                body = json.dumps(rewritten, ensure_ascii=False, separators=(",", ":")).encode()
                http._content = body
                http.stream = httpx2.ByteStream(body)
                http.headers.pop("content-encoding", None)
                http.headers["content-length"] = str(len(body))
        return response


class _CheckedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.Response, checker: SSEToolCallFilter) -> None:
        self._inner = inner
        self._checker = checker

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner.aiter_bytes():
            out = self._checker.feed(chunk)
            if out:
                yield out
        tail = self._checker.close()
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._inner.aclose()
