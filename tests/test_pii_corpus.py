"""The secrets and PII corpus (tests/data/secrets_corpus.py) end to end: held-out recall and precision, no
value reaching FakeClaude through the gateway or the SDK egress hook, and lossless round trips of every
corpus text, JSON and streamed at 1 to 3 character splits."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest

from claude_guard._asgi import Receive, Scope, Send, context_for, header
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
)
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient
from data.secrets_corpus import Sample, body_of, corpus, evaluate

HELD_OUT = corpus("held_out")
DEVELOPMENT = corpus("development")


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="corpus-key", phone_regions=("US",), max_pending=512))
    yield e
    e.close()


@pytest.fixture
def redactor(engine: PIIEngine) -> Redactor:
    return Redactor(engine=engine)


def test_the_corpus_is_big_enough_and_split_by_value() -> None:
    for part in (HELD_OUT, DEVELOPMENT):
        per_kind: dict[str, set[str]] = {}
        for s in part.samples:
            per_kind.setdefault(s.kind, set()).add(s.value)
        assert min(len(v) for v in per_kind.values()) >= 5
        placements = {s.placement for s in part.samples}
        assert {"prose", "code", "config", "log", "json_tool_result", "split_blocks"} <= placements
        assert len(part.lookalikes) >= 300
    held = {s.value for s in HELD_OUT.samples}
    assert not held & {s.value for s in DEVELOPMENT.samples}


async def test_held_out_recall_and_precision(redactor: Redactor) -> None:
    result = await evaluate(redactor, HELD_OUT)
    assert result.family_recall("credential", HELD_OUT.samples) >= 0.99, result.missed[:5]
    assert result.family_recall("pii", HELD_OUT.samples) >= 0.95, result.missed[:5]
    assert result.precision >= 0.98, result.false_positives
    # Every format on its own, not only on average.
    for kind, score in result.recall.items():
        assert score.recall >= 0.9, (kind, score)


async def test_development_part_scores_the_same(redactor: Redactor) -> None:
    result = await evaluate(redactor, DEVELOPMENT)
    assert result.family_recall("credential", DEVELOPMENT.samples) >= 0.99
    assert result.family_recall("pii", DEVELOPMENT.samples) >= 0.95
    assert result.precision >= 0.98


# -- Lossless round trips -------------------------------------------------------------------------------


def _pieces(text: str, rng: random.Random) -> list[str]:
    out, position = [], 0
    while position < len(text):
        size = rng.randint(1, 3)
        out.append(text[position : position + size])
        position += size
    return out


def _sse(text: str) -> bytes:
    events = [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    rng = random.Random(len(text))
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        for piece in _pieces(text, rng)
    ]
    events += [{"type": "content_block_stop", "index": 0}, {"type": "message_stop"}]
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n".encode() for e in events
    )


def _streamed_text(stream: bytes) -> str:
    parser = SSEParser()
    text = []
    for event in [*parser.feed(stream), *parser.close()]:
        payload = json.loads(event.data)
        if payload["type"] == "content_block_delta":
            text.append(payload["delta"]["text"])
    return "".join(text)


@pytest.mark.parametrize("part", ["development", "held_out"])
async def test_every_corpus_text_comes_back_byte_for_byte(redactor: Redactor, part: str) -> None:
    rng = random.Random(f"roundtrip:{part}")
    for s in corpus(part).samples:
        result = await redactor.redact(body_of(s.blocks), principal="roundtrip")
        blocks = [b["text"] for b in result.body["messages"][0]["content"]]
        assert all(s.value not in b for b in blocks)
        original = "\n".join(s.blocks)
        answer = "\n".join(blocks)
        # JSON: a whole message.
        message = {"type": "message", "content": [{"type": "text", "text": answer}]}
        assert result.restore(message)["content"][0]["text"] == original
        # Text in 1..3 character pieces, plain and JSON-escaped (tool input).
        restorer = result.stream_restorer()
        pieces = _pieces(answer, rng)
        assert "".join([restorer.feed(p) for p in pieces]) + restorer.flush() == original
        escaped = json.dumps(answer, ensure_ascii=False)[1:-1]
        restorer = result.stream_restorer(json_escaped=True)
        out = "".join([restorer.feed(p) for p in _pieces(escaped, rng)]) + restorer.flush()
        assert json.loads(f'"{out}"') == original
        # SSE, fed to the restorer 1..3 bytes at a time.
        stream = _sse(answer)
        sse = result.sse_restorer()
        chunks, position = [], 0
        while position < len(stream):
            size = rng.randint(1, 3)
            chunks.append(stream[position : position + size])
            position += size
        restored = b"".join(sse.feed(c) for c in chunks) + sse.close()
        assert _streamed_text(restored) == original


# -- Nothing reaches FakeClaude: the gateway and the SDK egress hook ---------------------------------------


def _leaks(sample: Sample, sent: str) -> list[str]:
    pieces = [sample.blocks[b][start:end] for b, start, end in sample.spans]
    whole = [sample.value] if sample.value.strip() else []
    return [p for p in [*whole, *pieces] if len(p) >= 8 and p in sent]


class Principals:
    """Stands in for API-key authentication: the principal is the x-api-key the caller sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        ctx = context_for(scope)
        key = (header(scope, b"x-api-key") or b"anonymous").decode()
        ctx.principal = Principal(key_id=key, profile="default", environment="development")
        await self.app(scope, receive, send)


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY, chunk_size=3)


@pytest.fixture
def gateway(fake: FakeClaude, redactor: Redactor) -> Iterator[str]:
    with serve(fake) as upstream_server:
        upstream = UpstreamClient(
            base_url=upstream_server.url, key_source=EnvSecretSource("K", {"K": CANARY_API_KEY})
        )
        app = Principals(PIIRedactionMiddleware(MessagesProxy(upstream), redactor=redactor))
        with serve(app) as gw:
            yield gw.url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=gateway, api_key="key_corpus", max_retries=0, timeout=60
    ) as sdk:
        yield sdk


def _batches(size: int) -> Iterator[list[Sample]]:
    samples = list(HELD_OUT.samples)
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_no_held_out_value_reaches_fake_claude_through_the_gateway(
    client: anthropic.AsyncAnthropic, fake: FakeClaude, streamed: bool
) -> None:
    leaked: list[tuple[str, str]] = []
    for batch in _batches(60):
        # One sample per user turn; the last turn is echoed back and must come back as it was sent.
        messages: list[dict[str, Any]] = []
        for sample in batch:
            messages.append(body_of(sample.blocks)["messages"][0])
            messages.append({"role": "assistant", "content": "noted"})
        messages.pop()
        body = {"model": "claude-sonnet-4-6", "max_tokens": 100_000, "messages": messages}
        if streamed:
            async with client.messages.stream(**body) as stream:
                text = await stream.get_final_text()
        else:
            text = (await client.messages.create(**body)).content[0].text  # type: ignore[union-attr]
        sent = json.dumps(fake.last.json, ensure_ascii=False)
        leaked += [(s.kind, s.placement) for s in batch if _leaks(s, sent)]
        assert text == "echo: " + "\n".join(batch[-1].blocks)
    assert leaked == []


@pytest.mark.server
async def test_no_held_out_value_reaches_fake_claude_through_the_egress_hook(
    fake: FakeClaude, redactor: Redactor
) -> None:
    hook = GuardAnthropicMiddleware([PIIEgressHook(redactor)])
    ctx = GuardContext(method="POST", path="/analyze")
    ctx.principal = Principal(key_id="key_app", profile="analysis", environment="development")
    leaked: list[tuple[str, str]] = []
    with serve(fake) as server:
        async with anthropic.AsyncAnthropic(
            base_url=server.url, api_key=CANARY_API_KEY, max_retries=0, middleware=[hook], timeout=60
        ) as sdk:
            with use_context(ctx):
                for batch in _batches(80):
                    content = [block for s in batch for block in body_of(s.blocks)["messages"][0]["content"]]
                    message = await sdk.messages.create(
                        model="claude-sonnet-4-6",
                        max_tokens=100_000,
                        messages=[{"role": "user", "content": content}],
                    )
                    sent = json.dumps(fake.last.json, ensure_ascii=False)
                    leaked += [(s.kind, s.placement) for s in batch if _leaks(s, sent)]
                    original = "\n".join(block["text"] for block in content)
                    assert message.content[0].text == "echo: " + original  # type: ignore[union-attr]
    assert leaked == []
