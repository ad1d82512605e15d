"""The reference gateway on Litestar, served with ``uvicorn app:app --app-dir examples/litestar_app``.

The same contract as ``examples/fastapi_app`` (routes, environment variables, errors), built with
``ClaudeGuardPlugin`` and the Litestar dependencies of ``claude_guard.litestar``. Configuration comes from the
environment (``CLAUDE_API_KEY`` or ``CLAUDE_API_KEY_FILE``, ``CLAUDE_API_URL``, ``CLAUDE_GUARD_STORAGE_URL``…).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
from litestar import Litestar, asgi, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from claude_guard import ClaudeGuard, Principal
from claude_guard.audit import configure_telemetry, otlp_endpoint
from claude_guard.context import current_context
from claude_guard.egress import guard_error_from_sdk
from claude_guard.litestar import ClaudeGuardPlugin, max_cost, rate_limit, require_profile
from claude_guard.ratelimit import Admission
from claude_guard.validation import validate_task_description

__all__ = ["create_app"]

ANALYZE_MODEL = os.environ.get("CLAUDE_GUARD_ANALYZE_MODEL", "claude-haiku-4-5")


@dataclass
class AnalyzeRequest:
    task: str
    """What Claude should analyse."""


def create_app(guard: ClaudeGuard | None = None) -> Litestar:
    """Build the gateway from the environment (or from the ``guard`` given)."""
    guard = guard or ClaudeGuard.from_env()
    if otlp_endpoint():
        configure_telemetry("claude-guard-gateway", console_when_no_endpoint=False)

    # Gateway routes: protected on ingress (by the plugin's middlewares), then forwarded to CLAUDE_API_URL.
    proxy = guard.messages_proxy()

    async def forward(scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] != "POST":
            await send({"type": "http.response.start", "status": 405, "headers": [(b"allow", b"POST")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await proxy(scope, receive, send)

    messages = asgi("/v1/messages", is_mount=False, copy_scope=False, include_in_schema=False)(forward)
    count_tokens = asgi(
        "/v1/messages/count_tokens", is_mount=False, copy_scope=False, include_in_schema=False
    )(forward)

    # An app-style route: it calls Claude itself through the SDK, protected on egress.
    client = guard.anthropic_client()

    @post(
        "/analyze",
        status_code=200,
        dependencies={
            "principal": Provide(require_profile("analysis")),
            # After the profile check, as FastAPI's dependency list runs: a refused key spends no quota.
            "admitted": Provide(rate_limit("10/minute", name="analyze", after=("principal",))),
            "cost_cap": Provide(max_cost(5.0, after=("admitted",))),
        },
    )
    async def analyze(
        data: JSONBody[AnalyzeRequest],
        principal: NamedDependency[Principal],
        admitted: NamedDependency[Admission | None],
        cost_cap: NamedDependency[Decimal],
    ) -> dict[str, Any]:
        try:
            message = await client.messages.create(
                model=ANALYZE_MODEL,
                max_tokens=1024,
                messages=[{"role": "user", "content": validate_task_description(data.task)}],
            )
        except anthropic.APIError as exc:
            raise guard_error_from_sdk(exc) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        ctx = current_context()
        cost = (ctx.cost_usd or Decimal(0)) if ctx is not None else Decimal(0)
        # A string keeps the exact Decimal the ledger settled.
        return {"result": text, "cost_usd": str(cost), "usage": message.usage.model_dump(exclude_none=True)}

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        [messages, count_tokens, analyze, healthz],
        plugins=[ClaudeGuardPlugin(guard)],
        openapi_config=None,
    )


def __getattr__(name: str) -> Any:
    # ``uvicorn app:app`` reads this attribute once per worker; importing the module for ``create_app``
    # alone needs no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
