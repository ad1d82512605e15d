"""The queryable audit stores: time windows, key filters, retention, erasure, durability across restarts."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from claude_guard.audit import AuditLogger, AuditRecord, RedisAuditSink, SQLiteAuditSink
from claude_guard.audit._sinks import QueryableAuditSink
from claude_guard.store import StoreConfig, store_from_url

DAY = 86_400.0
REDIS_URL = os.environ.get("CLAUDE_GUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", "redis"])
async def sink(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueryableAuditSink]:
    if request.param == "sqlite":
        s: QueryableAuditSink = SQLiteAuditSink(tmp_path / "audit.sqlite3")
        yield s
        await s.aclose()
        return
    store = store_from_url(REDIS_URL, config=StoreConfig(prefix=f"cgtest:{uuid.uuid4().hex[:12]}"))
    redis_sink = RedisAuditSink.from_store(store)
    try:
        yield redis_sink
    finally:
        await store.client.delete(redis_sink.stream)  # type: ignore[attr-defined]
        await store.aclose()


def _record(age_days: float, key_id: str | None, n: int, now: float) -> AuditRecord:
    return AuditRecord(
        time=now - age_days * DAY,
        request_id=f"req_{n:04d}",
        route="/v1/messages",
        outcome="allowed",
        key_id=key_id,
        profile="analysis",
        environment="development",
        model="claude-sonnet-4-6",
        status=200,
        input_tokens=11,
        output_tokens=6,
        cost_usd=Decimal("0.000123"),
        rule_ids=("inj-001",),
        pii_counts={"EMAIL_ADDRESS": 2},
    )


async def _fill(sink: QueryableAuditSink, now: float) -> list[AuditRecord]:
    # Ages and keys chosen so each query below has one exact answer.
    plan = [(40, "key_a"), (31, "key_b"), (29, "key_a"), (10, "key_b"), (1, "key_a"), (0.001, None)]
    records = [_record(age, key, n, now) for n, (age, key) in enumerate(plan)]
    await sink.write(records)
    return records


async def test_query_by_time_window_and_key(sink: QueryableAuditSink) -> None:
    now = time.time()
    records = await _fill(sink, now)

    last_30 = await sink.query(since=now - 30 * DAY)
    assert [r.request_id for r in last_30] == ["req_0002", "req_0003", "req_0004", "req_0005"]
    assert last_30[0] == records[2]  # every field survives the round trip

    key_a = await sink.query(since=now - 30 * DAY, key_id="key_a")
    assert [r.request_id for r in key_a] == ["req_0002", "req_0004"]

    window = await sink.query(since=now - 35 * DAY, until=now - 5 * DAY)
    assert [r.request_id for r in window] == ["req_0001", "req_0002", "req_0003"]

    assert [r.request_id for r in await sink.query(since=0, limit=2)] == ["req_0000", "req_0001"]


async def test_retention_removes_exactly_the_old_records(sink: QueryableAuditSink) -> None:
    now = time.time()
    await _fill(sink, now)
    assert await sink.purge(older_than=now - 30 * DAY) == 2
    left = await sink.query(since=0)
    assert [r.request_id for r in left] == ["req_0002", "req_0003", "req_0004", "req_0005"]
    assert await sink.purge(older_than=now - 30 * DAY) == 0


async def test_erasure_removes_exactly_one_keys_records(sink: QueryableAuditSink) -> None:
    now = time.time()
    await _fill(sink, now)
    assert await sink.erase(key_id="key_a") == 3
    left = await sink.query(since=0)
    assert [r.key_id for r in left] == ["key_b", "key_b", None]
    assert await sink.erase(key_id="key_a") == 0


async def test_records_written_just_before_shutdown_are_there_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    audit = AuditLogger([SQLiteAuditSink(path)], batch_size=7)
    now = time.time()
    for n in range(50):
        assert audit.submit(_record(0.0, "key_a", n, now))
    await audit.aclose()  # shutdown right after submitting: the queue is flushed

    restarted = AuditLogger([SQLiteAuditSink(path)])
    logs = await restarted.get_logs(days=30, key_id="key_a")
    await restarted.aclose()
    assert len(logs) == 50
    assert audit.dropped == 0


async def test_redis_records_survive_a_new_logger(key_prefix: str) -> None:
    store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
    audit = AuditLogger([RedisAuditSink.from_store(store)])
    now = time.time()
    for n in range(20):
        audit.submit(_record(0.0, "key_r", n, now))
    await audit.aclose()
    await store.aclose()

    store2 = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
    sink2 = RedisAuditSink.from_store(store2)
    try:
        assert len(await sink2.query(since=now - DAY, key_id="key_r")) == 20
    finally:
        await store2.client.delete(sink2.stream)  # type: ignore[attr-defined]
        await store2.aclose()


async def test_logger_retention_and_erase_go_through_every_queryable_sink(tmp_path: Path) -> None:
    audit = AuditLogger([SQLiteAuditSink(tmp_path / "a.db")])
    now = time.time()
    for n, age in enumerate((45, 20, 2)):
        audit.submit(_record(age, "key_x" if n else "key_y", n, now))
    assert await audit.purge(older_than_days=30) == 1
    assert await audit.erase("key_x") == 2
    assert await audit.get_logs(days=365) == []
    await audit.aclose()


async def test_redis_stream_is_capped(key_prefix: str) -> None:
    store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
    sink = RedisAuditSink.from_store(store, maxlen=100)
    try:
        now = time.time()
        for start in range(0, 1000, 100):
            await sink.write([_record(0.0, "k", n, now) for n in range(start, start + 100)])
        length = await store.client.xlen(sink.stream)  # type: ignore[attr-defined]
        assert 100 <= length < 1000  # MAXLEN ~ trims in whole nodes
    finally:
        await store.client.delete(sink.stream)  # type: ignore[attr-defined]
        await store.aclose()
