"""The claude_guard reference gateway: every protection with its defaults, on one readable page.

``examples/fastapi_app/app.py`` serves it (``uvicorn app:app --app-dir examples/fastapi_app``, any number of
workers), and so does ``claude-guard demo`` with FakeClaude embedded. It lives in the package so the demo
works from an installed wheel. Configuration comes from the environment; see docs/configuration.md.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, cast

import anthropic
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from starlette.routing import Route

from ._asgi import ASGIApp, Receive, Scope, Send
from .audit import configure_telemetry, otlp_endpoint
from .context import current_context
from .egress import guard_error_from_sdk
from .fastapi import max_cost, rate_limit, require_profile
from .guard import ClaudeGuard
from .tuning import gc_tuned
from .validation import validate_task_description

ANALYZE_MODEL = os.environ.get("CLAUDE_GUARD_ANALYZE_MODEL", "claude-haiku-4-5")


class AnalyzeRequest(BaseModel):
    task: str = Field(description="What Claude should analyse.")


class _DirectPost:
    """Sends a POST to one of ``endpoints`` (an exact path) to its ASGI endpoint; everything else to ``app``.

    The endpoints are pure ASGI apps that need nothing from the framework's routing (no path parameters,
    no dependencies): FastAPI's exception middleware, exit stack and router would only wrap them again.
    """

    def __init__(self, app: ASGIApp, *, endpoints: dict[str, ASGIApp]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(guard: ClaudeGuard | None = None, *, tune_gc: bool = True) -> FastAPI:
    """Build the gateway from the environment (or from the ``guard`` given).

    Args:
        guard: The guard to serve; ``None`` builds one from the environment.
        tune_gc: Once started, freeze the start-up objects and raise the young-generation threshold
            while the app is up (`claude_guard.tuning.gc_tuned`: a process-wide setting, which the gateway
            may take because it owns its process; about a tenth of its CPU per request, measured).
    """
    guard = guard or ClaudeGuard.from_env()
    exporting = any(otlp_endpoint(signal) for signal in ("TRACES", "METRICS", "LOGS"))
    if exporting or guard.settings.prometheus_port:
        configure_telemetry(
            "claude-guard-gateway",
            console_when_no_endpoint=False,
            prometheus_port=guard.settings.prometheus_port,
            prometheus_host=guard.settings.prometheus_host,
        )
    served = guard

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with served.lifespan(app):
            if not tune_gc:
                yield
                return
            with gc_tuned():
                yield

    app = FastAPI(title="claude_guard reference gateway", lifespan=lifespan)

    # Gateway routes: protected on ingress, then forwarded to CLAUDE_API_URL with the upstream key.
    proxy = guard.messages_proxy()
    proxy_paths = ("/v1/messages", "/v1/messages/count_tokens")
    for path in proxy_paths:
        app.router.routes.append(Route(path, proxy, methods=["POST"], include_in_schema=False))
    # Added before the guard, so it sits inside every protection: a POST to the proxy goes from the last
    # guard straight to it, not through FastAPI's exception layer and router (about 2 % of the gateway's CPU
    # per request, measured). Other methods still meet the routes above (405).
    app.add_middleware(cast(Any, _DirectPost), endpoints=dict.fromkeys(proxy_paths, proxy))

    # An app-style route: it calls Claude itself through the SDK, protected on egress.
    client = guard.anthropic_client()

    @app.post(
        "/analyze",
        dependencies=[
            Depends(require_profile("analysis")),
            Depends(rate_limit("10/minute", name="analyze")),
            Depends(max_cost(5.0)),
        ],
    )
    async def analyze(request: AnalyzeRequest) -> dict[str, Any]:
        try:
            message = await client.messages.create(
                model=ANALYZE_MODEL,
                max_tokens=1024,
                messages=[{"role": "user", "content": validate_task_description(request.task)}],
            )
        except anthropic.APIError as exc:
            raise guard_error_from_sdk(exc) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        ctx = current_context()
        cost = (ctx.cost_usd or Decimal(0)) if ctx is not None else Decimal(0)
        # A string keeps the exact Decimal the ledger settled.
        return {"result": text, "cost_usd": str(cost), "usage": message.usage.model_dump(exclude_none=True)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    guard.install(app)
    return app
