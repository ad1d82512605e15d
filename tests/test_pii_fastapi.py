"""The ``pii_redaction`` dependency inside a real FastAPI app, driven by the official SDK: the route reads
the redacted body, restores what it returns, and a request the middleware redacted is not redacted again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from fastapi import Depends, FastAPI, Request

from claude_guard._asgi import context_for
from claude_guard.fastapi import pii_redaction
from claude_guard.pii import PIIConfig, PIIEngine, PIIRedactionMiddleware, Redaction, Redactor
from claude_guard.testing import FakeClaude
from claude_guard.testing._fake import CANARY_API_KEY

MODEL = "claude-sonnet-4-6"
EMAIL = "ada.lovelace@example.com"
KEY = "AKIAIOSFODNN7EXAMPLE"
PROMPT = f"Write to {EMAIL} about key {KEY}."


class CountingEngine:
    """The real engine, counting analyses: one request must be analysed once."""

    def __init__(self, engine: PIIEngine) -> None:
        self.config = engine.config
        self._engine = engine
        self.calls = 0

    async def analyze(self, text: str, *, timeout: float | None = None) -> Any:
        self.calls += 1
        return await self._engine.analyze(text, timeout=timeout)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="fastapi-key", phone_regions=("US",)))
    yield e
    e.close()


@pytest.fixture
def counting(engine: PIIEngine) -> CountingEngine:
    return CountingEngine(engine)


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY)


def build_app(redactor: Redactor, fake: FakeClaude, seen: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    upstream = anthropic.AsyncAnthropic(
        base_url="http://claude.test",
        api_key=CANARY_API_KEY,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake)),
    )

    redacted = pii_redaction(redactor)

    @app.post("/v1/messages")
    async def messages(
        request: Request,
        redaction: Redaction = Depends(redacted),  # noqa: B008 - FastAPI's own form
    ) -> dict[str, Any]:
        body = await request.json()
        seen.append({"body": body, "redaction": redaction, "ctx": context_for(request.scope)})
        message = await upstream.messages.create(**body)
        return redaction.restore(message.model_dump(mode="json", exclude_none=True))  # type: ignore[no-any-return]

    return app


@pytest.fixture
async def caller() -> AsyncIterator[Any]:
    clients: list[anthropic.AsyncAnthropic] = []

    def make(app: Any) -> anthropic.AsyncAnthropic:
        client = anthropic.AsyncAnthropic(
            base_url="http://gateway.test",
            api_key="key_alice",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_dependency_redacts_and_restores(
    fake: FakeClaude, counting: CountingEngine, caller: Any
) -> None:
    redactor = Redactor(engine=counting)  # type: ignore[arg-type]
    seen: list[dict[str, Any]] = []
    sdk = caller(build_app(redactor, fake, seen))
    message = await sdk.messages.create(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": PROMPT}]
    )
    # The route read the redacted body; the upstream never saw a value.
    (entry,) = seen
    routed = entry["body"]["messages"][0]["content"]
    assert EMAIL not in routed and KEY not in routed
    assert "<EMAIL_ADDRESS_" in routed and "<AWS_ACCESS_KEY_" in routed
    upstream_sent = json.dumps(fake.last.json)
    assert EMAIL not in upstream_sent and KEY not in upstream_sent
    # The caller gets the original values back.
    assert message.content[0].text == "echo: " + PROMPT  # type: ignore[union-attr]
    assert entry["redaction"].counts == {"EMAIL_ADDRESS": 1, "AWS_ACCESS_KEY": 1}
    assert counting.calls == 1


async def test_dependency_does_not_redact_twice_after_the_middleware(
    fake: FakeClaude, counting: CountingEngine, caller: Any
) -> None:
    redactor = Redactor(engine=counting)  # type: ignore[arg-type]
    seen: list[dict[str, Any]] = []
    app = build_app(redactor, fake, seen)
    app.add_middleware(PIIRedactionMiddleware, redactor=redactor)
    sdk = caller(app)
    message = await sdk.messages.create(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": PROMPT}]
    )
    (entry,) = seen
    routed = entry["body"]["messages"][0]["content"]
    placeholder = redactor.placeholder("anonymous", "EMAIL_ADDRESS", EMAIL)
    # Redacted once: the placeholder as the middleware made it, not a placeholder of a placeholder.
    assert (
        routed
        == f"Write to {placeholder} about key {redactor.placeholder('anonymous', 'AWS_ACCESS_KEY', KEY)}."
    )
    assert counting.calls == 1
    # The dependency handed the route the middleware's own redaction.
    assert entry["ctx"].redaction is entry["redaction"]
    assert entry["redaction"].changed
    # Restored once by the route and again by the middleware: restoring is idempotent.
    assert message.content[0].text == "echo: " + PROMPT  # type: ignore[union-attr]
    assert EMAIL not in json.dumps(fake.last.json)
