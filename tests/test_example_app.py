"""`uvicorn app:app --app-dir examples/fastapi_app` from the repository root, with several workers sharing
Redis: the reference gateway as users deploy it."""

from __future__ import annotations

import os

import anthropic
import httpx

from _uvicorn import ROOT, uvicorn_processes
from claude_guard.keys import KeyStore
from claude_guard.store import StoreConfig, store_from_url
from claude_guard.testing import CANARY_API_KEY, FakeClaude, serve


async def test_example_app_with_two_workers_on_redis(redis_url: str, key_prefix: str) -> None:
    store = store_from_url(redis_url, config=StoreConfig(prefix=key_prefix))
    keys = KeyStore(store)
    admin = await keys.create(profile="admin", environment="development")
    fake = FakeClaude(api_key=CANARY_API_KEY)
    try:
        with serve(fake) as upstream:
            env = {
                **os.environ,
                "CLAUDE_API_KEY": CANARY_API_KEY,
                "CLAUDE_API_URL": upstream.url,
                "CLAUDE_GUARD_STORAGE_URL": redis_url,
                "CLAUDE_GUARD_STORAGE_PREFIX": key_prefix,
                "CLAUDE_GUARD_PII": "off",  # two workers each building Presidio would only slow the test
            }
            env.pop("CLAUDE_API_KEY_FILE", None)
            with uvicorn_processes(
                "app:app", app_dir=ROOT / "examples" / "fastapi_app", env=env, args=["--workers", "2"]
            ) as (url,):
                client = anthropic.Anthropic(base_url=url, api_key=admin.key, max_retries=0)
                for i in range(6):  # spread over both workers by the kernel
                    reply = client.messages.create(
                        model="claude-haiku-4-5",
                        max_tokens=16,
                        messages=[{"role": "user", "content": f"n{i}"}],
                    )
                    assert reply.content[0].text == f"echo: n{i}"  # type: ignore[union-attr]
                await keys.revoke(admin.key_id)
                body = {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": "x"}],
                }
                for _ in range(4):  # revoked in Redis: every worker refuses it at once
                    refused = httpx.post(
                        url + "/v1/messages", json=body, headers={"x-api-key": admin.key}, timeout=10
                    )
                    assert refused.status_code == 401
        assert len(fake.messages_requests) == 6
    finally:
        client_ = store.client  # type: ignore[attr-defined]
        stale = [k async for k in client_.scan_iter(match=f"{key_prefix}*")]
        if stale:
            await client_.delete(*stale)
        await store.aclose()
