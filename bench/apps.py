"""App factories the benchmarks serve with ``uvicorn bench.apps:NAME --factory`` (configured by env)."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claude_guard.testing import FakeClaude

REPLY = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "echo: hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 3},
}


def bare() -> Starlette:
    """What an unguarded endpoint costs: parse the JSON body, answer a fixed message."""

    async def messages(request: Request) -> JSONResponse:
        await request.json()
        return JSONResponse(REPLY)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"]), Route("/healthz", healthz)])


def fake() -> FakeClaude:
    return FakeClaude(api_key=os.environ["BENCH_UPSTREAM_KEY"])


def gateway() -> Any:
    from claude_guard import ClaudeGuard, GuardSettings
    from claude_guard.reference_app import create_app
    from claude_guard.secrets import EnvSecretSource

    settings = GuardSettings(
        api_key_source=EnvSecretSource("BENCH_UPSTREAM_KEY"),
        api_url=os.environ["BENCH_UPSTREAM_URL"],
        keys_file=os.environ["CLAUDE_GUARD_KEYS_FILE"],
        pii=os.environ.get("CLAUDE_GUARD_PII", "auto"),  # type: ignore[arg-type]
    )
    return create_app(ClaudeGuard(settings=settings))


def passthrough() -> Any:
    """The gateway's forwarding alone (``MessagesProxy``, no protection): what the hop itself costs."""
    from claude_guard import MessagesProxy  # the public path: also on a BENCH_BASELINE_SRC tree
    from claude_guard.secrets import EnvSecretSource
    from claude_guard.upstream import UpstreamClient

    source = EnvSecretSource("BENCH_UPSTREAM_KEY")
    proxy = MessagesProxy(UpstreamClient(base_url=os.environ["BENCH_UPSTREAM_URL"], key_source=source))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await proxy(scope, receive, send)

    return app
