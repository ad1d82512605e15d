"""The ingress face: ``ToolPolicyMiddleware`` checks replayed tool calls in requests and the model's tool
calls in answers (JSON and SSE) on Messages routes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._asgi import EVENT_STREAM, ASGIApp, Message, Receive, Scope, Send, ensure_body, response_head
from .._routes import PathPatterns
from ..context import GuardContext
from ..errors import ConfigurationError, ToolCallRefusedError, UpstreamError
from ..middleware import GuardMiddleware
from ..responses import ErrorFormat, render_error
from ._answers import AMBIGUOUS, DEFAULT_MAX_HOLD_BYTES, SSEToolCallFilter, parse_answer, rewrite_message
from ._policy import DEFAULT_TOOL_POLICIES, ToolPolicy, Violation, check_tool_call

if TYPE_CHECKING:
    from ..profiles import Profile

__all__ = ["Mode", "ToolPolicyMiddleware", "check_request", "policies_for"]

Mode = Literal["enforce", "shadow", "off"]
DEFAULT_PATHS = ("/v1/messages",)


def policies_for(
    profile: Profile | None, default: Mapping[str, ToolPolicy] | None = None
) -> Mapping[str, ToolPolicy]:
    """The tool policies that bound a request: its profile's own, else the built-in ones of a built-in
    profile, else (a custom profile, or no profile) ``default``, which is the ``generation`` sandbox.

    Example:
        >>> from ..profiles import BUILTIN_PROFILES
        >>> sorted(policies_for(BUILTIN_PROFILES["analysis"]))
        ['*', 'Glob', 'Grep', 'LS', 'Read']
        >>> policies_for(BUILTIN_PROFILES["admin"])
        {}
    """
    fallback = DEFAULT_TOOL_POLICIES["generation"] if default is None else default
    if profile is None:
        return fallback
    own: Mapping[str, ToolPolicy] | None = profile.tool_policies
    if own is not None:
        return own
    return DEFAULT_TOOL_POLICIES.get(profile.name, fallback)


def check_request(body: Any, policies: Mapping[str, ToolPolicy]) -> Violation | None:
    """The first ``tool_use`` of the conversation history that breaks its policy (a client replaying a
    forged call), or ``None``; a request refused for it forwards none of its ``tool_result`` blocks."""
    if not policies or not isinstance(body, Mapping):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
            continue
        for block in message["content"]:
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                violation = check_tool_call(policies, block.get("name"), block.get("input"))
                if violation is not None:
                    return violation
    return None


def _declares_tools(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and bool(tools)


def _record(ctx: GuardContext | None, violation: Violation, *, where: str, mode: Mode) -> bool:
    """Audit one violation; returns whether it is enforced."""
    if ctx is not None:
        outcome = "refused" if mode == "enforce" else "would_refuse"
        ctx.decide(
            "tool_policy",
            outcome,
            tool=violation.tool,
            rule=violation.rule,
            field=violation.field,
            where=where,
        )
    return mode == "enforce"


class ToolPolicyMiddleware(GuardMiddleware):
    """Enforces the profile's tool policies on Messages routes.

    A request whose history holds a ``tool_use`` that breaks its policy is refused with 403 before the
    upstream. A JSON answer's refused calls are replaced by a text block (or the answer by a 403 with
    ``on_violation="error"``); a stream's tool blocks are held until complete, then released or replaced,
    while text deltas pass at once. In ``shadow`` mode every decision is made and audited as
    ``would_refuse``, and everything passes. Requests that declare no tools are not watched on the way back
    (the model cannot call a client tool it was not given).

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarded = ToolPolicyMiddleware(app, mode="shadow")
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        mode: Mode = "enforce",
        on_violation: Literal["replace", "error"] = "replace",
        max_hold_bytes: int = DEFAULT_MAX_HOLD_BYTES,
        default_policies: Mapping[str, ToolPolicy] | None = None,
        paths: Iterable[str] = DEFAULT_PATHS,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        if mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("mode must be enforce, shadow or off")
        if on_violation not in ("replace", "error"):
            raise ConfigurationError("on_violation must be replace or error")
        if max_hold_bytes <= 0:
            raise ConfigurationError("max_hold_bytes must be positive")
        self.mode: Mode = mode
        self.on_violation = on_violation
        self.max_hold_bytes = max_hold_bytes
        self.default_policies = default_policies
        self.paths = PathPatterns(paths)

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mode == "off" or ctx.method != "POST" or not self.paths.matches(ctx.path):
            await self.app(scope, receive, send)
            return
        policies = policies_for(ctx.profile, self.default_policies)
        if not policies:
            await self.app(scope, receive, send)
            return
        receive = await ensure_body(ctx, scope, receive)
        body = ctx.json()  # not strict JSON: refused (400) here too, never passed on unchecked
        if not isinstance(body, dict):
            await self.app(scope, receive, send)
            return
        violation = check_request(body, policies)
        if violation is not None and _record(ctx, violation, where="request", mode=self.mode):
            raise ToolCallRefusedError(violation.describe(), code=violation.rule)
        if _declares_tools(body):
            send = _CheckingSend(self, ctx, policies, send)
        await self.app(scope, receive, send)


class _CheckingSend:
    """The response side of one request: a JSON answer is checked whole, an SSE answer block by block."""

    __slots__ = ("_chunks", "_ctx", "_filter", "_mode", "_owner", "_policies", "_send", "_start")

    def __init__(
        self, owner: ToolPolicyMiddleware, ctx: GuardContext, policies: Mapping[str, ToolPolicy], send: Send
    ) -> None:
        self._owner = owner
        self._ctx = ctx
        self._policies = policies
        self._send = send
        self._mode = "pass"
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._filter: SSEToolCallFilter | None = None

    def _enforced(self, violation: Violation) -> bool:
        return _record(self._ctx, violation, where="answer", mode=self._owner.mode)

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._on_start(message)
        elif kind == "http.response.body" and self._mode == "json":
            await self._on_json(message)
        elif kind == "http.response.body" and self._mode == "refused":
            return
        elif kind == "http.response.body" and self._mode == "sse":
            assert self._filter is not None
            body = self._filter.feed(message.get("body", b""))
            more = message.get("more_body", False)
            if not more:
                body += self._filter.close()
            if body or not more:
                await self._send({"type": "http.response.body", "body": body, "more_body": more})
        else:
            await self._send(message)

    async def _on_start(self, message: Message) -> None:
        head = response_head(message)
        if head.status >= 300:
            await self._send(message)
            return
        if head.encoded and head.media_type in (EVENT_STREAM, "application/json"):
            # The proxy asks for identity; an answer compressed anyway cannot be checked: never released.
            violation = Violation("?", "answer.encoded")
            if _record(self._ctx, violation, where="answer", mode=self._owner.mode):
                self._mode = "refused"
                error = UpstreamError("The upstream's answer could not be checked.", code="answer.encoded")
                fmt = self._owner.error_format
                await render_error(error, request_id=self._ctx.request_id, format=fmt).send(self._send)
                return
            await self._send(message)
            return
        if head.event_stream:
            self._mode = "sse"
            self._filter = SSEToolCallFilter(
                self._policies,
                self._enforced,
                max_hold_bytes=self._owner.max_hold_bytes,
                error=self._owner.on_violation == "error",
            )
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"content-length"]
            await self._send({**message, "headers": headers})
        elif head.media_type == "application/json":
            self._mode = "json"
            self._start = message
        else:
            await self._send(message)

    async def _on_json(self, message: Message) -> None:
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        raw = b"".join(self._chunks)
        self._chunks = []
        assert self._start is not None
        answer: Any = parse_answer(raw)
        if answer is AMBIGUOUS:
            violation = Violation("?", "answer.ambiguous")
            if _record(self._ctx, violation, where="answer", mode=self._owner.mode):
                text = "The upstream's answer could not be checked."
                unchecked = UpstreamError(text, code="answer.ambiguous")
                fmt = self._owner.error_format
                await render_error(unchecked, request_id=self._ctx.request_id, format=fmt).send(self._send)
                return
            answer = None
        rewritten, violations = rewrite_message(answer, self._policies, self._enforced)
        enforced = [v for v in violations if self._owner.mode == "enforce"]
        if enforced and self._owner.on_violation == "error":
            error = ToolCallRefusedError(enforced[0].describe(), code=enforced[0].rule)
            await render_error(error, request_id=self._ctx.request_id, format=self._owner.error_format).send(
                self._send
            )
            return
        if rewritten is not answer:
            raw = json.dumps(rewritten, ensure_ascii=False, separators=(",", ":")).encode()
            headers = [(k, v) for k, v in self._start.get("headers", ()) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(raw)).encode()))
            self._start = {**self._start, "headers": headers}
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": raw, "more_body": False})
