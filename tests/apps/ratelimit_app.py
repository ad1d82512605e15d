"""A Starlette app behind ``RateLimitMiddleware`` on a shared Redis, for the multi-process exactness tests.

Served as ``uvicorn --factory --app-dir tests/apps ratelimit_app:create_app``; configured by environment:
``CG_RL_REDIS_URL`` (the shared Redis) and ``CG_RL_PREFIX`` (a key prefix unique to the test).

- ``GET /limited/{strategy}?run=N``: 5 requests per minute for everyone, one counter per ``run``.
- ``GET /failover?run=N``: ``CG_RL_FAILOVER_LIMIT`` (default 150/minute) with the default strategy, one
  counter per ``run``, for the tests that kill a Redis master under load.
- ``GET /spaced?run=N``: ``CG_RL_SPACED_LIMIT`` (default 5 per 2 seconds) per strategy
  (``/spaced/{strategy}``), for the window-boundary tests.
- ``GET /slow?run=N``: at most 5 in flight for everyone (one cap per ``run``); the response starts, then
  waits until the test sets the Redis key ``{prefix}:release:{run}`` (a slow upstream), then ends.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from claude_guard.context import GuardContext
from claude_guard.ratelimit import RateLimitConfig, RateLimitMiddleware, RateLimitRule
from claude_guard.store import StoreConfig, store_from_url


async def by_run(scope: Any, ctx: GuardContext) -> str | None:
    for part in scope.get("query_string", b"").decode().split("&"):
        name, _, value = part.partition("=")
        if name == "run":
            return f"run:{value}"
    return None


def create_app() -> Any:
    prefix = os.environ["CG_RL_PREFIX"]
    store = store_from_url(os.environ["CG_RL_REDIS_URL"], config=StoreConfig(prefix=prefix))
    client: Any = store.client  # type: ignore[attr-defined]
    rules = [
        RateLimitRule(
            path=f"/limited/{strategy}", limits="5/minute", strategy=strategy, key=by_run, name=strategy
        )
        for strategy in ("fixed_window", "moving_window", "sliding_window_counter")
    ]
    rules.append(RateLimitRule(path="/slow", concurrency=5, key=by_run, name="slow"))
    rules.append(
        RateLimitRule(
            path="/failover",
            limits=os.environ.get("CG_RL_FAILOVER_LIMIT", "150/minute"),
            key=by_run,
            name="failover",
        )
    )
    rules += [
        RateLimitRule(
            path=f"/spaced/{strategy}",
            limits=os.environ.get("CG_RL_SPACED_LIMIT", "5 per 2 seconds"),
            strategy=strategy,
            key=by_run,
            name=f"spaced-{strategy}",
        )
        for strategy in ("fixed_window", "moving_window", "sliding_window_counter")
    ]
    config = RateLimitConfig(rules=rules)

    async def limited(request: Request) -> Response:
        return PlainTextResponse(str(os.getpid()))

    async def slow(request: Request) -> Response:
        run = request.query_params["run"]

        async def body() -> AsyncIterator[bytes]:
            yield b"start\n"
            for _ in range(3000):  # at most 30 s
                if await client.exists(f"{prefix}:release:{run}"):
                    break
                await asyncio.sleep(0.01)
            yield b"end\n"

        return StreamingResponse(body(), media_type="text/plain")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/limited/{strategy}", limited),
            Route("/failover", limited),
            Route("/spaced/{strategy}", limited),
            Route("/slow", slow),
            Route("/healthz", healthz),
        ]
    )
    return RateLimitMiddleware(app, config=config, store=store)
