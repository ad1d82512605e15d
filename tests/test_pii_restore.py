"""Restoring placeholders: whole messages, text split anywhere, and Messages SSE streams."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_guard.messages._sse import SSEParser
from claude_guard.pii import SSERestorer, StreamRestorer
from claude_guard.pii._restore import restore_message

MAPPING = {
    "<EMAIL_ADDRESS_0123456789>": "ada@example.com",
    "<PERSON_abcdef0123>": 'Ada "the" Lovelace\\',
    "<US_SSN_9999999999>": "536-90-4399",
}
LONGEST = max(len(p) for p in MAPPING)

pieces = st.lists(
    st.sampled_from([*MAPPING, "<", "<EMAIL", "_", ">", "x", "é", "hello ", "<US_SSN_99", "\n", "<<"]),
    max_size=30,
)


def expected(text: str, mapping: dict[str, str]) -> str:
    for placeholder, value in mapping.items():
        text = text.replace(placeholder, value)
    return text


def splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    parts, last = [], 0
    for p in points:
        parts.append(text[last:p])
        last = p
    parts.append(text[last:])
    return parts


@settings(max_examples=300, deadline=None)
@given(pieces, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_stream_restorer_restores_under_any_split(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    restorer = StreamRestorer(MAPPING)
    out = []
    for piece in splits(text, cuts):
        out.append(restorer.feed(piece))
        assert restorer.held < LONGEST
    out.append(restorer.flush())
    assert "".join(out) == expected(text, MAPPING)


@settings(max_examples=200, deadline=None)
@given(pieces, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_stream_restorer_json_escapes_values(parts: list[str], cuts: list[int]) -> None:
    value = {"note": "".join(parts)}
    encoded = json.dumps(value, ensure_ascii=False)
    restorer = StreamRestorer(MAPPING, json_escaped=True)
    out = "".join(restorer.feed(p) for p in splits(encoded, cuts)) + restorer.flush()
    assert json.loads(out) == {"note": expected(value["note"], MAPPING)}


def test_text_without_placeholders_is_never_held() -> None:
    restorer = StreamRestorer(MAPPING)
    assert restorer.feed("a < b and c > d") == "a < b and c > d"
    assert restorer.held == 0


def test_empty_mapping_passes_everything() -> None:
    restorer = StreamRestorer({})
    assert restorer.feed("<EMAIL_ADDRESS_0123") == "<EMAIL_ADDRESS_0123"


def test_restore_message_leaves_thinking_and_ids() -> None:
    message = {
        "type": "message",
        "id": "msg_<EMAIL_ADDRESS_0123456789>",
        "content": [
            {"type": "thinking", "thinking": "<EMAIL_ADDRESS_0123456789>", "signature": "sig"},
            {"type": "text", "text": "hi <EMAIL_ADDRESS_0123456789>"},
            {"type": "tool_use", "id": "toolu_1", "name": "send", "input": {"to": ["<PERSON_abcdef0123>"]}},
        ],
    }
    restored = restore_message(message, MAPPING)
    assert restored["id"] == message["id"]
    assert restored["content"][0] == message["content"][0]
    assert restored["content"][1]["text"] == "hi ada@example.com"
    assert restored["content"][2]["input"] == {"to": ['Ada "the" Lovelace\\']}


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def stream_events(text: str, tool_json: str, step: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "content": [], "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for i in range(0, len(text), step):
        events.append(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text[i : i + step]},
            }
        )
    events.append({"type": "ping"})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}},
        }
    )
    for i in range(0, len(tool_json), step):
        events.append(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": tool_json[i : i + step]},
            }
        )
    events.append({"type": "content_block_stop", "index": 1})
    events.append(
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}
    )
    events.append({"type": "message_stop"})
    return events


def read_stream(raw: bytes) -> tuple[str, str, list[str]]:
    parser = SSEParser()
    text, tool, kinds = [], [], []
    for event in [*parser.feed(raw), *parser.close()]:
        payload = json.loads(event.data)
        kinds.append(payload["type"])
        if payload["type"] == "content_block_delta":
            delta = payload["delta"]
            (text if delta["type"] == "text_delta" else tool).append(
                delta.get("text", delta.get("partial_json"))
            )
    return "".join(text), "".join(tool), kinds


@settings(max_examples=150, deadline=None)
@given(
    pieces,
    st.integers(min_value=1, max_value=9),
    st.lists(st.integers(min_value=0, max_value=100_000), max_size=40),
)
def test_sse_restorer_under_random_chunk_splits(parts: list[str], step: int, cuts: list[int]) -> None:
    text = "".join(parts)
    tool_json = json.dumps({"to": text})
    raw = sse(stream_events(text, tool_json, step))
    restorer = SSERestorer(MAPPING)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(raw)]:
        out.append(restorer.feed(raw[last:p]))
        last = p
    out.append(restorer.close())
    got_text, got_tool, kinds = read_stream(b"".join(out))
    assert got_text == expected(text, MAPPING)
    assert json.loads(got_tool) == {"to": expected(text, MAPPING)}
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("content_block_stop") == 2
