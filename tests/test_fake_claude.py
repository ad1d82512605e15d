from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import inspect
import json
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from claude_guard.testing import (
    DropConnection,
    ErrorResponse,
    FakeClaude,
    Hold,
    Reply,
    RunningServer,
    SlowStream,
    StreamError,
    TextBlock,
    ToolUseBlock,
    UsageOverride,
    _behaviours,
    _fake,
    _server,
    _tokens,
    count_input_tokens,
    count_text_tokens,
    serve,
)
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.testing.pytest_plugin import FakeClaudeServer

pytest_plugins = ["pytester"]

MODEL = "claude-sonnet-4-6"
TIMEOUT = 10.0
DOCS = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
RUNNABLE_DOC_BLOCKS = re.findall(
    r"<!-- runnable[^>]*-->\n```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL
)


def messages_body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY)


@pytest.fixture
async def client(fake: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url="http://fake-claude",
        api_key=CANARY_API_KEY,
        max_retries=0,
        timeout=TIMEOUT,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake)),
    ) as sdk:
        yield sdk


@pytest.fixture
def raw(fake: FakeClaude) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=fake),
        base_url="http://fake-claude",
        headers={"x-api-key": CANARY_API_KEY},
        timeout=TIMEOUT,
    )


@pytest.fixture
def server(fake: FakeClaude) -> Iterator[RunningServer]:
    with serve(fake) as running:
        yield running


# --- raw ASGI tier: what goes on the wire, message by message -----------------------------------------


async def call_asgi(
    app: FakeClaude, body: dict[str, Any], path: str = "/v1/messages"
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"x-api-key", CANARY_API_KEY.encode()), (b"content-type", b"application/json")],
        "scheme": "http",
        "server": ("fake-claude", 80),
        "client": ("127.0.0.1", 40000),
        "root_path": "",
    }
    await asyncio.wait_for(app(scope, receive, send), TIMEOUT)
    return sent


def parse_event(chunk: bytes) -> tuple[str, dict[str, Any]]:
    match = re.fullmatch(rb"event: (\S+)\ndata: (.*)\n\n", chunk, flags=re.DOTALL)
    assert match, chunk
    return match[1].decode(), json.loads(match[2])


def events_of(sent: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert all(m["more_body"] for m in bodies[:-1])
    assert bodies[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    return [parse_event(m["body"]) for m in bodies[:-1]]


async def test_stream_sends_each_event_as_its_own_body_message_in_the_real_order() -> None:
    fake = FakeClaude(api_key=CANARY_API_KEY, chunk_size=4)
    sent = await call_asgi(fake, messages_body("Hi you", stream=True))
    start = sent[0]
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"request-id"].startswith(b"req_fake_")
    events = events_of(sent)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    message = events[0][1]["message"]
    assert message["content"] == []
    assert message["stop_reason"] is None
    assert message["usage"]["output_tokens"] == 1
    assert message["usage"]["input_tokens"] == count_text_tokens("Hi you")
    deltas = [data["delta"]["text"] for name, data in events if name == "content_block_delta"]
    assert deltas == ["echo", ": Hi", " you"]
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert final["usage"]["input_tokens"] == message["usage"]["input_tokens"]
    assert final["usage"]["output_tokens"] == count_text_tokens("echo: Hi you")


async def test_stream_error_event_follows_the_nth_delta() -> None:
    fake = FakeClaude(chunk_size=2)
    fake.enqueue(StreamError(2))
    sent = await call_asgi(fake, messages_body("abcdefgh", stream=True))
    assert sent[0]["status"] == 200
    events = events_of(sent)
    assert [name for name, _ in events][-3:] == ["content_block_delta", "content_block_delta", "error"]
    assert events[-1][1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert events[-1][1]["request_id"] == dict(sent[0]["headers"])[b"request-id"].decode()


async def test_drop_connection_raises_without_finishing_the_body() -> None:
    fake = FakeClaude()
    fake.enqueue(DropConnection(3))
    sent: list[dict[str, Any]] = []
    with pytest.raises(_behaviours.ConnectionDroppedError):
        sent = await call_asgi(fake, messages_body(stream=True))
    assert fake.pending == 0
    assert not any(m.get("more_body") is False for m in sent)


async def test_lifespan_is_answered() -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await asyncio.wait_for(FakeClaude()({"type": "lifespan"}, receive, send), TIMEOUT)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# --- the official SDK, in-process -----------------------------------------------------------------------


async def test_plain_call_echoes_the_last_user_message(client: anthropic.AsyncAnthropic) -> None:
    body = messages_body(system="Be brief.")
    body["messages"] = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
    ]
    raw_response = await client.messages.with_raw_response.create(**body)
    message = await raw_response.parse()
    assert message.id.startswith("msg_fake_")
    assert message.model == MODEL
    assert message.role == "assistant"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "echo: Hello\nthere"}
    ]
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    prompt_chars = len("Be brief.") + len("first") + len("ok") + len("Hello") + len("there")
    assert message.usage.input_tokens == -(-prompt_chars // 4) == count_input_tokens(body)
    assert message.usage.output_tokens == count_text_tokens("echo: Hello\nthere")
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0
    headers = raw_response.headers
    assert headers["request-id"].startswith("req_fake_")
    for dimension in ("requests", "tokens", "input-tokens", "output-tokens"):
        limit = int(headers[f"anthropic-ratelimit-{dimension}-limit"])
        assert 0 <= int(headers[f"anthropic-ratelimit-{dimension}-remaining"]) < limit
        reset = datetime.fromisoformat(headers[f"anthropic-ratelimit-{dimension}-reset"])
        assert reset.tzinfo is not None


async def test_reply_is_truncated_to_max_tokens(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(**{**messages_body("a long enough sentence"), "max_tokens": 3})
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: a long"
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


async def test_nothing_to_echo_replies_ok(client: anthropic.AsyncAnthropic) -> None:
    body = messages_body()
    body["messages"] = [
        {"role": "user", "content": "call the tool"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
    ]
    message = await client.messages.create(**body)
    assert message.content[0].type == "text"
    assert message.content[0].text == "ok"


async def test_stream_text_and_usage_equal_the_json_reply(client: anthropic.AsyncAnthropic) -> None:
    body = messages_body("Stream me a reply, please, in several chunks.")
    plain = await client.messages.create(**body)
    async with client.messages.stream(**body) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        streamed = await stream.get_final_message()
    assert plain.content[0].type == "text"
    assert text == plain.content[0].text
    assert streamed.usage.model_dump() == plain.usage.model_dump()
    assert streamed.stop_reason == plain.stop_reason


async def test_stream_true_yields_the_raw_events(client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(**messages_body("raw"), stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]


async def test_scripted_tool_use_streams_the_same_input(client: anthropic.AsyncAnthropic) -> None:
    tool_input = {"city": "Paris", "units": "metric", "days": [1, 2, 3], "note": 'naïve "quoted"'}
    reply = Reply([TextBlock("Let me check."), ToolUseBlock("get_weather", tool_input, id="toolu_1")])
    client_fake = FakeClaude(chunk_size=5)
    client_fake.enqueue(reply, reply)
    async with anthropic.AsyncAnthropic(
        base_url="http://fake-claude",
        api_key="unused",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=client_fake)),
    ) as sdk:
        plain = await sdk.messages.create(**messages_body())
        async with sdk.messages.stream(**messages_body()) as stream:
            streamed = await stream.get_final_message()
    for message in (plain, streamed):
        assert message.stop_reason == "tool_use"
        tool_use = message.content[1]
        assert tool_use.type == "tool_use"
        assert (tool_use.id, tool_use.name, tool_use.input) == ("toolu_1", "get_weather", tool_input)
    assert streamed.usage.model_dump() == plain.usage.model_dump()


async def test_tool_use_partial_json_is_cut_every_chunk_size_characters() -> None:
    fake = FakeClaude(chunk_size=3)
    fake.enqueue(Reply([ToolUseBlock("lookup", {"q": "abcdefg"})]))
    events = events_of(await call_asgi(fake, messages_body(stream=True)))
    assert events[1][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_fake_00000001_0",
        "name": "lookup",
        "input": {},
    }
    pieces = [data["delta"]["partial_json"] for name, data in events if name == "content_block_delta"]
    assert "".join(pieces) == '{"q":"abcdefg"}'
    assert all(len(piece) == 3 for piece in pieces[:-1])


async def test_usage_override_with_cache_fields(client: anthropic.AsyncAnthropic, fake: FakeClaude) -> None:
    body = messages_body("x" * 400)  # 100 prompt tokens
    usage = UsageOverride(cache_read_input_tokens=60, ephemeral_1h_input_tokens=10, web_search_requests=2)
    fake.enqueue(Reply(usage=usage), Reply(usage=usage))
    plain = await client.messages.create(**body)
    async with client.messages.stream(**body) as stream:
        streamed = await stream.get_final_message()
    assert plain.usage.input_tokens == 100 - 60 - 10  # input_tokens excludes cached tokens
    assert plain.usage.cache_read_input_tokens == 60
    assert plain.usage.cache_creation_input_tokens == 10
    assert plain.usage.cache_creation is not None
    assert plain.usage.cache_creation.ephemeral_1h_input_tokens == 10
    assert plain.usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert plain.usage.server_tool_use is not None
    assert plain.usage.server_tool_use.web_search_requests == 2
    assert streamed.usage.model_dump() == plain.usage.model_dump()


async def test_usage_override_replaces_any_field(client: anthropic.AsyncAnthropic, fake: FakeClaude) -> None:
    fake.enqueue(
        Reply("fixed", usage=UsageOverride(input_tokens=7, output_tokens=9, service_tier="priority"))
    )
    message = await client.messages.create(**messages_body())
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 9)
    assert message.usage.service_tier == "priority"
    assert message.content[0].type == "text"
    assert message.content[0].text == "fixed"


@pytest.mark.parametrize(
    ("behaviour", "exception", "error_type"),
    [
        pytest.param(
            ErrorResponse(429, headers={"retry-after": "3"}),
            anthropic.RateLimitError,
            "rate_limit_error",
            id="429",
        ),
        pytest.param(ErrorResponse(401), anthropic.AuthenticationError, "authentication_error", id="401"),
        pytest.param(ErrorResponse(403), anthropic.PermissionDeniedError, "permission_error", id="403"),
        pytest.param(ErrorResponse(413), anthropic.ContentTooLargeError, "request_too_large", id="413"),
        pytest.param(ErrorResponse(500), anthropic.InternalServerError, "api_error", id="500"),
        pytest.param(ErrorResponse(529), anthropic.OverloadedError, "overloaded_error", id="529"),
        pytest.param(
            StreamError(), anthropic.OverloadedError, "overloaded_error", id="stream-error-not-streaming"
        ),
    ],
)
async def test_scripted_errors_raise_the_sdk_typed_exception(
    client: anthropic.AsyncAnthropic,
    fake: FakeClaude,
    behaviour: ErrorResponse | StreamError,
    exception: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake.enqueue(behaviour)
    with pytest.raises(exception) as caught:
        await client.messages.create(**messages_body())
    error = caught.value
    assert type(error) is exception
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == error_type
    assert error.body["request_id"] == error.response.headers["request-id"]
    if error.status_code == 429:
        assert error.response.headers["retry-after"] == "3"
        assert error.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


async def test_sdk_retries_a_scripted_429(fake: FakeClaude) -> None:
    fake.enqueue(ErrorResponse(429, headers={"retry-after-ms": "1"}))
    async with anthropic.AsyncAnthropic(
        base_url="http://fake-claude",
        api_key=CANARY_API_KEY,
        max_retries=1,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake)),
    ) as sdk:
        message = await sdk.messages.create(**messages_body())
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: Hello there"
    assert [r.headers["x-stainless-retry-count"] for r in fake.messages_requests] == ["0", "1"]


async def test_mid_stream_error_event_raises_in_the_sdk(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    fake.enqueue(StreamError(1))
    received: list[str] = []

    async def read_stream() -> None:
        async with client.messages.stream(**messages_body()) as stream:
            async for piece in stream.text_stream:
                received.append(piece)

    with pytest.raises(anthropic.APIStatusError) as caught:
        await read_stream()
    assert received == ["echo: He"]
    assert caught.value.status_code == 200
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"


async def test_dropped_connection_in_process_raises_api_connection_error(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    fake.enqueue(DropConnection(2), DropConnection())
    with pytest.raises(anthropic.APIConnectionError) as caught:
        await client.messages.create(**messages_body(), stream=True)
    assert isinstance(caught.value.__cause__, _behaviours.ConnectionDroppedError)
    with pytest.raises(anthropic.APIConnectionError):
        await client.messages.create(**messages_body())


async def test_hold_without_release_times_out_into_a_drop(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    fake.enqueue(Hold(threading.Event(), timeout=0.05))
    with pytest.raises(anthropic.APIConnectionError):
        await client.messages.create(**messages_body())


class Gate:
    """A Hold release that also tells the test when the fake started waiting on it."""

    def __init__(self) -> None:
        self.polled = asyncio.Event()
        self.open = False

    def is_set(self) -> bool:
        self.polled.set()
        return self.open


async def test_hold_in_process_with_any_is_set_object(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    gate = Gate()
    fake.enqueue(Hold(gate))
    call = asyncio.create_task(client.messages.create(**messages_body()))
    await asyncio.wait_for(gate.polled.wait(), TIMEOUT)
    assert len(fake.messages_requests) == 1
    assert not call.done()
    gate.open = True
    message = await asyncio.wait_for(call, TIMEOUT)
    assert message.stop_reason == "end_turn"


async def test_slow_stream_delivers_everything(client: anthropic.AsyncAnthropic, fake: FakeClaude) -> None:
    fake.enqueue(SlowStream(0.001), SlowStream(0.001))
    async with client.messages.stream(**messages_body()) as stream:
        streamed = await stream.get_final_message()
    plain = await client.messages.create(**messages_body())
    for message in (streamed, plain):
        assert message.content[0].type == "text"
        assert message.content[0].text == "echo: Hello there"


async def test_count_tokens_matches_messages_usage(client: anthropic.AsyncAnthropic) -> None:
    tools: list[Any] = [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": {"type": "object", "properties": {}},
        }
    ]
    body = messages_body(
        "How is the weather?", system=[{"type": "text", "text": "You are terse."}], tools=tools
    )
    counted = await client.messages.count_tokens(
        model=MODEL, messages=body["messages"], system=body["system"], tools=tools
    )
    message = await client.messages.create(**body)
    assert counted.input_tokens == message.usage.input_tokens == count_input_tokens(body)
    tools_chars = len(json.dumps(tools, separators=(",", ":")))
    assert counted.input_tokens == -(-(len("You are terse.") + len("How is the weather?") + tools_chars) // 4)


async def test_authentication(fake: FakeClaude) -> None:
    transport = httpx2.ASGITransport(app=fake)
    async with anthropic.AsyncAnthropic(
        base_url="http://fake-claude",
        api_key="sk-ant-wrong",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as wrong:
        with pytest.raises(anthropic.AuthenticationError):
            await wrong.messages.create(**messages_body())
    async with anthropic.AsyncAnthropic(
        base_url="http://fake-claude",
        auth_token=CANARY_API_KEY,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as bearer:
        message = await bearer.messages.create(**messages_body())
    assert message.stop_reason == "end_turn"
    assert fake.last.headers["authorization"] == f"Bearer {CANARY_API_KEY}"
    assert "x-api-key" not in fake.last.headers


async def test_auth_failure_does_not_consume_the_script(raw: httpx2.AsyncClient, fake: FakeClaude) -> None:
    fake.enqueue(ErrorResponse(500))
    response = await raw.post("/v1/messages", json=messages_body(), headers={"x-api-key": "nope"})
    assert response.status_code == 401
    assert fake.pending == 1


@pytest.mark.parametrize(
    ("content", "status", "error_type", "message_part"),
    [
        pytest.param(b"{not json", 400, "invalid_request_error", "not valid JSON", id="invalid-json"),
        pytest.param(b"[1, 2]", 400, "invalid_request_error", "JSON object", id="not-an-object"),
        *[
            pytest.param(
                json.dumps({k: v for k, v in messages_body().items() if k != field}).encode(),
                400,
                "invalid_request_error",
                f"{field}: Field required",
                id=f"missing-{field}",
            )
            for field in ("model", "max_tokens", "messages")
        ],
        pytest.param(
            json.dumps({**messages_body(), "max_tokens": 0}).encode(),
            400,
            "invalid_request_error",
            "max_tokens",
            id="max-tokens-zero",
        ),
    ],
)
async def test_invalid_requests_get_400(
    raw: httpx2.AsyncClient, content: bytes, status: int, error_type: str, message_part: str
) -> None:
    response = await raw.post("/v1/messages", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error_type
    assert message_part in payload["error"]["message"]
    assert payload["request_id"] == response.headers["request-id"]


async def test_unknown_path_and_wrong_method(raw: httpx2.AsyncClient) -> None:
    missing = await raw.post("/v1/complete", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    wrong_method = await raw.get("/v1/messages")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["type"] == "error"


async def test_model_default_accepts_a_request_without_model(raw: httpx2.AsyncClient) -> None:
    fake = FakeClaude(model_default="claude-haiku-4-5")
    body = {k: v for k, v in messages_body().items() if k != "model"}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake), base_url="http://f") as plain:
        response = await plain.post("/v1/messages", json=body)
    assert response.status_code == 200
    assert response.json()["model"] == "claude-haiku-4-5"


async def test_request_too_large() -> None:
    fake = FakeClaude(max_request_bytes=64)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake), base_url="http://f") as plain:
        response = await plain.post("/v1/messages", json=messages_body("x" * 100))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


# --- scripting and the record ---------------------------------------------------------------------


async def test_queue_is_fifo_then_always_then_echo(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    fake.always(Reply("always"))
    fake.enqueue(Reply("one"), Reply("two"))
    texts = []
    for _ in range(3):
        message = await client.messages.create(**messages_body())
        assert message.content[0].type == "text"
        texts.append(message.content[0].text)
    assert texts == ["one", "two", "always"]
    fake.reset()
    assert fake.requests == []
    message = await client.messages.create(**messages_body())
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: Hello there"


def test_behaviours_validate_their_arguments() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        ErrorResponse(200)
    with pytest.raises(ValueError, match="negative"):
        DropConnection(-1)
    with pytest.raises(TypeError):
        Reply([{"type": "text", "text": "raw dicts are not blocks"}])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        FakeClaude().enqueue("not a behaviour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        FakeClaude(chunk_size=0)
    shown = repr(FakeClaude(api_key="sk-ant-not-in-repr"))
    assert "api_key=set" in shown
    assert "not-in-repr" not in shown


async def test_record(raw: httpx2.AsyncClient, fake: FakeClaude) -> None:
    with pytest.raises(LookupError):
        _ = fake.last
    await raw.post("/v1/messages", json=messages_body("recorded"), headers={"X-Custom": "Yes"})
    await raw.post(
        "/v1/messages/count_tokens", json={"model": MODEL, "messages": messages_body()["messages"]}
    )
    await raw.get("/elsewhere")
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("GET", "/elsewhere"),
    ]
    first = fake.messages_requests
    assert len(first) == 1
    assert first[0].headers["x-custom"] == "Yes"
    assert first[0].headers["x-api-key"] == CANARY_API_KEY
    assert first[0].json == messages_body("recorded")
    assert json.loads(first[0].body) == first[0].json
    assert first[0].received_at.tzinfo is not None
    assert fake.last.path == "/elsewhere"
    assert fake.last.json is None


async def test_concurrent_requests_do_not_mix(client: anthropic.AsyncAnthropic, fake: FakeClaude) -> None:
    fake.enqueue(*[Reply(f"scripted {i}") for i in range(10)])
    calls = [client.messages.create(**messages_body(f"caller {i}")) for i in range(20)]
    streams = [client.messages.create(**messages_body(f"streamer {i}"), stream=True) for i in range(5)]
    results = await asyncio.gather(*calls)
    texts = [m.content[0].text for m in results if m.content[0].type == "text"]
    assert sorted(t for t in texts if t.startswith("scripted")) == sorted(f"scripted {i}" for i in range(10))
    echoes = [t for t in texts if t.startswith("echo:")]
    assert len(echoes) == 10
    assert all(t.removeprefix("echo: caller ").isdigit() for t in echoes)
    for stream in await asyncio.gather(*streams):
        assert [event.type async for event in stream][-1] == "message_stop"
    assert len({m.id for m in results}) == 20
    assert len(fake.messages_requests) == 25
    assert fake.pending == 0


# --- a real server ----------------------------------------------------------------------------------


@pytest.mark.server
def test_sync_sdk_over_a_real_server(server: RunningServer, fake: FakeClaude) -> None:
    with anthropic.Anthropic(
        base_url=server.url, api_key=CANARY_API_KEY, max_retries=0, timeout=TIMEOUT
    ) as sdk:
        plain = sdk.messages.create(**messages_body("over the wire"))
        with sdk.messages.stream(**messages_body("over the wire")) as stream:
            text = "".join(stream.text_stream)
            streamed = stream.get_final_message()
    assert plain.content[0].type == "text"
    assert text == plain.content[0].text == "echo: over the wire"
    assert streamed.usage.model_dump() == plain.usage.model_dump()
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert len(fake.messages_requests) == 2  # read from the test thread while the server thread runs


@pytest.mark.server
async def test_async_sdk_streams_over_a_real_server(server: RunningServer, fake: FakeClaude) -> None:
    fake.enqueue(Reply([ToolUseBlock("search", {"query": "fake upstreams"})]))
    async with (
        anthropic.AsyncAnthropic(
            base_url=server.url, api_key=CANARY_API_KEY, max_retries=0, timeout=TIMEOUT
        ) as sdk,
        sdk.messages.stream(**messages_body()) as stream,
    ):
        message = await stream.get_final_message()
    assert message.content[0].type == "tool_use"
    assert message.content[0].input == {"query": "fake upstreams"}


@pytest.mark.server
def test_dropped_connection_over_a_real_server(server: RunningServer, fake: FakeClaude) -> None:
    fake.enqueue(DropConnection(4), DropConnection())
    received: list[str] = []
    with anthropic.Anthropic(
        base_url=server.url, api_key=CANARY_API_KEY, max_retries=0, timeout=TIMEOUT
    ) as sdk:

        def read_stream() -> None:
            with sdk.messages.stream(**messages_body()) as stream:
                received.extend(stream.text_stream)

        # Older SDKs let the httpx2 error raised while reading a stream body surface as it is; newer ones
        # (2.17) wrap it in APIConnectionError. Either way the cause is the incomplete chunked read.
        with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as dropped:
            read_stream()
        error = dropped.value
        cause = error if isinstance(error, httpx2.RemoteProtocolError) else error.__cause__
        assert isinstance(cause, httpx2.RemoteProtocolError)
        assert "incomplete chunked read" in str(cause)
        assert received == ["echo: He"]
        with pytest.raises(anthropic.APIConnectionError) as caught:
            sdk.messages.create(**messages_body())
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)


@pytest.mark.server
def test_hold_releases_the_stream_when_the_test_sets_the_event(
    server: RunningServer, fake: FakeClaude
) -> None:
    release = threading.Event()
    fake.enqueue(Hold(release))
    seen: list[str] = []
    with (
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
        http.stream(
            "POST",
            "/v1/messages",
            json=messages_body(stream=True),
            headers={"x-api-key": CANARY_API_KEY},
        ) as response,
    ):
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: "):
                seen.append(line.removeprefix("event: "))
            if seen[-1:] == ["content_block_delta"] and line.startswith("data: "):
                break
        assert seen == ["message_start", "content_block_start", "ping", "content_block_delta"]
        assert not release.is_set()
        release.set()
        seen.extend(line.removeprefix("event: ") for line in lines if line.startswith("event: "))
    assert seen[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert seen.count("content_block_delta") == len(_chunks("echo: Hello there", fake.chunk_size))


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.server
def test_serve_stops_cleanly() -> None:
    with serve(FakeClaude()) as running:
        assert (
            httpx.post(f"{running.url}/v1/messages/count_tokens", json={}, timeout=TIMEOUT).status_code == 400
        )
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url, timeout=TIMEOUT)


# --- the pytest plugin, docs and docstrings ---------------------------------------------------------------


def test_pytest_plugin_fixtures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # only the plugin under test: whether claude-guard's entry point is installed must not matter
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        """
        import httpx
        from claude_guard.testing import FakeClaude, Reply

        def test_fake(fake_claude):
            assert isinstance(fake_claude, FakeClaude)
            assert fake_claude.api_key == "sk-ant-fake-upstream-canary-0000"

        def test_server(fake_claude_server, fake_claude):
            assert fake_claude_server.fake is fake_claude
            fake_claude.enqueue(Reply("served"))
            response = httpx.post(
                fake_claude_server.url + "/v1/messages",
                headers={"x-api-key": fake_claude.api_key},
                json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
            assert response.json()["content"] == [{"type": "text", "text": "served"}]
            assert fake_claude.last.json["model"] == "m"
        """
    )
    result = pytester.runpytest("-p", "claude_guard.testing.pytest_plugin")
    result.assert_outcomes(passed=2)


def test_plugin_import_stays_cheap() -> None:
    code = (
        "import sys, claude_guard.testing.pytest_plugin\n"
        "loaded = [m for m in ('uvicorn', 'starlette', 'fastapi') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("module", [_fake, _tokens, _server], ids=["fake", "tokens", "server"])
def test_docstring_examples(module: Any) -> None:
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failures == 0


def test_docs_examples_compile_and_import_real_names() -> None:
    import claude_guard.testing as testing

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) > len(RUNNABLE_DOC_BLOCKS) > 0
    for block in blocks:
        for node in ast.walk(ast.parse(block, str(DOCS))):
            if isinstance(node, ast.ImportFrom) and node.module == "claude_guard.testing":
                for alias in node.names:
                    assert alias.name in testing.__all__, alias.name


@pytest.mark.parametrize(
    "block", RUNNABLE_DOC_BLOCKS, ids=lambda block: re.findall(r"def (test_\w+)", block)[0]
)
async def test_docs_runnable_examples(block: str) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOCS), "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests
    for function in tests:
        parameters = inspect.signature(function).parameters
        fake = FakeClaude(api_key=CANARY_API_KEY)
        with contextlib.ExitStack() as stack:
            kwargs: dict[str, Any] = {}
            if "fake_claude" in parameters:
                kwargs["fake_claude"] = fake
            if "fake_claude_server" in parameters:
                running = stack.enter_context(serve(fake))
                kwargs["fake_claude_server"] = FakeClaudeServer(fake=fake, url=running.url, port=running.port)
            result = function(**kwargs)
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, TIMEOUT)
