"""Instructions per request of the metered layers (client keys, rate limits, profile, cost meter and ledger),
counted by callgrind, so a CPU cut can be checked on a shared machine where wall clocks are noise.

Run (one count per process; the difference of two request counts removes start-up)::

    PYTHONPATH=src valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \
        .venv/bin/python bench/callgrind_layers.py --stack layers -n 300
    # then -n 1300; instructions per request = (Ir(1300) - Ir(300)) / 1000

``--stack layers`` drives APIKeyMiddleware → RateLimitMiddleware → ProfileMiddleware → CostMeterMiddleware
→ FakeClaude; ``--stack full`` drives ``ClaudeGuard.wrap(FakeClaude)`` (every protection, PII off), both as
direct ASGI calls (no HTTP client) on memory storage, a 1 KB prompt, one client key; ``--stack bare`` is
FakeClaude alone, to subtract: what the layers cost is ``layers - bare``. ``--check`` prints the
last response's status and headers instead of nothing (to see the driver does what it claims).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from decimal import Decimal
from typing import Any

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.keys import APIKeyMiddleware, ProfileMiddleware
from claude_guard.keys._authenticator import KeyAuthenticator
from claude_guard.keys._store import KeyStore
from claude_guard.ledger import CostMeter, CostMeterMiddleware, Ledger
from claude_guard.pricing import PriceTable
from claude_guard.profiles import Budgets, Profile
from claude_guard.ratelimit import RateLimiter, RateLimitMiddleware
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude

PROFILE = Profile(
    name="bench",
    tools=frozenset({"Read", "Grep"}),
    models=("claude-haiku-*", "claude-sonnet-*"),
    max_tokens=16_384,
    rate_limits="1000000/minute;100000000/day",
    budgets=Budgets(
        usd_per_day=Decimal(10**6),
        usd_per_month=Decimal(10**7),
        input_tokens_per_minute=10**12,
        output_tokens_per_minute=10**12,
    ),
    profile_budgets=Budgets(usd_per_month=Decimal(10**8)),
)
BODY = json.dumps(
    {
        "model": "claude-haiku-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Please summarise this text. " + "lorem ipsum " * 80}],
    }
).encode()


def _layers(store: MemoryStore, keys: KeyStore, fake: FakeClaude) -> Any:
    auth = KeyAuthenticator(keys, environment="development", profiles={"bench": PROFILE})
    meter = CostMeter(ledger=Ledger(store), prices=PriceTable.load(environ={}))
    app: Any = CostMeterMiddleware(fake, meter=meter)
    app = ProfileMiddleware(app)
    app = RateLimitMiddleware(app, limiter=RateLimiter(store))
    return APIKeyMiddleware(app, authenticator=auth)


def _full(store: MemoryStore, keys_file: str, audit_db: str, fake: FakeClaude) -> Any:
    settings = GuardSettings(
        keys_file=keys_file, pii="off", audit_db=audit_db, profiles={"bench": PROFILE}, audit_otlp="off"
    )
    return ClaudeGuard(settings=settings, store=store).wrap(fake)


async def _call(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[Any]]:
    sent: list[Any] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)
        delivered = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/messages",
        "raw_path": b"/v1/messages",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("gw", 80),
        "root_path": "",
    }
    await app(scope, receive, send)
    return sent[0]["status"], sent


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", choices=("layers", "full", "bare"), default="layers")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="cg-callgrind-")
    keys_file = os.path.join(tmp, "keys.json")
    store = MemoryStore()
    keys = KeyStore(store, keys_file=keys_file)
    issued = await keys.create(profile="bench", environment="development")
    fake = FakeClaude()
    if args.stack == "bare":
        app = fake
    elif args.stack == "layers":
        app = _layers(store, keys, fake)
    else:
        app = _full(store, keys_file, os.path.join(tmp, "audit.db"), fake)
    headers = [
        (b"host", b"gw"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"x-api-key", issued.key.encode()),
        (b"anthropic-version", b"2023-06-01"),
    ]
    last: tuple[int, list[Any]] = (0, [])
    for _ in range(args.warmup + args.n):
        last = await _call(app, headers)
        if last[0] != 200:
            sys.exit(f"unexpected status {last[0]}: {last[1]}")
        fake.reset()
    if args.check:
        print(last[0], last[1][0]["headers"], last[1][1:])


if __name__ == "__main__":
    asyncio.run(main())
