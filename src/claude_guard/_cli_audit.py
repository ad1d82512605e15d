"""``claude-guard audit``: read, purge, erase and verify the audit log.

The store is the same one the guard writes to: Redis Streams when ``CLAUDE_GUARD_STORAGE_URL`` is a Redis URL,
else the SQLite file at ``--db`` / ``CLAUDE_GUARD_AUDIT_DB`` (default ``./claude_guard_audit.sqlite3``).
With ``CLAUDE_GUARD_AUDIT_KEY`` (or ``_FILE``) set, ``erase`` and ``purge`` leave a chained tombstone and
``verify`` checks every chain, naming the first broken link.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from .audit import AuditLogger, AuditRecord
from .audit._chain import AuditChain, verify_chain
from .audit._sinks import QueryableAuditSink, audit_store_from_url
from .errors import ConfigurationError

__all__ = ["register", "run"]

DAY = 86_400.0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``audit`` (with ``erase`` and ``purge``) to the ``claude-guard`` sub-commands."""
    audit: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="show, purge or erase audit records",
        description="Show the audit records of the last N days (oldest first), purge old records, or erase "
        "every record of one key.",
    )
    audit.add_argument("--days", type=float, default=30, help="how many days back to show (default 30)")
    audit.add_argument("--key", metavar="ID", help="only this key id")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.add_argument("--limit", type=int, help="show at most this many records")
    _store_arguments(audit)
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    erase = actions.add_parser("erase", help="delete every record of one key id (GDPR erasure)")
    erase.add_argument("--key", metavar="ID", required=True, dest="erase_key", help="the key id to erase")
    _store_arguments(erase)
    purge = actions.add_parser("purge", help="delete records older than N days (retention)")
    purge.add_argument("--older-than", metavar="DAYS", type=float, required=True, help="age in days")
    _store_arguments(purge)
    verify = actions.add_parser(
        "verify",
        help="check the hash chain (CLAUDE_GUARD_AUDIT_KEY); exit 1 at the first broken link",
        description="Recompute every record's keyed hash and every link; report the first record that was "
        "edited, removed (outside erase/purge) or reordered.",
    )
    verify.add_argument("--json", action="store_true", dest="verify_json", help="the report as JSON")
    _store_arguments(verify)
    audit.set_defaults(handler=run)
    return audit


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the SQLite audit file (CLAUDE_GUARD_AUDIT_DB)",
    )
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="redis:// URL of the audit stream (CLAUDE_GUARD_STORAGE_URL)",
    )
    parser.add_argument(
        "--prefix",
        default=argparse.SUPPRESS,
        help="key prefix of the Redis store (CLAUDE_GUARD_STORAGE_PREFIX)",
    )


def _sink(args: argparse.Namespace) -> QueryableAuditSink:
    url = getattr(args, "storage_url", None) or os.environ.get("CLAUDE_GUARD_STORAGE_URL")
    prefix = getattr(args, "prefix", None) or os.environ.get("CLAUDE_GUARD_STORAGE_PREFIX", "cg")
    return audit_store_from_url(url, path=getattr(args, "db", None), prefix=prefix)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``claude-guard audit ...``; returns the exit status."""
    return asyncio.run(_run(args, out if out is not None else sys.stdout))


def _audit_key() -> bytes | None:
    from .settings import secret_from_env

    secret = secret_from_env(os.environ, "CLAUDE_GUARD_AUDIT_KEY")
    return secret.get_secret_value().encode() if secret is not None else None


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    command = getattr(args, "audit_command", None)
    key = _audit_key()
    sink = _sink(args)
    if command in ("erase", "purge"):
        # Through a logger, so a chained log gets its tombstone (this command's own one-record chain).
        audit = AuditLogger([sink], chain=AuditChain(key) if key is not None else None)
        try:
            if command == "erase":
                removed = await audit.erase(args.erase_key)
                print(f"erased {removed} record(s) of key {args.erase_key}", file=out)
            else:
                removed = await audit.purge(older_than_days=args.older_than)
                print(f"purged {removed} record(s) older than {args.older_than:g} day(s)", file=out)
            return 0
        finally:
            await audit.aclose()
    try:
        if command == "verify":
            return await _verify(sink, key, args, out)
        since = datetime.now(UTC).timestamp() - args.days * DAY
        records = await sink.query(since=since, key_id=args.key, limit=args.limit)
        for record in records:
            print(json.dumps(record.to_dict(), sort_keys=True) if args.json else _line(record), file=out)
        if not args.json:
            print(f"{len(records)} record(s)", file=out)
        return 0
    finally:
        await sink.aclose()


async def _verify(sink: QueryableAuditSink, key: bytes | None, args: argparse.Namespace, out: TextIO) -> int:
    if key is None:
        raise ConfigurationError("audit verify needs the chain key: set CLAUDE_GUARD_AUDIT_KEY or its _FILE.")
    raw = getattr(sink, "raw", None)
    if raw is None:  # pragma: no cover - both queryable sinks have it
        raise ConfigurationError("this audit store cannot be verified")
    report = verify_chain(await raw(), key)
    if args.verify_json:
        payload = {
            "ok": report.ok,
            "records": report.records,
            "chains": report.chains,
            "tombstones": report.tombstones,
            "problems": [
                {"locator": p.locator, "kind": p.kind, "detail": p.detail, "time": p.time}
                for p in report.problems
            ],
        }
        print(json.dumps(payload, sort_keys=True), file=out)
    elif report.first is None:
        print(
            f"ok: {report.records} record(s) in {report.chains} chain(s), {report.tombstones} tombstone(s)",
            file=out,
        )
    else:
        first = report.first
        print(f"BROKEN at {first.locator}: {first.kind}: {first.detail}", file=out)
        for problem in report.problems[1:]:
            print(f"  also {problem.locator}: {problem.kind}: {problem.detail}", file=out)
        print(f"{len(report.problems)} problem(s) in {report.records} record(s)", file=out)
    return 0 if report.ok else 1


def _line(record: AuditRecord) -> str:
    when = datetime.fromtimestamp(record.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cost = f"${record.cost_usd}" if record.cost_usd is not None else "-"
    parts = [
        when,
        record.request_id,
        record.key_id or "-",
        record.profile or "-",
        f"{record.method} {record.route}",
        record.model or "-",
        record.outcome,
        str(record.status) if record.status is not None else "-",
        f"in={record.input_tokens} out={record.output_tokens}",
        cost,
        f"{record.latency_ms:.0f}ms",
    ]
    if record.rule_ids:
        parts.append("rules=" + ",".join(record.rule_ids))
    if record.pii_counts:
        parts.append("pii=" + ",".join(f"{k}:{v}" for k, v in sorted(record.pii_counts.items())))
    return "  ".join(parts)
