"""HTTPSOnlyMiddleware: raw ASGI for scopes httpx cannot forge (peer address, websocket, lifespan), httpx for
app-level behaviour."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from claude_guard.errors import ConfigurationError
from claude_guard.transport import HTTPSOnlyMiddleware

HSTS = "max-age=31536000; includeSubDomains"


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def http_scope(
    *,
    scheme: str = "http",
    client: str = "203.0.113.7",
    headers: Sequence[tuple[bytes, bytes]] = (),
    method: str = "GET",
    path: str = "/v1/messages",
    query: bytes = b"",
    kind: str = "http",
) -> dict[str, Any]:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"gateway.example:8080"), *headers],
        "client": (client, 50000),
        "server": ("10.0.0.2", 8080),
    }


async def run(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]
    if scope["type"] == "websocket":
        incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def start(sent: list[dict[str, Any]]) -> tuple[int, dict[str, str]]:
    message = sent[0]
    assert message["type"] == "http.response.start"
    return message["status"], {k.decode(): v.decode() for k, v in message["headers"]}


def body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def production(**kwargs: Any) -> HTTPSOnlyMiddleware:
    kwargs.setdefault("trusted_proxies", ["10.0.0.0/8", "fd00::/8"])
    return HTTPSOnlyMiddleware(hello, environment="production", **kwargs)


async def test_plain_http_is_refused_in_the_anthropic_envelope() -> None:
    sent = await run(production(), http_scope())
    status, headers = start(sent)
    assert status == 403
    assert "strict-transport-security" not in headers  # never over plain HTTP (RFC 6797)
    payload = json.loads(body(sent))
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "permission_error"
    assert payload["error"]["code"] == "https_required"
    assert payload["request_id"] == headers["request-id"]


async def test_https_scope_is_served_with_hsts() -> None:
    sent = await run(production(), http_scope(scheme="https"))
    status, headers = start(sent)
    assert status == 200
    assert headers["strict-transport-security"] == HSTS
    assert body(sent) == b"hello"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"x-forwarded-proto", b"https")], id="x-forwarded-proto"),
        pytest.param(
            [(b"forwarded", b'for=198.51.100.1;proto="https";host=gateway.example')], id="forwarded"
        ),
    ],
)
async def test_spoofed_proto_from_an_untrusted_peer_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    sent = await run(production(), http_scope(client="203.0.113.7", headers=headers))
    assert start(sent)[0] == 403


@pytest.mark.parametrize(
    ("client", "headers", "status"),
    [
        pytest.param("10.1.2.3", [(b"x-forwarded-proto", b"https")], 200, id="xfp"),
        pytest.param("10.1.2.3", [(b"x-forwarded-proto", b"HTTPS")], 200, id="xfp-case"),
        pytest.param("10.1.2.3", [(b"forwarded", b"for=198.51.100.1;proto=https")], 200, id="forwarded"),
        pytest.param("fd00::5", [(b"x-forwarded-proto", b"https")], 200, id="ipv6-proxy"),
        pytest.param("10.1.2.3", [], 403, id="trusted-peer-says-nothing"),
        pytest.param("10.1.2.3", [(b"x-forwarded-proto", b"http")], 403, id="trusted-peer-says-http"),
        pytest.param("10.1.2.3", [(b"x-forwarded-proto", b"https, http")], 403, id="one-http-hop"),
        pytest.param(
            "10.1.2.3",
            [(b"x-forwarded-proto", b"https"), (b"forwarded", b"proto=http")],
            403,
            id="headers-disagree",
        ),
        pytest.param("11.1.2.3", [(b"x-forwarded-proto", b"https")], 403, id="just-outside-cidr"),
    ],
)
async def test_trusted_proxies(client: str, headers: list[tuple[bytes, bytes]], status: int) -> None:
    sent = await run(production(), http_scope(client=client, headers=headers))
    got, response_headers = start(sent)
    assert got == status
    assert ("strict-transport-security" in response_headers) == (status == 200)


async def test_redirect_for_get_and_head_only() -> None:
    app = production(redirect=True)
    sent = await run(app, http_scope(query=b"a=1&b=2"))
    status, headers = start(sent)
    assert status == 308
    assert headers["location"] == "https://gateway.example/v1/messages?a=1&b=2"
    sent = await run(app, http_scope(method="HEAD"))
    assert start(sent)[0] == 308
    sent = await run(app, http_scope(method="POST"))
    assert start(sent)[0] == 403


async def test_redirect_refuses_a_malformed_host() -> None:
    scope = http_scope()
    scope["headers"] = [(b"host", b"evil.example/path@x")]
    sent = await run(production(redirect=True), scope)
    assert start(sent)[0] == 403


async def test_app_hsts_header_is_kept_and_options_shape_the_header() -> None:
    async def own_hsts(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"strict-transport-security", b"max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    app = HTTPSOnlyMiddleware(own_hsts, environment="production")
    sent = await run(app, http_scope(scheme="https"))
    assert start(sent)[1]["strict-transport-security"] == "max-age=60"
    custom = HTTPSOnlyMiddleware(hello, environment="production", hsts_max_age=600, include_subdomains=False)
    assert custom.hsts == "max-age=600"
    assert HTTPSOnlyMiddleware(hello, environment="production", preload=True).hsts.endswith("; preload")


@pytest.mark.parametrize("environment", ["development", "staging"])
async def test_outside_production_nothing_changes(environment: str) -> None:
    app = HTTPSOnlyMiddleware(hello, environment=environment)
    sent = await run(app, http_scope())
    status, headers = start(sent)
    assert status == 200
    assert "strict-transport-security" not in headers
    forced = HTTPSOnlyMiddleware(hello, environment=environment, force=True)
    assert start(await run(forced, http_scope()))[0] == 403


async def test_lifespan_passes_through() -> None:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await production()({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}]


async def test_websockets_need_wss_or_a_trusted_proxy() -> None:
    refused = await run(production(), http_scope(kind="websocket", scheme="ws"))
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "TLS is required."}]
    accepted = await run(production(), http_scope(kind="websocket", scheme="wss"))
    assert accepted[0]["type"] == "websocket.accept"
    assert (b"strict-transport-security", HSTS.encode()) in accepted[0]["headers"]
    proxied = await run(
        production(),
        http_scope(
            kind="websocket", scheme="ws", client="10.9.9.9", headers=[(b"x-forwarded-proto", b"https")]
        ),
    )
    assert proxied[0]["type"] == "websocket.accept"


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="not an IP network"):
        HTTPSOnlyMiddleware(hello, trusted_proxies=["10.0.0.0/33"])
    with pytest.raises(ConfigurationError, match="list of CIDRs"):
        HTTPSOnlyMiddleware(hello, trusted_proxies="10.0.0.0/8")
    with pytest.raises(ConfigurationError, match="hsts_max_age"):
        HTTPSOnlyMiddleware(hello, hsts_max_age=-1)


async def test_through_httpx() -> None:
    app = production()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.example"
    ) as c:
        refused = await c.get("/v1/messages", headers={"x-forwarded-proto": "https"})
        assert refused.status_code == 403
        assert refused.json()["error"]["type"] == "permission_error"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://gateway.example"
    ) as c:
        served = await c.get("/v1/messages")
        assert served.status_code == 200
        assert served.headers["strict-transport-security"] == HSTS
    trusted = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
    async with httpx.AsyncClient(transport=trusted, base_url="http://gateway.example") as c:
        assert (await c.get("/", headers={"x-forwarded-proto": "https"})).status_code == 200


async def test_concurrent_requests_do_not_share_decisions() -> None:
    app = production()
    scopes = [http_scope(scheme="https" if i % 2 else "http") for i in range(20)]
    results = await asyncio.gather(*(run(app, scope) for scope in scopes))
    assert [start(sent)[0] for sent in results] == [200 if i % 2 else 403 for i in range(20)]
