"""The tamper-evident audit log: records chained by a keyed hash; an edit or a deletion is found and named,
erasure and retention stay possible and verifiable (tombstones)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from claude_guard.audit import AuditLogger, AuditRecord, RedisAuditSink, SQLiteAuditSink
from claude_guard.audit._chain import AuditChain, verify_chain
from claude_guard.cli import main
from claude_guard.store import Store, StoreConfig, store_from_url
from conftest import REDIS_URL

KEY = b"audit-chain-test-key-0123456789ab"


def _record(i: int, *, key_id: str = "key_a", at: float | None = None) -> AuditRecord:
    return AuditRecord(
        time=(at if at is not None else time.time()) + i * 0.001,
        request_id=f"req_{i:04d}",
        route="/v1/messages",
        outcome="allowed",
        status=200,
        key_id=key_id,
        profile="analysis",
    )


@pytest.fixture(params=["sqlite", "redis"])
async def sink(request: pytest.FixtureRequest, tmp_path: Path, key_prefix: str) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        s: Any = SQLiteAuditSink(tmp_path / "audit.db")
        yield s
        await s.aclose()
        return
    store: Store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
    s = RedisAuditSink.from_store(store)
    yield s
    await store.client.delete(s.stream)  # type: ignore[attr-defined]
    await store.aclose()


async def _log(sink: Any, records: list[AuditRecord]) -> AuditLogger:
    audit = AuditLogger([sink], chain=AuditChain(KEY))
    for record in records:
        assert audit.submit(record)
    await audit.flush()
    return audit


async def _verify(sink: Any) -> Any:
    return verify_chain(await sink.raw(), KEY)


async def test_an_untouched_chain_verifies(sink: Any) -> None:
    await _log(sink, [_record(i) for i in range(6)])
    report = await _verify(sink)
    assert report.ok and report.records == 6 and report.chains == 1


async def _edit(sink: Any, index: int, change: dict[str, Any]) -> str:
    """Rewrite the index-th stored record with ``change``; returns its locator afterwards."""
    raw = await sink.raw()
    locator, record = raw[index]
    edited = json.dumps({**record, **change}, sort_keys=True)
    if isinstance(sink, SQLiteAuditSink):
        with sqlite3.connect(sink.path) as db:
            db.execute("UPDATE audit_log SET record = ? WHERE seq = ?", (edited, int(locator.split()[1])))
        return locator
    # A stream entry cannot be edited in place: delete it and add the forged one (it lands at the end).
    client = sink.client
    await client.xdel(sink.stream, locator.split()[1])
    new_id = await client.xadd(sink.stream, {"r": edited, "k": record.get("key_id") or ""})
    return f"entry {new_id.decode() if isinstance(new_id, bytes) else new_id}"


async def _delete(sink: Any, index: int) -> tuple[str, str]:
    """Delete the index-th record; returns its locator and the locator of the record after it."""
    raw = await sink.raw()
    locator = raw[index][0]
    if isinstance(sink, SQLiteAuditSink):
        with sqlite3.connect(sink.path) as db:
            db.execute("DELETE FROM audit_log WHERE seq = ?", (int(locator.split()[1]),))
    else:
        await sink.client.xdel(sink.stream, locator.split()[1])
    return locator, raw[index + 1][0]


@pytest.mark.parametrize(
    "change", [{"status": 403}, {"outcome": "refused"}, {"cost_usd": "0"}, {"extra": 1}], ids=str
)
async def test_editing_one_record_points_at_it(sink: Any, change: dict[str, Any]) -> None:
    await _log(sink, [_record(i) for i in range(6)])
    edited = await _edit(sink, 3, change)
    report = await _verify(sink)
    assert not report.ok
    assert report.first is not None
    assert (report.first.locator, report.first.kind) == (edited, "altered")
    assert len(report.problems) == 1  # the records after it still link to its (stored) MAC


async def test_deleting_one_record_points_at_the_gap(sink: Any) -> None:
    await _log(sink, [_record(i) for i in range(6)])
    _, after = await _delete(sink, 2)
    report = await _verify(sink)
    assert report.first is not None
    assert (report.first.locator, report.first.kind) == (after, "missing")
    assert "2..2" in report.first.detail
    assert len(report.problems) == 1


async def test_forging_the_chain_without_the_key_fails(sink: Any) -> None:
    await _log(sink, [_record(i) for i in range(3)])
    forged = AuditChain(b"not-the-key-but-16-bytes-long!!", chain_id="forged").link(_record(9).to_dict())
    if isinstance(sink, SQLiteAuditSink):
        with sqlite3.connect(sink.path) as db:
            db.execute(
                "INSERT INTO audit_log (time, request_id, key_id, record) VALUES (?,?,?,?)",
                (forged["time"], forged["request_id"], "key_a", json.dumps(forged)),
            )
    else:
        await sink.client.xadd(sink.stream, {"r": json.dumps(forged), "k": "key_a"})
    report = await _verify(sink)
    assert [p.kind for p in report.problems] == ["altered"]


async def test_erasure_and_retention_keep_the_chain_verifiable(sink: Any) -> None:
    old = time.time() - 10 * 86400
    records = [_record(i, at=old) for i in range(3)]
    records += [_record(10 + i, key_id="key_b" if i % 2 else "key_a") for i in range(6)]
    audit = await _log(sink, records)
    assert await audit.erase("key_b") == 3
    assert await audit.purge(older_than_days=5) == 3
    report = await _verify(sink)
    assert report.ok, report.problems
    assert report.tombstones == 2
    remaining = await sink.query(since=0)
    assert {r.key_id for r in remaining if r.route == "/v1/messages"} == {"key_a"}
    tombstones = [r for r in remaining if r.method == "AUDIT"]
    assert [r.outcome for r in tombstones] == ["erased", "purged"]
    # The tombstones hold sequence numbers and MACs, nothing of what was erased.
    assert all(r.key_id is None and "key_b" not in r.to_json() for r in tombstones)
    # A later hand deletion is still found, tombstones or not.
    _, after = await _delete(sink, 1)
    assert (await _verify(sink)).first.locator == after  # type: ignore[union-attr]


async def test_an_unchained_record_among_chained_ones_is_named(sink: Any) -> None:
    await _log(sink, [_record(i) for i in range(2)])
    await sink.write([_record(5)])
    report = await _verify(sink)
    assert [p.kind for p in report.problems] == ["unchained"]


def test_cli_verify_names_the_first_broken_link_and_erase_leaves_it_verifiable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    db = tmp_path / "audit.db"
    monkeypatch.setenv("CLAUDE_GUARD_AUDIT_KEY", KEY.decode())
    monkeypatch.delenv("CLAUDE_GUARD_STORAGE_URL", raising=False)

    async def fill() -> None:
        sink = SQLiteAuditSink(db)
        await _log(sink, [_record(i, key_id="key_a" if i % 3 else "key_c") for i in range(6)])
        await sink.aclose()

    asyncio.run(fill())

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["audit", *args, "--db", str(db)])
        return code, capsys.readouterr().out

    assert run("verify") == (0, "ok: 6 record(s) in 1 chain(s), 0 tombstone(s)\n")
    code, text = run("erase", "--key", "key_c")
    assert code == 0 and "erased 2" in text
    code, text = run("verify")
    assert code == 0 and "1 tombstone(s)" in text
    with sqlite3.connect(db) as conn:
        (seq,) = conn.execute("SELECT seq FROM audit_log ORDER BY seq LIMIT 1 OFFSET 1").fetchone()
        conn.execute(
            "UPDATE audit_log SET record = replace(record, '\"status\":200', '\"status\":201') WHERE seq = ?",
            (seq,),
        )
    code, text = run("verify")
    assert code == 1
    assert text.startswith(f"BROKEN at row {seq}: altered")
    code, text = run("verify", "--json")
    payload = json.loads(text)
    assert code == 1 and payload["ok"] is False and payload["problems"][0]["locator"] == f"row {seq}"
    monkeypatch.delenv("CLAUDE_GUARD_AUDIT_KEY")
    assert run("verify")[0] == 2  # no key: a configuration error, not a pass


def test_the_chain_key_is_never_in_a_record() -> None:
    record = AuditChain(KEY).link(_record(1).to_dict())
    assert KEY.decode() not in json.dumps(record)
    assert os.urandom  # the chain id is random per writer
    assert AuditChain(KEY).chain_id != AuditChain(KEY).chain_id


async def test_successive_erasures_widen_a_gap_and_stay_verifiable(sink: Any) -> None:
    audit = await _log(sink, [_record(i, key_id=f"key_{i}") for i in range(8)])
    assert await audit.erase("key_4") == 1
    assert await audit.erase("key_3") == 1  # the gap 4..4 becomes 3..4
    assert await audit.erase("key_7") == 1  # a chain's last record
    report = await _verify(sink)
    assert report.ok, report.problems
    assert report.tombstones == 3


async def test_a_purge_that_removes_earlier_tombstones_covers_their_gaps(sink: Any) -> None:
    audit = await _log(sink, [_record(i, key_id=f"key_{i % 2}") for i in range(6)])
    assert await audit.erase("key_1") == 3
    assert await audit.purge(older_than_days=-1) == 4  # everything, the first tombstone included
    assert audit.submit(_record(99))
    await audit.flush()
    report = await _verify(sink)
    assert report.ok, report.problems
    assert report.records == 2  # the purge's tombstone and the record after it
