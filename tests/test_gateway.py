"""The reference gateway over a real server: the official SDK as the client, FakeClaude as the upstream.

Both run under uvicorn on loopback ports. The gateway is built with ``create_app(ClaudeGuard(...))`` with the
upstream key from an ``EnvSecretSource`` holding a canary; callers use claude_guard client keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard._json import dumps_forward
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import (
    ErrorResponse,
    FakeClaude,
    Hold,
    Reply,
    StreamError,
    UsageOverride,
    count_input_tokens,
    serve,
)

pytestmark = pytest.mark.server

CANARY = "sk-ant-fake-upstream-canary-0000"
MODEL = "claude-sonnet-4-6"
TIMEOUT = 5.0
LONG_TEXT = "Please stream this sentence back to me in several small pieces."


class DisconnectSpy:
    """Wraps the upstream app to see, from the upstream's side, when a connection is closed by the gateway."""

    def __init__(self, app: FakeClaude) -> None:
        self.app = app
        self.disconnected = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def spying_receive() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected.set()
            return message

        await self.app(scope, spying_receive, send)


class Gateway:
    def __init__(self, url: str, fake: FakeClaude, spy: DisconnectSpy, keys: dict[str, str]) -> None:
        self.url = url
        self.fake = fake
        self.spy = spy
        self.key = keys["admin"]
        self.analysis_key = keys["analysis"]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    fake = FakeClaude(api_key=CANARY)
    spy = DisconnectSpy(fake)
    with serve(spy) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": CANARY}),
                api_url=upstream.url,
            )
        )

        async def issue() -> dict[str, str]:
            return {
                profile: (await guard.keys.create(profile=profile, environment="development")).key
                for profile in ("admin", "analysis")
            }

        keys = asyncio.run(issue())
        with serve(create_app(guard)) as server:
            yield Gateway(server.url, fake, spy, keys)


@pytest.fixture(autouse=True)
def fresh(gateway: Gateway) -> None:
    gateway.fake.reset()
    gateway.spy.disconnected.clear()


@pytest.fixture
def sdk(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=TIMEOUT
    ) as client:
        yield client


@pytest.fixture
async def async_sdk(gateway: Gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=TIMEOUT
    ) as client:
        yield client


def body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}], **extra}


SCRIPTED = Reply(
    "A scripted answer, long enough to arrive in several deltas.",
    stop_reason="stop_sequence",
    stop_sequence="END",
    usage=UsageOverride(
        input_tokens=17, output_tokens=9, cache_read_input_tokens=4, ephemeral_1h_input_tokens=2
    ),
)
EXPECTED_USAGE = {
    "input_tokens": 17,
    "output_tokens": 9,
    "cache_read_input_tokens": 4,
    "cache_creation_input_tokens": 2,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2},
    "service_tier": "standard",
}


def _check_scripted(message: anthropic.types.Message) -> None:
    assert message.id.startswith("msg_fake_")
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "A scripted answer, long enough to arrive in several deltas."  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert message.usage.model_dump(exclude_none=True) == EXPECTED_USAGE


def _check_upstream_saw_only_the_upstream_key(gateway: Gateway, *client_keys: str) -> None:
    recorded = gateway.fake.last
    assert recorded.headers["x-api-key"] == CANARY
    assert "authorization" not in recorded.headers
    # relayed byte for byte, so it must come uncompressed
    assert recorded.headers["accept-encoding"] == "identity"
    for key in client_keys:
        assert key not in json.dumps(recorded.headers)
        assert key.encode() not in recorded.body


# --- the Messages API through the gateway ---------------------------------------------------------------


def test_sync_sdk_gets_exactly_the_upstream_message(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    gateway.fake.enqueue(SCRIPTED)
    raw = sdk.messages.with_raw_response.create(**body())
    message = raw.parse()
    _check_scripted(message)
    # our request id is the one the caller sees; the upstream's is kept beside it
    assert raw.headers["request-id"].startswith("req_")
    assert not raw.headers["request-id"].startswith("req_fake_")
    assert raw.headers["upstream-request-id"] == message.id.replace("msg_", "req_")
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "1000"
    _check_upstream_saw_only_the_upstream_key(gateway, gateway.key)


async def test_async_sdk_gets_exactly_the_upstream_message(
    gateway: Gateway, async_sdk: anthropic.AsyncAnthropic
) -> None:
    gateway.fake.enqueue(SCRIPTED)
    _check_scripted(await async_sdk.messages.create(**body()))


def test_the_default_echo(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**body("Hello gateway"))
    assert message.content[0].text == "echo: Hello gateway"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == count_input_tokens(body("Hello gateway"))


def test_sync_sdk_streaming(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    gateway.fake.enqueue(SCRIPTED)
    with sdk.messages.stream(**body()) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(texts) > 1
    assert "".join(texts) == "A scripted answer, long enough to arrive in several deltas."
    _check_scripted(final)
    assert gateway.fake.last.json["stream"] is True


async def test_async_sdk_streaming(gateway: Gateway, async_sdk: anthropic.AsyncAnthropic) -> None:
    gateway.fake.enqueue(SCRIPTED)
    events: list[str] = []
    async with async_sdk.messages.stream(**body()) as stream:
        async for event in stream:
            events.append(event.type)
        final = await stream.get_final_message()
    _check_scripted(final)
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert "content_block_delta" in events


async def test_raw_create_with_stream_true(gateway: Gateway, async_sdk: anthropic.AsyncAnthropic) -> None:
    gateway.fake.enqueue(SCRIPTED)
    stream = await async_sdk.messages.create(**body(), stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]


def test_count_tokens_is_forwarded(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    request = {
        "model": MODEL,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Count these tokens, please."}],
    }
    result = sdk.messages.count_tokens(**request)
    assert result.input_tokens == count_input_tokens(request)
    assert gateway.fake.last.path == "/v1/messages/count_tokens"
    assert gateway.fake.last.json == request
    _check_upstream_saw_only_the_upstream_key(gateway, gateway.key)


def test_unknown_fields_are_forwarded_untouched(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    future = {"nested": [1, "two", None, {"deep": True}], "unicode": "ünïcødé ✓"}
    sdk.messages.create(**body(), extra_body={"future_field": future, "service_tier": "auto"})
    sent = gateway.fake.last.json
    assert sent["future_field"] == future
    assert sent["service_tier"] == "auto"
    assert sent["messages"] == body()["messages"]


def test_the_body_is_forwarded_as_checked(gateway: Gateway) -> None:
    # The upstream gets the value the guard checked, serialized again (docs/request-coverage.md), never the
    # caller's bytes: same value, unknown fields kept, key order kept, compact and UTF-8.
    raw = (
        b'{ "model" : "claude-sonnet-4-6",\n  "max_tokens": 64, "messages": [{"role": "user", '
        b'"content": "caf\\u00e9 \xe2\x9c\x93"}], "zz_unknown": {"b": 1, "a": [1.0, 2e3]} }'
    )
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        content=raw,
        headers={"x-api-key": gateway.key, "content-type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert json.loads(gateway.fake.last.body) == json.loads(raw)
    assert gateway.fake.last.body == dumps_forward(json.loads(raw))


@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
def test_the_client_key_never_reaches_the_upstream(gateway: Gateway, how: str) -> None:
    credentials = {"api_key": gateway.key} if how == "x-api-key" else {"auth_token": gateway.key}
    with anthropic.Anthropic(base_url=gateway.url, max_retries=0, timeout=TIMEOUT, **credentials) as client:  # type: ignore[arg-type]
        client.messages.create(
            **body(),
            extra_headers={
                "anthropic-beta": "future-feature-2099-01-01",
                "x-custom-secret": "do-not-forward",
            },
        )
    recorded = gateway.fake.last
    _check_upstream_saw_only_the_upstream_key(gateway, gateway.key)
    assert recorded.headers["anthropic-beta"] == "future-feature-2099-01-01"
    assert "x-custom-secret" not in recorded.headers


def test_a_missing_or_bad_client_key_never_reaches_the_upstream(gateway: Gateway) -> None:
    missing = httpx.post(f"{gateway.url}/v1/messages", json=body(), timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    for key in ("cg_dev_aaaaaaaaaaaa_" + "A" * 43, "sk-not-a-guard-key"):
        with (
            anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=TIMEOUT) as client,
            pytest.raises(anthropic.AuthenticationError) as caught,
        ):
            client.messages.create(**body())
        assert caught.value.status_code == 401
        assert key not in caught.value.response.text
    assert gateway.fake.requests == []


# --- upstream errors --------------------------------------------------------------------------------------


def _error_body(exc: anthropic.APIStatusError) -> dict[str, Any]:
    payload = exc.response.json()
    assert payload["type"] == "error"
    assert payload["request_id"] == exc.response.headers["request-id"]
    assert payload["request_id"].startswith("req_")
    assert not payload["request_id"].startswith("req_fake")
    assert CANARY not in exc.response.text
    return payload["error"]  # type: ignore[no-any-return]


def test_upstream_429_is_a_rate_limit_error_with_retry_after(
    gateway: Gateway, sdk: anthropic.Anthropic
) -> None:
    gateway.fake.enqueue(ErrorResponse(429, headers={"retry-after": "7"}))
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk.messages.create(**body())
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert _error_body(caught.value)["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("status", "sdk_error", "error_type"),
    [
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
    ],
)
def test_upstream_errors_become_the_sdks_typed_errors(
    gateway: Gateway, sdk: anthropic.Anthropic, status: int, sdk_error: type[Exception], error_type: str
) -> None:
    gateway.fake.enqueue(ErrorResponse(status, message=f"upstream internals for {CANARY}"))
    with pytest.raises(sdk_error) as caught:
        sdk.messages.create(**body())
    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == status
    assert _error_body(caught.value)["type"] == error_type


def test_upstream_401_is_the_gateways_problem_not_the_callers(
    gateway: Gateway, sdk: anthropic.Anthropic, caplog: pytest.LogCaptureFixture
) -> None:
    # The upstream refused the *gateway's* key. The caller's own key was accepted by the gateway, so a 401
    # would tell the caller to fix a key that is fine (and the SDK never retries it); what failed is the
    # gateway's link to its upstream: 502 api_error (Bad Gateway), with nothing of the upstream's answer.
    caplog.set_level(logging.ERROR, logger="claude_guard")
    gateway.fake.enqueue(ErrorResponse(401, message=f"invalid x-api-key {CANARY}"))
    with pytest.raises(anthropic.InternalServerError) as caught:
        sdk.messages.create(**body())
    assert caught.value.status_code == 502
    error = _error_body(caught.value)
    assert error == {
        "type": "api_error",
        "message": "The gateway could not authenticate to the upstream API.",
    }
    assert any("refused the gateway's key" in r.getMessage() for r in caplog.records)
    # the next request re-reads the key and goes through
    assert sdk.messages.create(**body()).content


def test_sse_error_event_mid_stream_raises_in_the_sdk(gateway: Gateway, sdk: anthropic.Anthropic) -> None:
    gateway.fake.enqueue(StreamError(after_deltas=1, type="overloaded_error", message="Overloaded"))
    texts: list[str] = []

    def consume() -> None:
        with sdk.messages.stream(**body(LONG_TEXT)) as stream:
            texts.extend(stream.text_stream)

    with pytest.raises(anthropic.APIStatusError) as caught:
        consume()
    assert texts == ["echo: Pl"]
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_sse_error_event_mid_stream_raises_in_the_async_sdk(
    gateway: Gateway, async_sdk: anthropic.AsyncAnthropic
) -> None:
    gateway.fake.enqueue(StreamError(after_deltas=2, type="api_error", message="Internal server error."))

    async def consume() -> list[str]:
        async with async_sdk.messages.stream(**body(LONG_TEXT)) as stream:
            return [event.type async for event in stream]

    with pytest.raises(anthropic.APIStatusError) as caught:
        await consume()
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


# --- the app-style route and health ---------------------------------------------------------------------


def test_analyze_returns_the_upstream_echo(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/analyze",
        json={"task": "Summarise the checklist"},
        headers={"x-api-key": gateway.analysis_key},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    payload = response.json()
    assert payload["result"] == "echo: Summarise the checklist"
    assert payload["usage"]["input_tokens"] == count_input_tokens(
        {"messages": [{"role": "user", "content": "Summarise the checklist"}]}
    )
    recorded = gateway.fake.last
    # the SDK's egress hook sends the upstream key as a bearer token; the caller's key stays at the gateway
    assert recorded.headers["authorization"] == f"Bearer {CANARY}"
    assert gateway.analysis_key not in json.dumps(recorded.headers)


def test_healthz_needs_no_key(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/healthz", timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert gateway.fake.requests == []


# --- streaming is not buffered, and a client that leaves stops the upstream ---------------------------------


async def _read_until(chunks: AsyncIterator[bytes], buffer: bytearray, marker: bytes) -> None:
    async with asyncio.timeout(TIMEOUT):
        while marker not in buffer:
            buffer += await anext(chunks)


async def test_the_first_event_arrives_while_the_upstream_holds_the_rest(gateway: Gateway) -> None:
    release = threading.Event()
    # the hold outlasts our wait, so a buffering gateway fails this test instead of passing late
    gateway.fake.enqueue(Hold(release, after_deltas=1, timeout=4 * TIMEOUT))
    received = bytearray()
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream(
            "POST",
            f"{gateway.url}/v1/messages",
            json=body(LONG_TEXT, stream=True),
            headers={"x-api-key": gateway.key},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.aiter_raw()
        await _read_until(chunks, received, b"event: content_block_delta")
        assert not release.is_set()
        assert b"message_stop" not in received
        assert received.count(b"event: content_block_delta") == 1
        release.set()
        async with asyncio.timeout(TIMEOUT):
            async for chunk in chunks:
                received += chunk
    events = [
        json.loads(line[6:]) for line in bytes(received).decode().splitlines() if line.startswith("data: ")
    ]
    assert events[-1]["type"] == "message_stop"
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == f"echo: {LONG_TEXT}"


async def test_a_client_that_leaves_mid_stream_stops_the_upstream(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    release = threading.Event()  # never set: only the gateway closing the connection ends the hold early
    gateway.fake.enqueue(Hold(release, after_deltas=1, timeout=4 * TIMEOUT))
    received = bytearray()
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream(
            "POST",
            f"{gateway.url}/v1/messages",
            json=body(LONG_TEXT, stream=True),
            headers={"x-api-key": gateway.key},
        ) as response,
    ):
        await _read_until(response.aiter_raw(), received, b"event: content_block_delta")
        # leaving the block closes the half-read response, and with it the connection
    disconnected = await asyncio.to_thread(gateway.spy.disconnected.wait, TIMEOUT)
    assert disconnected, "the gateway kept the upstream stream open after its client left"
    assert not release.is_set()
    # nothing crashed: no error logged, and the gateway still serves
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        after = await client.post(
            f"{gateway.url}/v1/messages", json=body(), headers={"x-api-key": gateway.key}
        )
    assert after.status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


# --- bad input is a clear 4xx, never a 500 ----------------------------------------------------------------

NESTED_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error_type"),
    [
        pytest.param(
            b'{"model": "claude', "application/json", 400, "invalid_request_error", id="invalid-json"
        ),
        pytest.param(b"", "application/json", 400, "invalid_request_error", id="empty-body"),
        pytest.param(b'["a", "list"]', "application/json", 400, "invalid_request_error", id="a-list"),
        pytest.param(b'"a string"', "application/json", 400, "invalid_request_error", id="a-string"),
        pytest.param(b"null", "application/json", 400, "invalid_request_error", id="null"),
        pytest.param(b"{}", "text/plain", 415, "invalid_request_error", id="text-plain"),
        pytest.param(
            b"model=x", "application/x-www-form-urlencoded", 415, "invalid_request_error", id="form"
        ),
        pytest.param(b"{}", None, 415, "invalid_request_error", id="no-content-type"),
        pytest.param(b'{"model": "caf\xe9"}', "application/json", 400, "invalid_request_error", id="latin-1"),
        pytest.param(
            b'{"model": "\xff\xfe"}', "application/json", 400, "invalid_request_error", id="bad-utf8"
        ),
        pytest.param(
            NESTED_OBJECTS, "application/json", 400, "invalid_request_error", id="nested-100k-objects"
        ),
        pytest.param(
            NESTED_ARRAYS, "application/json", 400, "invalid_request_error", id="nested-100k-arrays"
        ),
    ],
)
def test_bad_input_is_a_clear_4xx(
    gateway: Gateway, content: bytes, content_type: str | None, status: int, error_type: str
) -> None:
    headers = {"x-api-key": gateway.key}
    if content_type is not None:
        headers["content-type"] = content_type
    response = httpx.post(f"{gateway.url}/v1/messages", content=content, headers=headers, timeout=TIMEOUT)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error_type
    assert payload["error"]["message"]
    assert payload["request_id"] == response.headers["request-id"]
    assert gateway.fake.requests == []


def _post_huge(
    url: str, key: str, *, chunked: bool, total: int = 100 * 1024 * 1024
) -> tuple[int, bytes, int]:
    """POST ``total`` bytes from a raw socket, sending a chunk only while no answer is waiting.

    Returns the status, the response body and how many body bytes were sent before the answer came.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    head = [
        "POST /v1/messages HTTP/1.1",
        f"host: {parts.hostname}:{parts.port}",
        "content-type: application/json",
        f"x-api-key: {key}",
        "transfer-encoding: chunked" if chunked else f"content-length: {total}",
    ]
    piece = b"x" * (256 * 1024)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
        except OSError:
            pass  # the server may close while we write; its answer is already on the way
        response = b""
        while b"\r\n\r\n" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
        head_raw, _, rest = response.partition(b"\r\n\r\n")
        lines = head_raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
    return status, rest[:length], sent


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked-no-content-length", "content-length"])
def test_a_100mb_body_is_refused_without_being_read(gateway: Gateway, chunked: bool) -> None:
    total = 100 * 1024 * 1024
    status, payload, sent = _post_huge(gateway.url, gateway.key, chunked=chunked, total=total)
    assert status == 413
    assert json.loads(payload)["error"]["type"] == "request_too_large"
    # the answer came long before the body could have been read: the cap is 10 MiB
    assert sent < total // 2
    assert gateway.fake.requests == []
