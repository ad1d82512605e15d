"""The whole-request walker beside the segment view it replaced, the strict parse beside ``json.loads``, and
the gateway's added latency before (the main checkout) and after (this tree), side by side in one run."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import ServerProcess, Stats, interleaved, table

from claude_guard._json import dumps_forward, loads_strict
from claude_guard.keys._store import KeyStore
from claude_guard.messages import iter_text_segments, walk_request
from claude_guard.store import MemoryStore

_Segment = tuple[tuple[Any, ...], str, str]
HERE = Path(__file__).resolve().parent
UPSTREAM_KEY = "sk-ant-fake-bench-upstream-0000"
N = int(os.environ.get("BENCH_N", "600"))
BEFORE_SRC = os.environ.get("BENCH_BEFORE_SRC", "/work/main/src")
AFTER_SRC = str(HERE.parent / "src")


# --- the segment view before the walker (claude_guard.messages.iter_text_segments until issue 11) ----------


def old_iter_text_segments(body: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    if not isinstance(body, Mapping):
        return
    system = body.get("system")
    if isinstance(system, str):
        yield ("system",), system, "system"
    elif isinstance(system, list):
        for index, block in enumerate(system):
            yield from _old_text_block(block, ("system", index), "system")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        path: tuple[Any, ...] = ("messages", index, "content")
        if isinstance(content, str):
            yield path, content, "message"
        elif isinstance(content, list):
            for block_index, block in enumerate(content):
                yield from _old_message_block(block, (*path, block_index))


def _old_text_block(
    block: object, path: tuple[Any, ...], kind: str
) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    if isinstance(block, Mapping) and block.get("type") == "text":
        text = block.get("text")
        if isinstance(text, str):
            yield (*path, "text"), text, kind


def _old_message_block(block: object, path: tuple[Any, ...]) -> Iterator[_Segment]:
    if not isinstance(block, Mapping):
        return
    block_type = block.get("type")
    if block_type == "text":
        yield from _old_text_block(block, path, "message")
    elif block_type in ("tool_use", "server_tool_use"):
        if "input" in block:
            yield from _old_strings_within(block["input"], (*path, "input"), "tool_input")
    elif block_type == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            yield (*path, "content"), content, "tool_result"
        elif isinstance(content, list):
            for index, inner in enumerate(content):
                inner_path = (*path, "content", index)
                if isinstance(inner, Mapping) and inner.get("type") == "document":
                    yield from _old_document(inner, inner_path, "tool_result")
                else:
                    yield from _old_text_block(inner, inner_path, "tool_result")
    elif block_type == "document":
        yield from _old_document(block, path, "document")


def _old_document(
    block: Mapping[str, Any], path: tuple[Any, ...], kind: str
) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    for key, value in block.items():
        if key in ("title", "context") and isinstance(value, str):
            yield (*path, key), value, kind
        elif key == "source" and isinstance(value, Mapping):
            source_type = value.get("type")
            if source_type == "text":
                data = value.get("data")
                if isinstance(data, str):
                    yield (*path, "source", "data"), data, kind
            elif source_type == "content":
                content = value.get("content")
                if isinstance(content, str):
                    yield (*path, "source", "content"), content, kind
                elif isinstance(content, list):
                    for index, inner in enumerate(content):
                        yield from _old_text_block(inner, (*path, "source", "content", index), kind)


def _old_strings_within(
    value: object, path: tuple[Any, ...], kind: str
) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    stack: list[tuple[tuple[Any, ...], object]] = [(path, value)]
    while stack:
        current_path, current = stack.pop()
        if isinstance(current, str):
            yield current_path, current, kind
        elif isinstance(current, Mapping):
            children = [((*current_path, k), v) for k, v in current.items() if isinstance(k, str)]
            stack.extend(reversed(children))
        elif isinstance(current, list):
            stack.extend(reversed([((*current_path, i), v) for i, v in enumerate(current)]))


# --- bodies ----------------------------------------------------------------------------------------------

SENTENCE = "The quarterly report shows steady growth in the northern region, led by new contracts. "


def conversation(turns: int) -> dict[str, Any]:
    """A realistic agent conversation: system, a tool with its schema, text, tool calls and results."""
    messages: list[dict[str, Any]] = []
    for turn in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": SENTENCE * 3}]})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": SENTENCE, "signature": "c2lnbmF0dXJl" * 8},
                    {"type": "text", "text": SENTENCE},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{turn:04d}",
                        "name": "search_reports",
                        "input": {
                            "query": "growth north",
                            "filters": {"year": 2026, "tags": ["q3", "north"]},
                        },
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{turn:04d}",
                        "content": [
                            {"type": "text", "text": SENTENCE * 2},
                            {
                                "type": "search_result",
                                "source": "https://reports.example.com/q3",
                                "title": "Q3 report",
                                "content": [{"type": "text", "text": SENTENCE}],
                            },
                        ],
                    },
                    {
                        "type": "document",
                        "title": "Appendix",
                        "source": {"type": "text", "media_type": "text/plain", "data": SENTENCE * 2},
                    },
                ],
            }
        )
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a careful analyst. " * 4}],
        "tools": [
            {
                "name": "search_reports",
                "description": "Search the report archive.",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "What to look for"},
                        "filters": {"type": "object"},
                    },
                    "required": ["query"],
                },
            }
        ],
        "metadata": {"user_id": "user-4711"},
        "messages": messages,
    }


def per_kb(fn: Callable[[], object], size: int, *, repeat: int) -> float:
    """Median µs per KB of ``fn`` over ``repeat`` timed runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6 / (size / 1024)


def walker_rows() -> list[list[str]]:
    rows = []
    for turns in (1, 10, 100):
        body = conversation(turns)
        raw = json.dumps(body).encode()
        size = len(raw)
        repeat = max(20, 4000 // turns)
        old = per_kb(lambda b=body: list(old_iter_text_segments(b)), size, repeat=repeat)
        new = per_kb(lambda b=body: list(iter_text_segments(b)), size, repeat=repeat)
        leaves = per_kb(lambda b=body: list(walk_request(b)), size, repeat=repeat)
        loads = per_kb(lambda r=raw: json.loads(r), size, repeat=repeat)
        strict = per_kb(lambda r=raw: loads_strict(r), size, repeat=repeat)
        dumps = per_kb(lambda b=body: dumps_forward(b), size, repeat=repeat)
        old_count = len(list(old_iter_text_segments(body)))
        new_count = len(list(iter_text_segments(body)))
        rows.append(
            [
                f"{size / 1024:.1f} KB",
                f"{old:.1f} ({old_count})",
                f"{new:.1f} ({new_count})",
                f"{new / old:.1f}×",
                f"{leaves:.1f}",
                f"{loads:.1f}",
                f"{strict:.1f}",
                f"{dumps:.1f}",
            ]
        )
    return rows


# --- the gateway before and after -------------------------------------------------------------------------


async def gateway_rows(keys_file: str, key: str) -> dict[str, Stats]:
    audit = os.path.join(os.path.dirname(keys_file), "audit.sqlite3")
    env = {"BENCH_UPSTREAM_KEY": UPSTREAM_KEY, "CLAUDE_GUARD_AUDIT_DB": audit}
    fake = ServerProcess("apps:fake", env)
    fake.wait("/", timeout=120)
    gw_env = {**env, "BENCH_UPSTREAM_URL": fake.url, "CLAUDE_GUARD_KEYS_FILE": keys_file}
    servers = {
        f"gateway {when}, PII {pii}": ServerProcess(
            "apps:gateway", {**gw_env, "PYTHONPATH": src, "CLAUDE_GUARD_PII": pii}
        )
        for when, src in (("before (main)", BEFORE_SRC), ("after (walker)", AFTER_SRC))
        for pii in ("on", "off")
    }
    body = conversation(3)
    try:
        for server in servers.values():
            # The machine is shared: building the PII engine can take a while.
            server.wait(timeout=180)
        async with httpx.AsyncClient(timeout=30) as client:

            def call(url: str, headers: dict[str, str]) -> Callable[[], Any]:
                async def do() -> None:
                    r = await client.post(url + "/v1/messages", json=body, headers=headers)
                    assert r.status_code == 200, r.text

                return do

            calls = {"FakeClaude alone": call(fake.url, {"x-api-key": UPSTREAM_KEY})}
            calls.update({name: call(server.url, {"x-api-key": key}) for name, server in servers.items()})
            return await interleaved(calls, n=N, warmup=20)
    finally:
        for server in (*servers.values(), fake):
            server.stop()


async def main() -> str:
    walker = walker_rows()
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = os.path.join(tmp, "keys.json")
        store = KeyStore(MemoryStore(), keys_file=keys_file)
        key = (await store.create(profile="admin", environment="development")).key
        served = await gateway_rows(keys_file, key)
    base = served["FakeClaude alone"].median_us
    gateway = [
        [
            name,
            f"{s.median_us:.0f}",
            f"{s.p99_us:.0f}",
            "–" if name.startswith("Fake") else f"{s.median_us - base:.0f}",
        ]
        for name, s in served.items()
    ]
    size = len(json.dumps(conversation(3)).encode()) / 1024
    return "\n".join(
        [
            "## Request walker",
            "",
            "A realistic agent conversation (system, a tool with its schema, per turn: text, a signed "
            "thinking "
            "block, a tool call, a tool result with a search result, a document), at three sizes. Median µs "
            "per KB of body; in brackets, the strings each view returns. The old segment view read system, "
            "message text, tool input values, tool results and documents only; the walker also reads tool "
            "definitions and schemas, search results, citations, metadata, every server-tool result, URLs "
            "and the keys of free-form JSON, and classifies every other string (`walk_request`, all leaves). "
            "The strict parse is `json.loads` with duplicate-key, constant and float hooks plus a surrogate "
            "check; `dumps_forward` is the re-serialization of the checked value that the gateway forwards.",
            "",
            table(
                [
                    "body",
                    "old segments µs/KB",
                    "walker segments µs/KB",
                    "walker / old",
                    "all leaves µs/KB",
                    "json.loads µs/KB",
                    "strict parse µs/KB",
                    "dumps_forward µs/KB",
                ],
                walker,
            ),
            "",
            f"The gateway before (the main checkout, `{BEFORE_SRC}`) and after (this tree), each a uvicorn "
            f"process with every protection, PII on and off, in front of FakeClaude, {N} non-streamed "
            "requests per "
            f"row, interleaved; the body is the conversation above at {size:.1f} KB. 'Added' is the "
            "gateway's "
            "median minus FakeClaude's. With PII on, the walker hands Presidio every string the model reads "
            "(here about twice the strings of the old view), which is most of the difference; PII off shows "
            "the walker, the strict parse and the re-serialization alone. Eight engineers shared this "
            "machine's two cores while it ran: the figures are noisy, read the rows against each other.",
            "",
            table(["app", "median µs", "p99 µs", "added (µs, median)"], gateway),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
