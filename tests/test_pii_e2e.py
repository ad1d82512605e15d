"""End to end: the official SDK → gateway (PIIRedactionMiddleware + MessagesProxy) → FakeClaude over real
loopback HTTP, and the SDK path (PIIEgressHook). No PII or secret value reaches the upstream, in any segment
kind; the caller gets the original values back, JSON and streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest

from claude_guard._asgi import Receive, Scope, Send, context_for, header
from claude_guard.context import GuardContext, Principal, use_context
from claude_guard.egress import GuardAnthropicMiddleware
from claude_guard.gateway import MessagesProxy
from claude_guard.pii import PIIConfig, PIIEgressHook, PIIEngine, PIIRedactionMiddleware, Redactor
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, Reply, TextBlock, ToolUseBlock, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient

pytestmark = pytest.mark.server

MODEL = "claude-sonnet-4-6"
VALUES = {
    "EMAIL_ADDRESS": "ada.lovelace@example.com",
    "PHONE_NUMBER": "+1 415-555-0132",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "GB82WEST12345698765432",
    "US_SSN": "536-90-4399",
    "US_ITIN": "912-70-1234",
    "US_PASSPORT": "912803456",
    "US_BANK_NUMBER": "945456787654",
    "UK_NHS": "943 476 5919",
    "IP_ADDRESS": "192.168.10.23",
    "CRYPTO": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "Ab3_-x" * 15 + "abcAA",
    "OPENAI_API_KEY": "sk-proj-Xy12Ab34Cd56Ef78Gh90Ij12Kl34Mn56",
    "AWS_ACCESS_KEY": "AKIAIOSFODNN7EXAMPLE",
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "BEARER_TOKEN": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "PRIVATE_KEY": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvY2\nq83==\n-----END RSA PRIVATE KEY-----"
    ),
}
V = VALUES
ALL = (
    f"Contact {V['EMAIL_ADDRESS']} or call {V['PHONE_NUMBER']}. Card {V['CREDIT_CARD']}, iban "
    f"{V['IBAN_CODE']}, ssn {V['US_SSN']}, itin {V['US_ITIN']}, passport number {V['US_PASSPORT']}, "
    f"bank account number {V['US_BANK_NUMBER']}, nhs number {V['UK_NHS']}, server {V['IP_ADDRESS']}, "
    f"wallet {V['CRYPTO']}. Keys: {V['ANTHROPIC_API_KEY']} {V['OPENAI_API_KEY']} {V['AWS_ACCESS_KEY']} "
    f"{V['JWT']} Authorization: Bearer {V['BEARER_TOKEN']}\n{V['PRIVATE_KEY']}\nThanks!"
)
IMAGE = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" + "A" * 40}
THINKING = {"type": "thinking", "thinking": "Let me think about it.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}


def every_segment_kind() -> dict[str, Any]:
    """ALL in every kind of segment a Messages request has; untouchable parts beside them."""
    return {
        "model": MODEL,
        "max_tokens": 8000,
        "system": [{"type": "text", "text": "System: " + ALL, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "First: " + ALL},
            {
                "role": "assistant",
                "content": [
                    THINKING,
                    {"type": "text", "text": "Noted " + ALL},
                    {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": ALL, "n": [ALL]}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "Result " + ALL},
                    {"type": "image", "source": IMAGE},
                    {
                        "type": "document",
                        "title": "Doc " + V["EMAIL_ADDRESS"],
                        "source": {"type": "text", "media_type": "text/plain", "data": ALL},
                    },
                ],
            },
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_02",
                        "content": [{"type": "text", "text": "Nested " + ALL}],
                    },
                    {"type": "text", "text": ALL, "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
    }


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_no_values(recorded: Any) -> None:
    texts = list(strings(recorded))
    for entity, value in VALUES.items():
        for text in texts:
            assert value not in text, f"{entity} reached the upstream"
            # Nor a recognisable part of it (e.g. one line of the private key).
            for line in value.splitlines():
                if len(line) > 8:
                    assert line not in text, f"part of {entity} reached the upstream"


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
        bearer = (header(scope, b"authorization") or b"").removeprefix(b"Bearer ")
        key = (header(scope, b"x-api-key") or bearer or b"anonymous").decode()
        ctx.principal = Principal(key_id=key, profile="default", environment="development")
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="e2e-key", phone_regions=("US",)))
    yield e
    e.close()


@pytest.fixture
def fake() -> FakeClaude:
    return FakeClaude(api_key=CANARY_API_KEY, chunk_size=3)


@pytest.fixture
def redactor(engine: PIIEngine) -> Redactor:
    return Redactor(engine=engine)


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
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key="key_alice", max_retries=0) as sdk:
        yield sdk


def last_user_text(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"][-1]["text"])


async def test_gateway_json_no_value_upstream_and_values_restored(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    body = every_segment_kind()
    message = await client.messages.create(**body)
    (recorded,) = fake.messages_requests
    assert_no_values(recorded.json)
    sent = recorded.json
    # Untouchable parts arrive byte for byte.
    assert sent["messages"][1]["content"][0] == THINKING
    assert sent["messages"][1]["content"][2]["id"] == "toolu_01"
    assert sent["messages"][2]["content"][1] == {"type": "image", "source": IMAGE}
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][4]["content"][0]["tool_use_id"] == "toolu_02"
    # FakeClaude echoed the redacted text; the caller reads the original.
    assert message.content[0].text == "echo: " + ALL  # type: ignore[union-attr]


async def test_gateway_stream_restores_placeholders_split_across_deltas(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    body = every_segment_kind()
    async with client.messages.stream(**body) as stream:
        text = await stream.get_final_text()
    assert_no_values(fake.last.json)
    assert text == "echo: " + ALL


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_gateway_restores_tool_use_input(
    client: anthropic.AsyncAnthropic, fake: FakeClaude, redactor: Redactor, streamed: bool
) -> None:
    email = redactor.placeholder("key_alice", "EMAIL_ADDRESS", V["EMAIL_ADDRESS"])
    card = redactor.placeholder("key_alice", "CREDIT_CARD", V["CREDIT_CARD"])
    fake.enqueue(
        Reply(
            [TextBlock(f"Sending to {email}."), ToolUseBlock("send", {"to": email, "card": [card, 'q"\\']})]
        )
    )
    body = {"model": MODEL, "max_tokens": 500, "messages": [{"role": "user", "content": ALL}]}
    if streamed:
        async with client.messages.stream(**body) as stream:
            message = await stream.get_final_message()
    else:
        message = await client.messages.create(**body)
    text, tool = message.content
    assert text.text == f"Sending to {V['EMAIL_ADDRESS']}."  # type: ignore[union-attr]
    assert tool.input == {"to": V["EMAIL_ADDRESS"], "card": [V["CREDIT_CARD"], 'q"\\']}  # type: ignore[union-attr]


async def test_resent_conversation_is_byte_identical(
    client: anthropic.AsyncAnthropic, fake: FakeClaude
) -> None:
    body = every_segment_kind()
    await client.messages.create(**body)
    await client.messages.create(**body)
    first, second = fake.messages_requests
    assert first.body == second.body


async def test_two_principals_never_see_each_others_placeholders(gateway: str, fake: FakeClaude) -> None:
    body = {"model": MODEL, "max_tokens": 500, "messages": [{"role": "user", "content": ALL}]}
    replies = {}
    for key in ("key_alice", "key_bob"):
        async with anthropic.AsyncAnthropic(base_url=gateway, api_key=key, max_retries=0) as sdk:
            replies[key] = (await sdk.messages.create(**body)).content[0].text  # type: ignore[union-attr]
    alice, bob = (r.json["messages"][0]["content"] for r in fake.messages_requests)
    assert alice != bob
    assert replies == {"key_alice": "echo: " + ALL, "key_bob": "echo: " + ALL}
    # Bob hands the model Alice's redacted text: her placeholders stay placeholders for him.
    fake.enqueue(Reply(alice))
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key="key_bob", max_retries=0) as sdk:
        leaked = (await sdk.messages.create(**body)).content[0].text  # type: ignore[union-attr]
    assert leaked == alice
    assert not any(value in leaked for value in VALUES.values())


async def test_json_response_content_length_matches(gateway: str) -> None:
    import httpx

    body = {
        "model": MODEL,
        "max_tokens": 500,
        "messages": [{"role": "user", "content": "mail ada@example.com"}],
    }
    async with httpx.AsyncClient(base_url=gateway) as http:
        response = await http.post("/v1/messages", json=body, headers={"x-api-key": "key_alice"})
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["content"][0]["text"] == "echo: mail ada@example.com"


@pytest.fixture
def upstream(fake: FakeClaude) -> Iterator[str]:
    with serve(fake) as server:
        yield server.url


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
async def test_sdk_path_egress_hook(
    upstream: str, fake: FakeClaude, redactor: Redactor, streamed: bool
) -> None:
    hook = GuardAnthropicMiddleware([PIIEgressHook(redactor)])
    ctx = GuardContext(method="POST", path="/analyze")
    ctx.principal = Principal(key_id="key_app", profile="analysis", environment="development")
    body = every_segment_kind()
    async with anthropic.AsyncAnthropic(
        base_url=upstream, api_key=CANARY_API_KEY, max_retries=0, middleware=[hook]
    ) as sdk:
        with use_context(ctx):
            if streamed:
                async with sdk.messages.stream(**body) as stream:
                    text = await stream.get_final_text()
            else:
                text = (await sdk.messages.create(**body)).content[0].text  # type: ignore[union-attr]
    assert_no_values(fake.last.json)
    assert text == "echo: " + ALL
    redacted = [d for d in ctx.decisions if d.protection == "pii"]
    assert redacted and redacted[0].outcome == "redacted"
    assert redacted[0].detail is not None
    assert set(redacted[0].detail["entities"]) >= {"EMAIL_ADDRESS", "PRIVATE_KEY", "JWT", "AWS_ACCESS_KEY"}
    assert not any(v in json.dumps([d.detail for d in ctx.decisions]) for v in VALUES.values())


async def test_egress_does_not_redact_twice(upstream: str, fake: FakeClaude, redactor: Redactor) -> None:
    ingress = await redactor.redact({"messages": [{"role": "user", "content": ALL}]}, principal="key_app")
    hook = GuardAnthropicMiddleware([PIIEgressHook(redactor)])
    ctx = GuardContext()
    ctx.principal = Principal(key_id="key_app", profile="analysis", environment="development")
    async with anthropic.AsyncAnthropic(
        base_url=upstream, api_key=CANARY_API_KEY, max_retries=0, middleware=[hook]
    ) as sdk:
        with use_context(ctx):
            message = await sdk.messages.create(
                model=MODEL, max_tokens=8000, messages=ingress.body["messages"]
            )
    assert fake.last.json["messages"] == ingress.body["messages"]
    # Placeholders made on ingress are still restored from the vault on the way back.
    assert message.content[0].text == "echo: " + ALL  # type: ignore[union-attr]
