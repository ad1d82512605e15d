"""Output scanning: PII and secrets the model writes itself are redacted or only reported, JSON and streamed;
the request's own placeholders are never mistaken for new PII and still come back restored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_guard._asgi import Receive, Scope, Send, context_for
from claude_guard.context import GuardContext, Principal, use_context
from claude_guard.egress import GuardAnthropicMiddleware
from claude_guard.gateway import MessagesProxy
from claude_guard.messages._sse import SSEParser
from claude_guard.pii import (
    PIIConfig,
    PIIEgressHook,
    PIIEngine,
    PIIRedactionMiddleware,
    Redactor,
    SSERestorer,
)
from claude_guard.pii._engine import AnalysisUnavailableError
from claude_guard.pii._output import OutputScanner, SSEOutputScanner, _json_span
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, Reply, TextBlock, ToolUseBlock, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient

MODEL = "claude-sonnet-4-6"
HOLD = 32
NEW_EMAIL = "carol.danvers@example.org"
NEW_KEY = "AKIAJQ5XAMPLE7KEY2ZZ"
NEW_ANTHROPIC = "sk-ant-api03-" + "Zq9_-y" * 15 + "xyzAA"
NEW_IP = "203.0.113.77"
NEW_VALUES = (NEW_EMAIL, NEW_KEY, NEW_ANTHROPIC, NEW_IP)
REQUEST_EMAIL = "ada.lovelace@example.com"
OUTPUT = (
    f"Sure. I found the account: write to {NEW_EMAIL} and rotate the access key {NEW_KEY} today; "
    f"the old token {NEW_ANTHROPIC} leaked from host {NEW_IP} last night. Nothing else to report, "
    "and the rest of this sentence is plain prose without anything sensitive in it at all."
)
REDACTED = (
    "Sure. I found the account: write to <EMAIL_ADDRESS> and rotate the access key <AWS_ACCESS_KEY> today; "
    "the old token <ANTHROPIC_API_KEY> leaked from host <IP_ADDRESS> last night. Nothing else to report, "
    "and the rest of this sentence is plain prose without anything sensitive in it at all."
)
COUNTS = {"EMAIL_ADDRESS": 1, "AWS_ACCESS_KEY": 1, "ANTHROPIC_API_KEY": 1, "IP_ADDRESS": 1}


def config(mode: str, **overrides: Any) -> PIIConfig:
    return PIIConfig(
        hmac_key="out-key", phone_regions=("US",), output_scan=mode, output_hold=HOLD, **overrides
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def redact_engine() -> Iterator[PIIEngine]:
    e = PIIEngine(config("redact"))
    yield e
    e.close()


@pytest.fixture(scope="module")
def report_engine() -> Iterator[PIIEngine]:
    e = PIIEngine(config("report"))
    yield e
    e.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- The text component: any split gives the same redacted text, with a bounded hold-back ----------------


def split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    parts, last = [], 0
    for p in points:
        parts.append(text[last:p])
        last = p
    parts.append(text[last:])
    return parts


async def scan_pieces(engine: PIIEngine, pieces: list[str], *, json_escaped: bool = False) -> tuple[str, int]:
    scanner = OutputScanner(engine, mode="redact")
    text_scanner = scanner.text_scanner(json_escaped=json_escaped)
    out = []
    for piece in pieces:
        out.append(await text_scanner.feed(piece))
        # Bounded: a run without whitespace is cut after 8 x hold characters.
        assert text_scanner.held < 8 * HOLD + len(piece)
    out.append(await text_scanner.flush())
    assert text_scanner.held == 0
    return "".join(out), sum(scanner.counts.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=40))
def test_text_scanner_redacts_under_any_split(redact_engine: PIIEngine, cuts: list[int]) -> None:
    text, found = run(scan_pieces(redact_engine, split_at(OUTPUT, cuts)))
    assert text == REDACTED
    assert found == 4


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=40))
def test_text_scanner_keeps_json_valid_under_any_split(redact_engine: PIIEngine, cuts: list[int]) -> None:
    value = {"to": NEW_EMAIL, "note": f'line\n{NEW_EMAIL}"quoted"\\', "keys": [NEW_KEY, "plain"], "n": 3}
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text, _ = run(scan_pieces(redact_engine, split_at(encoded, cuts), json_escaped=True))
    assert json.loads(text) == {
        "to": "<EMAIL_ADDRESS>",
        "note": 'line\n<EMAIL_ADDRESS>"quoted"\\',
        "keys": ["<AWS_ACCESS_KEY>", "plain"],
        "n": 3,
    }


def test_text_scanner_holds_back_and_releases_at_whitespace(redact_engine: PIIEngine) -> None:
    async def scenario() -> None:
        scanner = OutputScanner(redact_engine, mode="redact")
        text_scanner = scanner.text_scanner()
        # Less than two windows: nothing is released yet.
        assert await text_scanner.feed("word " * 12) == ""
        released = await text_scanner.feed("word " * 2)
        assert released and released.endswith(" ")
        assert text_scanner.held >= HOLD
        assert released + await text_scanner.flush() == "word " * 14

    run(scenario())


def test_request_placeholders_are_not_new_pii(redact_engine: PIIEngine) -> None:
    scanner = OutputScanner(redact_engine, mode="redact")
    text = f"Mailed <EMAIL_ADDRESS_0123456789> and {NEW_EMAIL}."
    message = {"type": "message", "content": [{"type": "text", "text": text}]}
    scanned = run(scanner.scan_message(message))
    assert scanned["content"][0]["text"] == "Mailed <EMAIL_ADDRESS_0123456789> and <EMAIL_ADDRESS>."
    assert dict(scanner.counts) == {"EMAIL_ADDRESS": 1}


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("ab\\nada@x.io", 3, 12, (4, 12)),  # starts inside the escape \n: moved past it
        ('ada@x.io"}', 0, 10, (0, 8)),  # never past the string's end
        ("ada@x.io\\u00e9", 0, 12, (0, 8)),  # never ends inside \u00e9
        ("ada@x.io\\\\", 0, 9, (0, 8)),  # nor inside \\
    ],
    ids=["escape-start", "string-end", "unicode-escape", "backslash"],
)
def test_json_span_never_breaks_json(text: str, start: int, end: int, expected: tuple[int, int]) -> None:
    assert _json_span(text, start, end) == expected


# -- The SSE component: any byte split of a stream, scanned then restored --------------------------------


PLACEHOLDER = "<EMAIL_ADDRESS_0123456789>"
MAPPING = {PLACEHOLDER: REQUEST_EMAIL}


def sse_stream(text: str, tool_input: dict[str, Any], sizes: list[int]) -> bytes:
    def event(name: str, payload: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()

    def pieces(value: str) -> Iterator[str]:
        position, turn = 0, 0
        while position < len(value):
            size = sizes[turn % len(sizes)] if sizes else 7
            yield value[position : position + size]
            position += size
            turn += 1

    out = [event("message_start", {"type": "message_start", "message": {"id": "msg_1", "content": []}})]
    out.append(
        event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    out.append(event("ping", {"type": "ping"}))
    for piece in pieces(text):
        delta = {"type": "text_delta", "text": piece}
        out.append(event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    block = {"type": "tool_use", "id": "toolu_1", "name": "send", "input": {}}
    out.append(
        event("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block})
    )
    for piece in pieces(json.dumps(tool_input, separators=(",", ":"))):
        delta = {"type": "input_json_delta", "partial_json": piece}
        out.append(event("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}))
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": 1}))
    out.append(event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}))
    out.append(event("message_stop", {"type": "message_stop"}))
    return b"".join(out)


def assemble(raw: bytes) -> tuple[str, str, list[tuple[str, Any]]]:
    text, partial, kinds = [], [], []
    for event in SSEParser().feed(raw):
        payload = json.loads(event.data)
        kinds.append((payload["type"], payload.get("index")))
        if payload["type"] == "content_block_delta":
            delta = payload["delta"]
            (text if delta["type"] == "text_delta" else partial).append(
                delta.get("text", delta.get("partial_json", ""))
            )
    return "".join(text), "".join(partial), kinds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=100_000), max_size=30),
)
def test_sse_scanner_then_restorer_under_any_split(
    redact_engine: PIIEngine, sizes: list[int], cuts: list[int]
) -> None:
    text = f"To {PLACEHOLDER}: {OUTPUT}"
    stream = sse_stream(text, {"to": NEW_EMAIL, "cc": PLACEHOLDER}, sizes)

    async def scenario() -> bytes:
        scan = SSEOutputScanner(OutputScanner(redact_engine, mode="redact"))
        restorer = SSERestorer(MAPPING)
        out = []
        for chunk in split_at_bytes(stream, cuts):
            out.append(restorer.feed(await scan.feed(chunk)))
        out.append(restorer.feed(await scan.close()) + restorer.close())
        return b"".join(out)

    restored_text, tool_json, kinds = assemble(run(scenario()))
    assert restored_text == f"To {REQUEST_EMAIL}: {REDACTED}"
    assert json.loads(tool_json) == {"to": "<EMAIL_ADDRESS>", "cc": REQUEST_EMAIL}
    # Every delta comes before its block's stop, and the events keep their order.
    assert kinds[0][0] == "message_start"
    assert [k for k, _ in kinds[-2:]] == ["message_delta", "message_stop"]
    for index in (0, 1):
        stop = kinds.index(("content_block_stop", index))
        assert ("content_block_delta", index) not in kinds[stop:]


def split_at_bytes(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    parts, last = [], 0
    for p in points:
        parts.append(data[last:p])
        last = p
    parts.append(data[last:])
    return parts


# -- Through the gateway: the official SDK → PIIRedactionMiddleware + MessagesProxy → FakeClaude ---------


class Recorder:
    """Stands in for authentication and keeps each request's context for the test to read."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.contexts: list[GuardContext] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        ctx = context_for(scope)
        ctx.principal = Principal(key_id="key_alice", profile="default", environment="development")
        self.contexts.append(ctx)
        await self.app(scope, receive, send)


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY, chunk_size=3)


@pytest.fixture
def upstream(fake: FakeClaude) -> Iterator[str]:
    with serve(fake) as server:
        yield server.url


def gateway(upstream_url: str, redactor: Redactor) -> tuple[Recorder, Any]:
    client = UpstreamClient(base_url=upstream_url, key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}))
    recorder = Recorder(PIIRedactionMiddleware(MessagesProxy(client), redactor=redactor))
    return recorder, serve(recorder)


def scripted(redactor: Redactor) -> Reply:
    placeholder = redactor.placeholder("key_alice", "EMAIL_ADDRESS", REQUEST_EMAIL)
    return Reply(
        [
            TextBlock(f"Replying to {placeholder}. {OUTPUT}"),
            ToolUseBlock("send", {"to": NEW_EMAIL, "cc": placeholder, "body": f"key {NEW_KEY} ok"}),
        ]
    )


async def ask(url: str, streamed: bool) -> anthropic.types.Message:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 500,
        "messages": [{"role": "user", "content": f"Please reply to {REQUEST_EMAIL}."}],
    }
    async with anthropic.AsyncAnthropic(base_url=url, api_key="key_alice", max_retries=0) as sdk:
        if streamed:
            async with sdk.messages.stream(**body) as stream:
                return await stream.get_final_message()
        return await sdk.messages.create(**body)


def output_decisions(ctx: GuardContext) -> list[Any]:
    return [d for d in ctx.decisions if d.protection == "pii" and d.outcome == "output_found"]


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_gateway_redacts_new_pii_in_output(
    upstream: str, fake: FakeClaude, redact_engine: PIIEngine, streamed: bool
) -> None:
    redactor = Redactor(engine=redact_engine)
    fake.enqueue(scripted(redactor))
    recorder, server = gateway(upstream, redactor)
    with server as gw:
        message = await ask(gw.url, streamed)
    assert REQUEST_EMAIL not in json.dumps(fake.last.json)
    text, tool = message.content
    # The request's own value comes back; what the model added is redacted.
    assert text.text == f"Replying to {REQUEST_EMAIL}. {REDACTED}"  # type: ignore[union-attr]
    assert tool.input == {"to": "<EMAIL_ADDRESS>", "cc": REQUEST_EMAIL, "body": "key <AWS_ACCESS_KEY> ok"}  # type: ignore[union-attr]
    (ctx,) = recorder.contexts
    (decision,) = output_decisions(ctx)
    assert decision.detail == {
        "entities": {**COUNTS, "EMAIL_ADDRESS": 2, "AWS_ACCESS_KEY": 2},
        "action": "redacted",
    }
    assert not any(v in json.dumps([d.detail for d in ctx.decisions]) for v in NEW_VALUES)


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_gateway_reports_without_changing_output(
    upstream: str, fake: FakeClaude, report_engine: PIIEngine, streamed: bool
) -> None:
    redactor = Redactor(engine=report_engine)
    fake.enqueue(scripted(redactor))
    recorder, server = gateway(upstream, redactor)
    with server as gw:
        message = await ask(gw.url, streamed)
    text, tool = message.content
    assert text.text == f"Replying to {REQUEST_EMAIL}. {OUTPUT}"  # type: ignore[union-attr]
    assert tool.input == {"to": NEW_EMAIL, "cc": REQUEST_EMAIL, "body": f"key {NEW_KEY} ok"}  # type: ignore[union-attr]
    (decision,) = output_decisions(recorder.contexts[0])
    assert decision.detail == {
        "entities": {**COUNTS, "EMAIL_ADDRESS": 2, "AWS_ACCESS_KEY": 2},
        "action": "reported",
    }


@pytest.mark.server
async def test_gateway_output_without_new_pii_records_nothing(
    upstream: str, fake: FakeClaude, redact_engine: PIIEngine
) -> None:
    redactor = Redactor(engine=redact_engine)
    recorder, server = gateway(upstream, redactor)
    with server as gw:
        message = await ask(gw.url, streamed=True)
    # FakeClaude echoes the redacted request: its only PII is the request's placeholder, restored.
    assert message.content[0].text == f"echo: Please reply to {REQUEST_EMAIL}."  # type: ignore[union-attr]
    assert output_decisions(recorder.contexts[0]) == []


class FailingOutputEngine:
    """The real engine for requests; analysis of the model's output (which holds a marker) is unavailable."""

    def __init__(self, engine: PIIEngine) -> None:
        self.config = engine.config
        self._engine = engine

    async def analyze(self, text: str, *, timeout: float | None = None) -> Any:
        if "MARKER" in text:
            raise AnalysisUnavailableError("timeout")
        return await self._engine.analyze(text, timeout=timeout)

    def close(self) -> None:
        pass


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_gateway_output_scan_fails_closed(
    upstream: str, fake: FakeClaude, redact_engine: PIIEngine, streamed: bool
) -> None:
    redactor = Redactor(engine=FailingOutputEngine(redact_engine))  # type: ignore[arg-type]
    fake.enqueue(Reply(f"MARKER {NEW_EMAIL} " + "more words here " * 10))
    recorder, server = gateway(upstream, redactor)
    with server as gw, pytest.raises(anthropic.APIStatusError) as caught:
        await ask(gw.url, streamed)
    assert NEW_EMAIL not in str(caught.value.body)
    if not streamed:
        assert caught.value.status_code == 503
    unavailable = [d for d in recorder.contexts[0].decisions if d.outcome == "unavailable"]
    assert unavailable and unavailable[0].detail == {
        "reason": "timeout",
        "policy": "closed",
        "stage": "output",
    }


@pytest.mark.server
async def test_gateway_output_scan_fails_open(
    upstream: str, fake: FakeClaude, redact_engine: PIIEngine
) -> None:
    open_engine = FailingOutputEngine(redact_engine)
    open_engine.config = config("redact", on_failure="open")
    redactor = Redactor(engine=open_engine)  # type: ignore[arg-type]
    fake.enqueue(Reply(f"MARKER {NEW_EMAIL}"))
    recorder, server = gateway(upstream, redactor)
    with server as gw:
        message = await ask(gw.url, streamed=True)
    assert message.content[0].text == f"MARKER {NEW_EMAIL}"  # type: ignore[union-attr]
    outcomes = [(d.outcome, (d.detail or {}).get("policy")) for d in recorder.contexts[0].decisions]
    assert ("unavailable", "open") in outcomes


# -- The SDK path: PIIEgressHook ----------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_egress_hook_redacts_new_pii_in_output(
    upstream: str, fake: FakeClaude, redact_engine: PIIEngine, streamed: bool
) -> None:
    redactor = Redactor(engine=redact_engine)
    ctx = GuardContext(method="POST", path="/analyze")
    ctx.principal = Principal(key_id="key_alice", profile="analysis", environment="development")
    fake.enqueue(scripted(redactor))
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 500,
        "messages": [{"role": "user", "content": f"Please reply to {REQUEST_EMAIL}."}],
    }
    hook = GuardAnthropicMiddleware([PIIEgressHook(redactor)])
    async with anthropic.AsyncAnthropic(
        base_url=upstream, api_key=CANARY_API_KEY, max_retries=0, middleware=[hook]
    ) as sdk:
        with use_context(ctx):
            if streamed:
                async with sdk.messages.stream(**body) as stream:
                    message = await stream.get_final_message()
            else:
                message = await sdk.messages.create(**body)
    text, tool = message.content
    assert text.text == f"Replying to {REQUEST_EMAIL}. {REDACTED}"  # type: ignore[union-attr]
    assert tool.input == {"to": "<EMAIL_ADDRESS>", "cc": REQUEST_EMAIL, "body": "key <AWS_ACCESS_KEY> ok"}  # type: ignore[union-attr]
    (decision,) = output_decisions(ctx)
    assert decision.detail is not None and decision.detail["action"] == "redacted"


async def test_scan_output_for_the_dependency_path(redact_engine: PIIEngine) -> None:
    redactor = Redactor(engine=redact_engine)
    ctx = GuardContext()
    message = {"type": "message", "content": [{"type": "text", "text": OUTPUT}]}
    scanned = await redactor.scan_output(message, ctx=ctx)
    assert scanned["content"][0]["text"] == REDACTED
    assert [d.detail for d in output_decisions(ctx)] == [{"entities": COUNTS, "action": "redacted"}]
