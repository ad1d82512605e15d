"""How `MessagesProxy` relays an upstream answer (real aiohttp client, FakeClaude served by uvicorn): a body
that came whole with the headers goes out as one message; one still arriving is relayed as it comes, with
the same bytes either way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from claude_guard import MessagesProxy
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, RunningServer, SlowStream, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeClaude, RunningServer]]:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as server:
        yield fake, server


async def relay(server: RunningServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    client = UpstreamClient(base_url=server.url, key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}))
    proxy = MessagesProxy(client)
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)  # the client never leaves
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await proxy(scope, receive, send)
    finally:
        await client.aclose()
    return sent


def bodies(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in sent if m["type"] == "http.response.body"]


REQUEST = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello there"}],
}


async def test_a_whole_answer_goes_out_as_one_message(upstream: tuple[FakeClaude, RunningServer]) -> None:
    sent = await relay(upstream[1], REQUEST)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    (only,) = bodies(sent)
    assert only["more_body"] is False
    assert json.loads(only["body"])["type"] == "message"
    lengths = [v for k, v in sent[0]["headers"] if k == b"content-length"]
    assert lengths == [str(len(only["body"])).encode()]  # known, so not sent chunked


async def test_a_stream_still_arriving_is_relayed_as_it_comes(
    upstream: tuple[FakeClaude, RunningServer],
) -> None:
    fake, server = upstream
    fake.enqueue(SlowStream(0.02))
    sent = await relay(server, {**REQUEST, "stream": True})
    parts = bodies(sent)
    assert len(parts) > 2  # events relayed one by one as they came, then the end of the body
    assert not [k for k, _ in sent[0]["headers"] if k == b"content-length"]  # not known when it starts
    assert parts[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    events = b"".join(p["body"] for p in parts).decode()
    assert events.startswith("event: message_start") and events.rstrip().endswith('{"type":"message_stop"}')


async def test_both_paths_relay_the_same_stream(upstream: tuple[FakeClaude, RunningServer]) -> None:
    fake, server = upstream
    fast = await relay(server, {**REQUEST, "stream": True})
    fake.enqueue(SlowStream(0.01))
    slow = await relay(server, {**REQUEST, "stream": True})

    def text(sent: list[dict[str, Any]]) -> str:
        return b"".join(p["body"] for p in bodies(sent)).decode()

    def without_ids(events: str) -> list[str]:
        return [line for line in events.splitlines() if '"id"' not in line]

    assert without_ids(text(fast)) == without_ids(text(slow))
