"""Where audit records go: a queryable store (SQLite or Redis Streams), JSON lines, OpenTelemetry logs.

Every sink is asynchronous and keeps blocking work off the event loop: SQLite and file writes run on one
worker thread per sink (a sqlite3 connection belongs to the thread that made it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ..errors import ConfigurationError
from ._record import AuditRecord

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

    from ..store import Store

__all__ = [
    "DEFAULT_AUDIT_DB",
    "AuditSink",
    "JSONLinesAuditSink",
    "OTelLogSink",
    "QueryableAuditSink",
    "RedisAuditSink",
    "SQLiteAuditSink",
    "audit_store_from_url",
]

DEFAULT_AUDIT_DB = "./claude_guard_audit.sqlite3"
_T = TypeVar("_T")


@runtime_checkable
class AuditSink(Protocol):
    """Takes batches of audit records. ``write`` raises on failure; the logger counts it and retries."""

    name: str

    async def write(self, records: Sequence[AuditRecord]) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class QueryableAuditSink(AuditSink, Protocol):
    """A sink that can answer queries, and forget: retention and erasure."""

    async def query(
        self,
        *,
        since: float,
        until: float | None = None,
        key_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records with ``since <= time < until`` (and the key id), oldest first."""
        ...

    async def purge(self, *, older_than: float) -> int:
        """Delete records with ``time < older_than``; returns how many."""
        ...

    async def erase(self, *, key_id: str) -> int:
        """Delete every record of one key id; returns how many."""
        ...


def _loads(text: Any) -> dict[str, Any]:
    # A record that is no longer JSON (edited by hand) is still a record: it verifies as altered.
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"unreadable": True}


class _Worker:
    """One thread that owns a blocking resource; calls are awaited from the loop."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time REAL NOT NULL,"
    " request_id TEXT NOT NULL,"
    " key_id TEXT,"
    " record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time)",
    "CREATE INDEX IF NOT EXISTS audit_log_key_time ON audit_log (key_id, time)",
)


class SQLiteAuditSink:
    """Audit records in a local SQLite file, indexed by time and by key id.

    ``path`` defaults to ``CLAUDE_GUARD_AUDIT_DB`` or ``./claude_guard_audit.sqlite3``. Every statement runs
    on the sink's own thread, never on the event loop; each batch is one transaction (WAL journal).

    Example:
        >>> import asyncio, tempfile, os
        >>> async def demo() -> int:
        ...     sink = SQLiteAuditSink(os.path.join(tempfile.mkdtemp(), "audit.db"))
        ...     await sink.write([AuditRecord(time=1.0, request_id="req_1", route="/", outcome="allowed")])
        ...     found = await sink.query(since=0.0)
        ...     await sink.aclose()
        ...     return len(found)
        >>> asyncio.run(demo())
        1
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(
            path if path is not None else os.environ.get("CLAUDE_GUARD_AUDIT_DB", DEFAULT_AUDIT_DB)
        )
        self.name = "sqlite"
        self._worker = _Worker("claude-guard-audit-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteAuditSink({str(self.path)!r})"

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10.0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.commit()
            self._connection = connection
        return self._connection

    async def write(self, records: Sequence[AuditRecord]) -> None:
        rows = [(r.time, r.request_id, r.key_id, r.to_json()) for r in records]

        def insert() -> None:
            db = self._db()
            with db:
                db.executemany(
                    "INSERT INTO audit_log (time, request_id, key_id, record) VALUES (?,?,?,?)", rows
                )

        await self._worker.run(insert)

    async def query(
        self,
        *,
        since: float,
        until: float | None = None,
        key_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        sql = "SELECT record FROM audit_log WHERE time >= ?"
        params: list[Any] = [since]
        if until is not None:
            sql += " AND time < ?"
            params.append(until)
        if key_id is not None:
            sql += " AND key_id = ?"
            params.append(key_id)
        sql += " ORDER BY time, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))

        def select() -> list[str]:
            return [row[0] for row in self._db().execute(sql, params)]

        return [AuditRecord.from_json(text) for text in await self._worker.run(select)]

    async def raw(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record as stored, in storage order, with its locator (``row N``), for ``audit verify``."""

        def select() -> list[tuple[int, str]]:
            return list(self._db().execute("SELECT seq, record FROM audit_log ORDER BY seq"))

        return [(f"row {seq}", _loads(text)) for seq, text in await self._worker.run(select)]

    async def purge(self, *, older_than: float) -> int:
        return await self._delete("DELETE FROM audit_log WHERE time < ?", (older_than,))

    async def erase(self, *, key_id: str) -> int:
        return await self._delete("DELETE FROM audit_log WHERE key_id = ?", (key_id,))

    async def _delete(self, sql: str, params: tuple[Any, ...]) -> int:
        def delete() -> int:
            db = self._db()
            with db:
                return db.execute(sql, params).rowcount

        return await self._worker.run(delete)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await self._worker.run(close)
        self._worker.shutdown()


class RedisAuditSink:
    """Audit records in a Redis Stream, shared by every replica.

    Each record is one entry (``XADD`` with ``MAXLEN ~ maxlen``, so the stream never grows without bound),
    whose id carries the record's time in milliseconds when the order allows (else Redis's own time).
    Queries are ``XRANGE`` over the time window (plus ``slack`` seconds either side, then filtered exactly by
    record time). Retention deletes exactly the records older than the cut-off: ``XRANGE`` up to it, then
    ``XDEL``. Erasure of one key has no index to use: it reads the whole stream in pages of ``page_size``
    and ``XDEL``s the key's entries, O(stream length); run it as a maintenance job.

    ``client`` is a ``redis.asyncio.Redis`` (``RedisStore.client``); see `from_store`.
    """

    def __init__(
        self,
        client: Any,
        *,
        stream: str = "claude_guard:audit",
        maxlen: int = 1_000_000,
        slack: float = 300.0,
        page_size: int = 1000,
    ) -> None:
        if maxlen <= 0 or page_size <= 0 or slack < 0:
            raise ConfigurationError("maxlen and page_size must be positive, slack not negative")
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.slack = slack
        self.page_size = page_size
        self.name = "redis"
        self._owned: Store | None = None

    @classmethod
    def from_store(cls, store: Store, **kwargs: Any) -> RedisAuditSink:
        """A sink on a ``RedisStore``'s connection, with the stream under the store's key prefix."""
        client = getattr(store, "client", None)
        if client is None:
            raise ConfigurationError("RedisAuditSink needs a Redis store")
        kwargs.setdefault("stream", store.key("audit"))
        return cls(client, **kwargs)

    def __repr__(self) -> str:
        return f"RedisAuditSink(stream={self.stream!r}, maxlen={self.maxlen})"

    async def write(self, records: Sequence[AuditRecord]) -> None:
        from redis.exceptions import ResponseError

        for record in records:
            fields = {"r": record.to_json(), "k": record.key_id or ""}
            try:
                await self.client.xadd(
                    self.stream,
                    fields,
                    id=f"{int(record.time * 1000)}-*",
                    maxlen=self.maxlen,
                    approximate=True,
                )
            except ResponseError:
                # Out of order (another replica wrote a later record first): Redis picks the id.
                await self.client.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)

    async def _pages(self, start: str, end: str) -> Any:
        while True:
            entries = await self.client.xrange(self.stream, min=start, max=end, count=self.page_size)
            if not entries:
                return
            yield entries
            if len(entries) < self.page_size:
                return
            last = entries[-1][0].decode() if isinstance(entries[-1][0], bytes) else entries[-1][0]
            start = "(" + last

    @staticmethod
    def _decode(fields: dict[Any, Any]) -> AuditRecord | None:
        raw = fields.get(b"r", fields.get("r"))
        if raw is None:
            return None
        try:
            return AuditRecord.from_json(raw)
        except (ValueError, KeyError, TypeError):
            return None

    async def query(
        self,
        *,
        since: float,
        until: float | None = None,
        key_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        start = str(max(int((since - self.slack) * 1000), 0))
        end = "+" if until is None else str(int((until + self.slack) * 1000))
        found: list[AuditRecord] = []
        async for entries in self._pages(start, end):
            for _, fields in entries:
                record = self._decode(fields)
                if record is None or record.time < since or (until is not None and record.time >= until):
                    continue
                if key_id is not None and record.key_id != key_id:
                    continue
                found.append(record)
        found.sort(key=lambda r: r.time)
        return found[:limit] if limit is not None else found

    async def raw(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record as stored, in stream order, with its locator (``entry ID``), for ``audit verify``."""
        found: list[tuple[str, dict[str, Any]]] = []
        async for entries in self._pages("-", "+"):
            for entry_id, fields in entries:
                ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                found.append((f"entry {ident}", _loads(fields.get(b"r", fields.get("r")))))
        return found

    async def purge(self, *, older_than: float) -> int:
        end = str(max(int((older_than + self.slack) * 1000), 0))
        return await self._delete_where("-", end, lambda r: r.time < older_than)

    async def erase(self, *, key_id: str) -> int:
        return await self._delete_where("-", "+", lambda r: r.key_id == key_id)

    async def _delete_where(self, start: str, end: str, match: Callable[[AuditRecord], bool]) -> int:
        deleted = 0
        async for entries in self._pages(start, end):
            ids = [entry_id for entry_id, fields in entries if (r := self._decode(fields)) and match(r)]
            if ids:
                deleted += int(await self.client.xdel(self.stream, *ids))
        return deleted

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None


class JSONLinesAuditSink:
    """One JSON object per line, appended to a file (or written to a text stream such as ``sys.stdout``).

    Files are opened in append mode for each batch and flushed, so log shippers can tail them.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str] | None = None) -> None:
        self.name = "jsonl"
        self._path: Path | None = None
        self._stream: IO[str] | None = None
        if target is None:
            self._stream = sys.stdout
        elif isinstance(target, str | os.PathLike):
            self._path = Path(target)
        else:
            self._stream = target
        self._worker = _Worker("claude-guard-audit-jsonl")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JSONLinesAuditSink({str(self._path) if self._path else '<stream>'!r})"

    async def write(self, records: Sequence[AuditRecord]) -> None:
        text = "".join(r.to_json() + "\n" for r in records)

        def append() -> None:
            with self._lock:
                if self._path is not None:
                    with self._path.open("a", encoding="utf-8") as handle:
                        handle.write(text)
                        handle.flush()
                elif self._stream is not None:
                    self._stream.write(text)
                    self._stream.flush()

        await self._worker.run(append)

    async def aclose(self) -> None:
        self._worker.shutdown()


class OTelLogSink:
    """Audit records as OpenTelemetry log records (event ``claude_guard.audit``), for the user's log backend.

    Without opentelemetry-api installed it does nothing.
    """

    def __init__(self, *, logger_provider: LoggerProvider | None = None) -> None:
        self.name = "otel"
        self._logger: Any = None
        try:
            from opentelemetry._logs import get_logger
        except ImportError:
            return
        self._logger = get_logger("claude_guard.audit", logger_provider=logger_provider)

    async def write(self, records: Sequence[AuditRecord]) -> None:
        if self._logger is None:
            return
        from opentelemetry._logs import LogRecord, SeverityNumber

        for record in records:
            data = record.to_dict()
            attributes: dict[str, Any] = {}
            for key, value in data.items():
                if value is None:
                    continue
                if key == "pii_counts":
                    attributes["claude_guard.pii.entity_types"] = sorted(value)
                    attributes["claude_guard.pii.entity_counts"] = [value[t] for t in sorted(value)]
                elif isinstance(value, list):
                    attributes[f"claude_guard.audit.{key}"] = [str(v) for v in value]
                else:
                    attributes[f"claude_guard.audit.{key}"] = value
            self._logger.emit(
                LogRecord(
                    timestamp=int(record.time * 1e9),
                    severity_number=SeverityNumber.INFO,
                    severity_text="INFO",
                    body=f"{record.method} {record.route} {record.outcome} {record.status}",
                    attributes=attributes,
                    event_name="claude_guard.audit",
                )
            )

    async def aclose(self) -> None:
        return None


def audit_store_from_url(
    storage_url: str | None = None, *, path: str | os.PathLike[str] | None = None, prefix: str = "cg"
) -> QueryableAuditSink:
    """The queryable sink for a storage URL: Redis Streams for ``redis://``, else the SQLite file."""
    if storage_url and not storage_url.startswith("memory"):
        from ..store import StoreConfig, store_from_url

        store = store_from_url(storage_url, config=StoreConfig(prefix=prefix))
        if store.kind == "redis":
            sink = RedisAuditSink.from_store(store)
            sink._owned = store
            return sink
    return SQLiteAuditSink(path)
