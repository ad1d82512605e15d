"""A gateway behind ``CostMeterMiddleware`` forwarding to FakeClaude, for the ledger's end-to-end tests.

Served as ``uvicorn --factory --app-dir tests/apps ledger_gateway:create_app`` (one process per port), or
built in-process with ``create_app(environ)``. Configured by environment:

- ``CG_LEDGER_UPSTREAM``: FakeClaude's base URL; ``CG_LEDGER_STORAGE``: ``memory://`` or a Redis URL;
- ``CG_LEDGER_PREFIX``: a key prefix unique to the test;
- ``CG_LEDGER_MAX_COST``: the default maximum cost of a request (USD).

The caller's key id comes from the ``x-test-key`` header (a stand-in for ``APIKeyMiddleware``), with a
profile whose per-key daily budget is ``CG_LEDGER_DAILY_USD`` when set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from claude_guard._asgi import ASGIApp, Receive, Scope, Send, context_for, header
from claude_guard.context import Principal
from claude_guard.gateway import MessagesProxy
from claude_guard.ledger import CostMeterMiddleware, Ledger
from claude_guard.middleware import SafeErrorMiddleware
from claude_guard.pricing import PriceTable
from claude_guard.profiles import Budgets, Profile
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.upstream import UpstreamClient


class HeaderKeyMiddleware:
    """Sets the principal and profile from ``x-test-key`` (what APIKeyMiddleware does with real keys)."""

    def __init__(self, app: ASGIApp, *, profile: Profile) -> None:
        self.app = app
        self.profile = profile

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = header(scope, b"x-test-key")
            if key:
                ctx = context_for(scope)
                ctx.principal = Principal(
                    key_id=key.decode(), profile=self.profile.name, environment="development"
                )
                ctx.profile = self.profile
        await self.app(scope, receive, send)


def create_app(environ: Mapping[str, str] | None = None) -> Any:
    env = os.environ if environ is None else environ
    store = store_from_url(env["CG_LEDGER_STORAGE"], config=StoreConfig(prefix=env["CG_LEDGER_PREFIX"]))
    ledger = Ledger(store)
    upstream = UpstreamClient(
        base_url=env["CG_LEDGER_UPSTREAM"],
        key_source=EnvSecretSource("K", {"K": "sk-ant-fake-upstream"}),
        timeout=30.0,
    )
    daily = env.get("CG_LEDGER_DAILY_USD")
    profile = Profile(name="tenant", budgets=Budgets(usd_per_day=Decimal(daily) if daily else None))
    app = Starlette(routes=[Route("/v1/messages", MessagesProxy(upstream), methods=["POST"])])
    app.state.ledger = ledger
    app.state.upstream = upstream
    meter = CostMeterMiddleware(
        app,
        ledger=ledger,
        prices=PriceTable.load(environ={}),
        max_cost=Decimal(env.get("CG_LEDGER_MAX_COST", "1.0")),
    )
    return SafeErrorMiddleware(HeaderKeyMiddleware(meter, profile=profile))
