"""One HTTP request to FakeClaude: authentication, validation, the planned reply and how it is sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._behaviours import (
    Behaviour,
    ConnectionDroppedError,
    ContentBlock,
    DropConnection,
    ErrorResponse,
    Hold,
    Reply,
    SlowStream,
    StreamError,
    TextBlock,
    UsageOverride,
)
from ._tokens import _compact_json, _usage, count_input_tokens
from ._wire import (
    _COUNT_TOKENS_PATH,
    _DEFAULT_ERROR_MESSAGES,
    _ERROR_TYPE_BY_STATUS,
    _MESSAGES_PATH,
    _STATUS_BY_ERROR_TYPE,
    Receive,
    Scope,
    Send,
    _echo_text,
    _error_type_for,
    _normalize,
    _stream_events,
)

if TYPE_CHECKING:
    from ._fake import FakeClaude, RecordedRequest


class _RequestError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(slots=True)
class _Plan:
    """The complete reply of one request, computed before the first byte is sent."""

    message: dict[str, Any]
    usage: dict[str, Any]
    headers: dict[str, str]


class _Exchange:
    """State of one HTTP request; FakeClaude itself holds none."""

    def __init__(self, fake: FakeClaude, scope: Scope, receive: Receive, send: Send) -> None:
        self.fake = fake
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = "req_fake_unset"
        self.sequence = 0
        self.disconnected = asyncio.Event()

    async def run(self) -> None:
        body, complete = await self._read_body()
        self.sequence, recorded = self.fake._record(self.scope, body)
        self.request_id = f"req_fake_{self.sequence:08d}"
        if not complete:
            return
        try:
            await self._dispatch(recorded)
        except _RequestError as error:
            await self._send_error(
                error.status, _ERROR_TYPE_BY_STATUS[error.status], error.message, error.headers
            )

    async def _read_body(self) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), False
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks), True

    async def _dispatch(self, recorded: RecordedRequest) -> None:
        path = _normalize(recorded.path)
        if path not in (_MESSAGES_PATH, _COUNT_TOKENS_PATH):
            raise _RequestError(404, f"Not found: {recorded.path}")
        if recorded.method != "POST":
            raise _RequestError(405, f"Method {recorded.method} not allowed on {path}", {"allow": "POST"})
        self._authenticate(recorded.headers)
        if len(recorded.body) > self.fake._max_request_bytes:
            raise _RequestError(413, _DEFAULT_ERROR_MESSAGES["request_too_large"])
        body = self._parse(recorded)
        if path == _COUNT_TOKENS_PATH:
            self._require(body, "model", "messages")
            await self._send_json(200, {"input_tokens": count_input_tokens(body)}, {})
            return
        self._require(body, "model", "max_tokens", "messages")
        behaviour = self.fake._next_behaviour()
        await self._respond(body, behaviour)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        expected = self.fake._api_key
        if expected is None:
            return
        presented = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if presented == expected or (scheme.lower() == "bearer" and token.strip() == expected):
            return
        message = "invalid x-api-key" if presented or authorization else "x-api-key header is required"
        raise _RequestError(401, message)

    def _parse(self, recorded: RecordedRequest) -> dict[str, Any]:
        if recorded.json is None:
            try:
                json.loads(recorded.body)
            except ValueError as error:
                raise _RequestError(400, f"Request body is not valid JSON: {error}") from None
        if not isinstance(recorded.json, dict):
            raise _RequestError(400, "Request body must be a JSON object")
        return recorded.json

    def _require(self, body: dict[str, Any], *names: str) -> None:
        for name in names:
            if name == "model" and "model" not in body and self.fake._model_default is not None:
                continue
            if name not in body:
                raise _RequestError(400, f"{name}: Field required")
        if "model" in body and (not isinstance(body["model"], str) or not body["model"]):
            raise _RequestError(400, "model: Input should be a non-empty string")
        if "max_tokens" in names:
            max_tokens = body["max_tokens"]
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
                raise _RequestError(400, "max_tokens: Input should be an integer greater than or equal to 1")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _RequestError(400, "messages: Input should be a non-empty list")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _RequestError(400, f"messages.{index}.role: Input should be 'user' or 'assistant'")
            if not isinstance(message.get("content"), str | list):
                raise _RequestError(400, f"messages.{index}.content: Input should be a string or a list")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise _RequestError(400, "stream: Input should be a valid boolean")

    # responses

    async def _respond(self, body: dict[str, Any], behaviour: Behaviour) -> None:
        streaming = body.get("stream") is True
        if isinstance(behaviour, ErrorResponse):
            error_type = behaviour.type or _error_type_for(behaviour.status)
            headers = self.fake._rate_limit_headers(0, 0, rejected=behaviour.status == 429)
            headers.update(behaviour.headers)
            message = behaviour.message or _DEFAULT_ERROR_MESSAGES.get(error_type, "Error.")
            await self._send_error(behaviour.status, error_type, message, headers)
            return
        if isinstance(behaviour, StreamError) and not streaming:
            status = _STATUS_BY_ERROR_TYPE.get(behaviour.type, 500)
            headers = self.fake._rate_limit_headers(0, 0, rejected=status == 429)
            await self._send_error(status, behaviour.type, behaviour.message, headers)
            return
        reply = behaviour if isinstance(behaviour, Reply) else behaviour.reply
        plan = self._plan(body, reply)
        # a client that goes away ends a slow or held reply early instead of leaving it to run out
        watcher = asyncio.create_task(self._watch_disconnect())
        try:
            if streaming:
                await self._stream(plan, behaviour)
            else:
                await self._reply_json(plan, behaviour)
        finally:
            watcher.cancel()

    def _plan(self, body: dict[str, Any], reply: Reply) -> _Plan:
        model = reply.model or body.get("model") or self.fake._model_default
        if reply.content is None:
            text, truncated = _echo_text(body)
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
            stop_reason = reply.stop_reason or ("max_tokens" if truncated else "end_turn")
        else:
            assert not isinstance(reply.content, str)
            blocks = [self._block_json(index, block) for index, block in enumerate(reply.content)]
            has_tool_use = any(block["type"] == "tool_use" for block in blocks)
            stop_reason = reply.stop_reason or ("tool_use" if has_tool_use else "end_turn")
        usage = _usage(body, blocks, reply.usage or UsageOverride())
        message: dict[str, Any] = {
            "id": f"msg_fake_{self.sequence:08d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": reply.stop_sequence,
            "usage": usage,
        }
        headers = self.fake._rate_limit_headers(usage["input_tokens"], usage["output_tokens"], rejected=False)
        headers.update(reply.headers)
        return _Plan(message=message, usage=usage, headers=headers)

    def _block_json(self, index: int, block: ContentBlock) -> dict[str, Any]:
        if isinstance(block, TextBlock):
            return {"type": "text", "text": block.text}
        return {
            "type": "tool_use",
            "id": block.id or f"toolu_fake_{self.sequence:08d}_{index}",
            "name": block.name,
            "input": dict(block.input),
        }

    async def _reply_json(self, plan: _Plan, behaviour: Behaviour) -> None:
        payload = _compact_json(plan.message).encode()
        if isinstance(behaviour, SlowStream):
            await asyncio.sleep(behaviour.delay)
        elif isinstance(behaviour, Hold):
            await self._wait_for_release(behaviour)
            if self.disconnected.is_set():
                return
        elif isinstance(behaviour, DropConnection):
            headers = {**plan.headers, "content-type": "application/json"}
            await self._start(200, headers, content_length=len(payload))
            await self.send(
                {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
            )
            raise ConnectionDroppedError("FakeClaude dropped the connection mid-body (DropConnection)")
        await self._send_json(200, plan.message, plan.headers)

    async def _stream(self, plan: _Plan, behaviour: Behaviour) -> None:
        headers = {
            **plan.headers,
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
        }
        await self._start(200, headers)
        await self._send_events(plan, behaviour)

    async def _send_events(self, plan: _Plan, behaviour: Behaviour) -> None:
        deltas_sent = 0
        triggered = False
        # every pass either sends its event or leaves, so the index counts the events already sent
        for events_sent, (name, data) in enumerate(_stream_events(plan.message, self.fake._chunk_size)):
            if isinstance(behaviour, DropConnection) and events_sent == behaviour.after_events:
                raise ConnectionDroppedError("FakeClaude dropped the connection mid-stream (DropConnection)")
            if (
                isinstance(behaviour, StreamError | Hold)
                and not triggered
                and (
                    name == "message_delta"
                    or (name == "content_block_delta" and deltas_sent == behaviour.after_deltas)
                )
            ):
                triggered = True
                if isinstance(behaviour, StreamError):
                    await self._send_event("error", self._error_payload(behaviour.type, behaviour.message))
                    await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await self._wait_for_release(behaviour)
            if isinstance(behaviour, SlowStream) and events_sent:
                await asyncio.sleep(behaviour.delay)
            if self.disconnected.is_set():
                return
            await self._send_event(name, data)
            if name == "content_block_delta":
                deltas_sent += 1
        if isinstance(behaviour, DropConnection):
            raise ConnectionDroppedError("FakeClaude dropped the connection before the end of the stream")
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _wait_for_release(self, hold: Hold) -> None:
        deadline = time.monotonic() + hold.timeout
        while not hold.release.is_set():
            if self.disconnected.is_set():
                return
            if time.monotonic() >= deadline:
                raise ConnectionDroppedError(f"Hold was not released within {hold.timeout} s")
            await asyncio.sleep(hold.poll_interval)

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.disconnected.set()
                return

    # wire helpers

    def _error_payload(self, error_type: str, message: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": self.request_id,
        }

    async def _send_error(
        self, status: int, error_type: str, message: str, headers: Mapping[str, str]
    ) -> None:
        await self._send_json(status, self._error_payload(error_type, message), headers)

    async def _send_json(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        encoded = _compact_json(payload).encode()
        await self._start(
            status, {**headers, "content-type": "application/json"}, content_length=len(encoded)
        )
        await self.send({"type": "http.response.body", "body": encoded, "more_body": False})

    async def _start(
        self, status: int, headers: Mapping[str, str], *, content_length: int | None = None
    ) -> None:
        merged = {"request-id": self.request_id, **headers}
        if content_length is not None:
            merged["content-length"] = str(content_length)
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in merged.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def _send_event(self, name: str, data: Mapping[str, Any]) -> None:
        chunk = f"event: {name}\ndata: {_compact_json(data)}\n\n".encode()
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
