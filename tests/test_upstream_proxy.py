"""The upstream hop honours ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, read once per session rather than
on every request (aiohttp's ``trust_env`` re-reads them and ``~/.netrc`` per request: a third of the
pass-through's CPU). A real forward proxy on a loopback port answers for the upstream."""

from __future__ import annotations

import asyncio
import json

import pytest

from claude_guard.errors import UpstreamError
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.upstream import UpstreamClient, _env_proxy

ANSWER = json.dumps({"type": "message", "content": []}).encode()


class ForwardProxy:
    """An HTTP forward proxy that answers every request itself and keeps the request lines it saw."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.headers: list[list[str]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.lines.append(lines[0])
            self.headers.append(lines[1:])
            length = next(
                (int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")), 0
            )
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(ANSWER)}\r\n\r\n".encode()
                + ANSWER
            )
            await writer.drain()


def client(base_url: str) -> UpstreamClient:
    return UpstreamClient(base_url=base_url, key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}))


async def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = ForwardProxy()
    async with seen as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        upstream = client("http://claude-upstream.invalid")
        try:
            for _ in range(3):
                response = await upstream.send("/v1/messages", b"{}", {})
                assert response.status_code == 200
                assert b"".join([chunk async for chunk in response.aiter_raw()]) == ANSWER
        finally:
            await upstream.aclose()
    # Absolute-form request lines: the proxy was asked for the upstream, every time.
    assert seen.lines == ["POST http://claude-upstream.invalid/v1/messages HTTP/1.1"] * 3


async def test_credentials_in_the_proxy_url_go_to_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    seen = ForwardProxy()
    async with seen as proxy_url:
        user, secret = "alice", "proxy-" + "pass"  # a fake proxy credential
        monkeypatch.setenv("HTTP_PROXY", proxy_url.replace("http://", f"http://{user}:{secret}@"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        upstream = client("http://claude-upstream.invalid")
        try:
            assert (await upstream.send("/v1/messages", b"{}", {})).status_code == 200
        finally:
            await upstream.aclose()
    expected = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    assert f"Proxy-Authorization: {expected}" in seen.headers[0]


async def test_no_proxy_sends_the_request_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = ForwardProxy()
    async with seen as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        # A closed loopback port: direct means refused, so the proxy must not be the one answering.
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        upstream = client(f"http://127.0.0.1:{port}")
        try:
            with pytest.raises(UpstreamError):
                await upstream.send("/v1/messages", b"{}", {})
        finally:
            await upstream.aclose()
    assert seen.lines == []


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, "https://api.anthropic.com", "http://p:3128"),
        ({"https_proxy": "http://p:3128"}, "https://api.anthropic.com", "http://p:3128"),
        ({"HTTP_PROXY": "http://p:3128"}, "https://api.anthropic.com", None),
        ({"ALL_PROXY": "http://p:3128"}, "https://api.anthropic.com", "http://p:3128"),
        ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "anthropic.com"}, "https://api.anthropic.com", None),
        ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, "https://api.anthropic.com", None),
        ({}, "https://api.anthropic.com", None),
    ],
)
def test_which_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: str | None
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _env_proxy(url) == expected
