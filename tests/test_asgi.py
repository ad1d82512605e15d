"""Body capture with a cap, replay, and send wrappers, at the raw ASGI tier: a scripted ``receive`` and a
``send`` that records every message."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any

import pytest

from _asgi_tools import Recorder
from claude_guard._asgi import (
    ClientDisconnected,
    add_response_headers,
    ensure_body,
    header,
    observe_send,
    read_body,
    replay_receive,
)
from claude_guard.context import SCOPE_KEY, GuardContext
from claude_guard.errors import RequestTooLargeError
from claude_guard.middleware import RequestLimitsMiddleware, SafeErrorMiddleware

TIMEOUT = 5.0


class ScriptedReceive:
    """Hands out the scripted messages in order and counts the calls; past the script it fails the test."""

    def __init__(self, messages: Iterable[dict[str, Any]]) -> None:
        self.messages = list(messages)
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls > len(self.messages):
            raise AssertionError(f"receive called {self.calls} times, past the script")
        await asyncio.sleep(0)
        return self.messages[self.calls - 1]


def chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


def http_scope(
    method: str = "POST", path: str = "/v1/messages", headers: Iterable[tuple[bytes, bytes]] = ()
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": list(headers),
        "client": ("127.0.0.1", 5000),
    }


class EchoApp:
    """Reads the body through whatever ``receive`` it is given, then answers with it."""

    def __init__(self) -> None:
        self.called = False
        self.received: list[dict[str, Any]] = []
        self.receive: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        self.receive = receive
        body = b""
        while True:
            message = await receive()
            self.received.append(message)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


# --- read_body ----------------------------------------------------------------------------------------


async def test_content_length_over_the_cap_refuses_without_reading() -> None:
    receive = ScriptedReceive(chunks(b"x" * 200))
    scope = http_scope(headers=[(b"content-length", b"200")])
    with pytest.raises(RequestTooLargeError):
        await read_body(receive, scope, limit=100)
    assert receive.calls == 0


@pytest.mark.parametrize(
    "headers",
    [[(b"content-length", b"10")], [], [(b"content-length", b"not-a-number")]],
    ids=["lying-header", "no-header", "bad-header"],
)
async def test_counted_chunks_stop_at_the_cap(headers: list[tuple[bytes, bytes]]) -> None:
    # the third chunk crosses the cap: nothing after it is read
    receive = ScriptedReceive(chunks(b"a" * 40, b"b" * 40, b"c" * 40, b"d" * 40, b"e" * 40))
    with pytest.raises(RequestTooLargeError):
        await read_body(receive, http_scope(headers=headers), limit=100)
    assert receive.calls == 3


async def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    receive = ScriptedReceive(chunks(b"a" * 60, b"b" * 40))
    assert await read_body(receive, http_scope(headers=[(b"content-length", b"100")]), limit=100) == (
        b"a" * 60 + b"b" * 40
    )
    with pytest.raises(RequestTooLargeError):
        await read_body(ScriptedReceive(chunks(b"a" * 101)), http_scope(), limit=100)


async def test_chunked_bodies_are_reassembled() -> None:
    parts = [b'{"model":', b"", b' "claude"', b", ", '"x": "é'.encode(), b'"}', b""]
    receive = ScriptedReceive(chunks(*parts))
    body = await read_body(receive, http_scope(), limit=1000)
    assert body == b"".join(parts)
    assert json.loads(body) == {"model": "claude", "x": "é"}
    assert receive.calls == len(parts)


async def test_a_body_split_inside_a_utf8_character_is_reassembled() -> None:
    raw = '{"t": "€"}'.encode()
    cut = raw.index(b"\xe2") + 1
    body = await read_body(ScriptedReceive(chunks(raw[:cut], raw[cut:])), http_scope(), limit=100)
    assert body == raw


async def test_disconnect_mid_body_raises_client_disconnected() -> None:
    receive = ScriptedReceive([*chunks(b"a" * 10, b"b")[:1], {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnected):
        await read_body(receive, http_scope(), limit=100)


async def test_unknown_messages_are_skipped() -> None:
    receive = ScriptedReceive([{"type": "http.something"}, *chunks(b"ok")])
    assert await read_body(receive, http_scope(), limit=100) == b"ok"


def test_header_lookup() -> None:
    scope = http_scope(headers=[(b"Content-Type", b"application/json"), (b"x-a", b"1"), (b"x-a", b"2")])
    assert header(scope, b"content-type") == b"application/json"
    assert header(scope, b"x-a") == b"1"
    assert header(scope, b"x-missing") is None
    assert header({"type": "http"}, b"x-a") is None


# --- replay -------------------------------------------------------------------------------------------


async def test_replay_gives_the_exact_body_then_defers_to_the_original() -> None:
    later = {"type": "http.disconnect"}
    original = ScriptedReceive([later])
    replay = replay_receive(b"the exact body", original)
    assert await replay() == {"type": "http.request", "body": b"the exact body", "more_body": False}
    assert original.calls == 0
    assert await replay() is later
    assert original.calls == 1


async def test_ensure_body_captures_once() -> None:
    ctx = GuardContext(method="POST")
    original = ScriptedReceive(chunks(b"ab", b"cd"))
    replay = await ensure_body(ctx, http_scope(), original)
    assert ctx.body == b"abcd"
    assert original.calls == 2
    # a guard further in finds the body captured and passes the replay through untouched
    assert await ensure_body(ctx, http_scope(), replay) is replay
    assert (await replay())["body"] == b"abcd"


async def test_ensure_body_uses_the_request_cap() -> None:
    ctx = GuardContext(method="POST", max_body_bytes=3)
    with pytest.raises(RequestTooLargeError):
        await ensure_body(ctx, http_scope(), ScriptedReceive(chunks(b"abcd")))
    assert ctx.body is None


# --- through RequestLimitsMiddleware ------------------------------------------------------------------


async def test_middleware_413_on_content_length_without_reading() -> None:
    app = EchoApp()
    receive = ScriptedReceive(chunks(b"x" * 2000))
    send = Recorder()
    scope = http_scope(headers=[(b"content-length", b"2000")])
    await RequestLimitsMiddleware(app, max_body_bytes=1000)(scope, receive, send)
    assert receive.calls == 0
    assert not app.called
    assert send.status == 413
    assert send.json()["error"]["type"] == "request_too_large"
    assert send.json()["request_id"] == scope[SCOPE_KEY].request_id
    assert send.headers[b"request-id"] == scope[SCOPE_KEY].request_id.encode()


@pytest.mark.parametrize(
    "headers", [[(b"content-length", b"5")], []], ids=["lying-content-length", "no-content-length"]
)
async def test_middleware_413_on_counted_chunks(headers: list[tuple[bytes, bytes]]) -> None:
    app = EchoApp()
    receive = ScriptedReceive(chunks(*([b"y" * 100] * 50)))
    send = Recorder()
    await RequestLimitsMiddleware(app, max_body_bytes=250)(http_scope(headers=headers), receive, send)
    assert receive.calls == 3
    assert not app.called
    assert send.status == 413


async def test_middleware_hands_the_app_the_reassembled_body() -> None:
    app = EchoApp()
    parts = [b"{", b'"a"', b"", b":", b"1}"]
    send = Recorder()
    scope = http_scope()
    await RequestLimitsMiddleware(app)(scope, ScriptedReceive(chunks(*parts)), send)
    assert app.received == [{"type": "http.request", "body": b'{"a":1}', "more_body": False}]
    assert scope[SCOPE_KEY].body == b'{"a":1}'
    assert (send.status, send.body) == (200, b'{"a":1}')


async def test_middleware_replay_defers_to_the_original_receive() -> None:
    later = {"type": "http.disconnect"}
    original = ScriptedReceive([*chunks(b"hello"), later])
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await RequestLimitsMiddleware(app)(http_scope(), original, Recorder())
    assert seen[0] == {"type": "http.request", "body": b"hello", "more_body": False}
    assert seen[1] is later
    assert original.calls == 2


async def test_middleware_disconnect_mid_body_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = EchoApp()
    send = Recorder()
    scope = http_scope()
    receive = ScriptedReceive([chunks(b"a", b"b")[0], {"type": "http.disconnect"}])
    await SafeErrorMiddleware(RequestLimitsMiddleware(app))(scope, receive, send)
    assert send.messages == []
    assert not app.called
    assert ("request", "client_disconnected") in [
        (d.protection, d.outcome) for d in scope[SCOPE_KEY].decisions
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
async def test_bodyless_methods_are_not_read(method: str) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(receive)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    receive = ScriptedReceive([])
    await RequestLimitsMiddleware(app, max_body_bytes=1)(
        http_scope(method, headers=[(b"content-length", b"999")]), receive, Recorder()
    )
    assert seen == [receive]
    assert receive.calls == 0


# --- send wrappers ---------------------------------------------------------------------------------------


async def test_observe_send_forwards_first_and_survives_a_failing_observer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order: list[str] = []

    async def send(message: Any) -> None:
        order.append(f"sent {message['n']}")

    def observer(message: Any) -> None:
        order.append(f"seen {message['n']}")
        if message["n"] == 2:
            raise ValueError("observer bug")

    observed = observe_send(send, observer)
    for n in (1, 2, 3):
        await observed({"type": "http.response.body", "n": n})
    assert order == ["sent 1", "seen 1", "sent 2", "seen 2", "sent 3", "seen 3"]
    failures = [r for r in caplog.records if r.name == "claude_guard"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


async def test_add_response_headers_only_touches_the_start() -> None:
    send = Recorder()
    wrapped = add_response_headers(send, lambda: [("ratelimit", '"rpm";r=1;t=2')])
    start = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}
    await wrapped(start)
    await wrapped({"type": "http.response.body", "body": b"x"})
    assert send.messages[0]["headers"] == [(b"a", b"1"), (b"ratelimit", b'"rpm";r=1;t=2')]
    assert start["headers"] == [(b"a", b"1")]  # the app's own message is not mutated
    assert send.messages[1] == {"type": "http.response.body", "body": b"x"}


async def test_middleware_never_holds_back_a_stream() -> None:
    release = asyncio.Event()
    send = Recorder()
    first_seen = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"event: one\n\n", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"event: two\n\n", "more_body": False})

    async def recording_send(message: Any) -> None:
        await send(message)
        if message.get("body") == b"event: one\n\n":
            first_seen.set()

    stack = SafeErrorMiddleware(RequestLimitsMiddleware(app, timeout=None))
    task = asyncio.create_task(stack(http_scope(), ScriptedReceive(chunks(b"{}")), recording_send))
    async with asyncio.timeout(TIMEOUT):
        await first_seen.wait()
    assert [m.get("body") for m in send.messages] == [None, b"event: one\n\n"]
    release.set()
    async with asyncio.timeout(TIMEOUT):
        await task
    assert send.body == b"event: one\n\nevent: two\n\n"
