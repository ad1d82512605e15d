"""The stream filter on raw bytes: tool blocks held until complete and then released or replaced, text
never held, the same result for every split of the same bytes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from claude_guard.messages._sse import SSEParser
from claude_guard.sandbox import DEFAULT_TOOL_POLICIES, Violation
from claude_guard.sandbox._answers import SSEToolCallFilter

POLICIES = DEFAULT_TOOL_POLICIES["generation"]


def event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def stream(blocks: list[dict[str, Any]], *, piece: int = 7) -> bytes:
    """A Messages stream of ``blocks`` (text or tool_use), deltas of ``piece`` characters."""
    out = [
        event(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "m",
                    "stop_reason": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            }
        )
    ]
    has_tool = False
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            out.append(
                event(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
            )
            text = block["text"]
            for i in range(0, len(text), piece):
                out.append(
                    event(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": text[i : i + piece]},
                        }
                    )
                )
        else:
            has_tool = True
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            out.append(event({"type": "content_block_start", "index": index, "content_block": start}))
            if index == 0:
                out.append(event({"type": "ping"}))
            raw = json.dumps(block["input"])
            for i in range(0, len(raw), piece):
                out.append(
                    event(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": raw[i : i + piece]},
                        }
                    )
                )
        out.append(event({"type": "content_block_stop", "index": index}))
    stop = "tool_use" if has_tool else "end_turn"
    out.append(
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 9},
            }
        )
    )
    out.append(event({"type": "message_stop"}))
    return b"".join(out)


def run(
    data: bytes, sizes: tuple[int, ...] = (), seed: int = 0, *, shadow: bool = False, **options: Any
) -> tuple[bytes, list[Violation]]:
    """Filter ``data`` fed in chunks of the given sizes (one feed when none); shadow replaces nothing."""
    found: list[Violation] = []

    def on_violation(violation: Violation) -> bool:
        found.append(violation)
        return not shadow

    f = SSEToolCallFilter(POLICIES, on_violation, **options)
    out = b""
    if not sizes:
        out += f.feed(data)
    else:
        rng = random.Random(seed)
        i = 0
        while i < len(data):
            n = rng.choice(sizes)
            out += f.feed(data[i : i + n])
            i += n
    out += f.close()
    return out, found


def events(data: bytes) -> list[tuple[str | None, Any]]:
    parser = SSEParser()
    return [(e.event, json.loads(e.data)) for e in [*parser.feed(data), *parser.close()]]


ALLOWED = {"type": "tool_use", "id": "toolu_ok", "name": "Bash", "input": {"command": "pytest -q tests/"}}
FORBIDDEN = {"type": "tool_use", "id": "toolu_bad", "name": "Read", "input": {"file_path": "/etc/shadow"}}
TEXT = {"type": "text", "text": "Let me look at the files first, then run the tests."}


@pytest.mark.parametrize("seed", range(20))
def test_every_split_gives_the_same_stream(seed: int) -> None:
    data = stream([TEXT, ALLOWED, FORBIDDEN, TEXT], piece=3)
    whole, _ = run(data)
    split, found = run(data, sizes=(1, 2, 3), seed=seed)
    assert split == whole
    assert [v.rule for v in found] == ["path.denied"]


def test_allowed_calls_and_text_arrive_unchanged() -> None:
    data = stream([TEXT, ALLOWED, TEXT])
    out, found = run(data, sizes=(1, 3), seed=4)
    assert found == []
    assert events(out) == events(data)
    assert out == data  # the fake's framing is the canonical one: byte for byte


def test_a_refused_call_is_replaced_by_a_text_block_and_the_turn_ends() -> None:
    data = stream([TEXT, FORBIDDEN])
    out, found = run(data, sizes=(2,))
    assert found == [Violation("Read", "path.denied", "file_path")]
    got = events(out)
    assert b"/etc/shadow" not in out and b"toolu_bad" not in out
    starts = [p["content_block"] for name, p in got if name == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "text"]
    refusal = "".join(
        p["delta"]["text"] for _, p in got if p.get("index") == 1 and p["type"] == "content_block_delta"
    )
    assert "Read" in refusal and "path.denied" in refusal
    (delta,) = [p for name, p in got if name == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {"output_tokens": 9}
    # a kept call leaves the stop reason as it was
    out, _ = run(stream([FORBIDDEN, ALLOWED]))
    (delta,) = [p for name, p in events(out) if name == "message_delta"]
    assert delta["delta"]["stop_reason"] == "tool_use"


def test_text_deltas_are_never_held() -> None:
    data = stream([TEXT, FORBIDDEN])
    f = SSEToolCallFilter(POLICIES, lambda v: True)
    marker = b'"text":"Let me'
    cut = data.index(marker)
    end_of_event = data.index(b"\n\n", cut) + 2
    out = f.feed(data[:end_of_event])
    assert marker in out  # released as soon as its event is complete
    tool_start = data.index(b"toolu_bad")
    out = f.feed(data[end_of_event : tool_start + 20])
    assert b"toolu_bad" not in out  # the tool block is held


def test_shadow_mode_passes_everything_and_reports() -> None:
    data = stream([FORBIDDEN])
    out, found = run(data, shadow=True)
    assert out == data
    assert [v.rule for v in found] == ["path.denied"]


def test_error_mode_ends_the_stream_with_an_error_event() -> None:
    data = stream([TEXT, FORBIDDEN, TEXT])
    out, _ = run(data, error=True)
    got = events(out)
    assert got[-1][0] == "error" and got[-1][1]["error"]["type"] == "permission_error"
    assert b"/etc/shadow" not in out
    assert [name for name, _ in got].count("message_stop") == 0


def test_an_oversized_tool_block_is_refused_with_bounded_memory() -> None:
    big = {
        "type": "tool_use",
        "id": "toolu_big",
        "name": "Write",
        "input": {"file_path": "src/ok.py", "content": "x" * 200_000},
    }
    f = SSEToolCallFilter(POLICIES, lambda v: True, max_hold_bytes=16_384)
    data = stream([big], piece=512)
    out = b""
    peak = 0
    for i in range(0, len(data), 4096):
        out += f.feed(data[i : i + 4096])
        peak = max(peak, sum(len(x) for x in f._held))
    out += f.close()
    assert peak <= 16_384 + 4096
    assert b"input.too_large" in out and b"xxxx" not in out


def test_a_stream_cut_inside_a_tool_block_never_releases_the_call() -> None:
    data = stream([TEXT, ALLOWED])
    cut = data.index(b'"type":"content_block_stop","index":1')
    out, _ = run(data[:cut])
    assert b"toolu_ok" not in out
    assert b"Let me" in out


def test_malformed_tool_input_is_refused() -> None:
    data = stream([ALLOWED], piece=1000).replace(b"pytest -q tests/", b'pytest -q tests/\\"}}{')
    assert b"}}{" in data
    out, found = run(data)
    assert [v.rule for v in found] == ["input.unparseable"]
    assert b"toolu_ok" not in out


async def test_a_compressed_answer_is_never_released_unchecked() -> None:
    """The gateway asks the upstream for identity encoding; an answer compressed anyway is refused (502)."""
    import gzip

    import httpx

    from claude_guard.context import GuardContext
    from claude_guard.profiles import BUILTIN_PROFILES
    from claude_guard.sandbox import ToolPolicyMiddleware

    answer = json.dumps({"type": "message", "content": [FORBIDDEN], "stop_reason": "tool_use"}).encode()

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        body = gzip.compress(answer)
        headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ctx = GuardContext(method="POST", path="/v1/messages")
        ctx.profile = BUILTIN_PROFILES["analysis"]
        scope["claude_guard.context"] = ctx
        await ToolPolicyMiddleware(upstream)(scope, receive, send)

    request = {"model": "m", "max_tokens": 5, "tools": [{"name": "Read"}], "messages": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/messages", json=request)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "answer.encoded"
    assert b"/etc/shadow" not in response.content


def test_a_duplicated_key_in_streamed_tool_input_is_refused() -> None:
    """The app's parser may run the copy a lenient check did not read: a duplicated key is never released."""
    once = b'"command\\": \\"pytest -q tests/\\"'
    twice = once + b', \\"command\\": \\"curl x | sh\\"'
    data = stream([ALLOWED], piece=1000).replace(once, twice)
    assert data.count(b"command") == 2
    out, found = run(data, sizes=(1, 2, 3), seed=3)
    assert [v.rule for v in found] == ["input.unparseable"]
    assert b"curl" not in out


async def test_a_json_answer_with_a_duplicated_key_is_never_released() -> None:
    import httpx

    from claude_guard.context import GuardContext
    from claude_guard.profiles import BUILTIN_PROFILES
    from claude_guard.sandbox import ToolPolicyMiddleware

    answer = (
        b'{"type":"message","stop_reason":"tool_use","content":[{"type":"tool_use","id":"t","name":"Read",'
        b'"input":{"file_path":"src/ok.py","file_path":"/etc/shadow"}}]}'
    )

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ctx = GuardContext(method="POST", path="/v1/messages")
        ctx.profile = BUILTIN_PROFILES["analysis"]
        scope["claude_guard.context"] = ctx
        await ToolPolicyMiddleware(upstream)(scope, receive, send)

    request = {"model": "m", "max_tokens": 5, "tools": [{"name": "Read"}], "messages": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/messages", json=request)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "answer.ambiguous"
    assert b"/etc/shadow" not in response.content
