"""``claude-guard audit``: read, purge and erase the audit log.

The store is the same one the guard writes to: Redis Streams when ``CLAUDE_GUARD_STORAGE_URL`` is a Redis URL,
else the SQLite file at ``--db`` / ``CLAUDE_GUARD_AUDIT_DB`` (default ``./claude_guard_audit.sqlite3``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from .audit import AuditRecord, QueryableAuditSink, audit_store_from_url

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


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``claude-guard audit ...``; returns the exit status."""
    return asyncio.run(_run(args, out))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    sink = _sink(args)
    try:
        command = getattr(args, "audit_command", None)
        if command == "erase":
            removed = await sink.erase(key_id=args.erase_key)
            print(f"erased {removed} record(s) of key {args.erase_key}", file=out)
            return 0
        if command == "purge":
            cutoff = datetime.now(UTC).timestamp() - args.older_than * DAY
            removed = await sink.purge(older_than=cutoff)
            print(f"purged {removed} record(s) older than {args.older_than:g} day(s)", file=out)
            return 0
        since = datetime.now(UTC).timestamp() - args.days * DAY
        records = await sink.query(since=since, key_id=args.key, limit=args.limit)
        for record in records:
            print(json.dumps(record.to_dict(), sort_keys=True) if args.json else _line(record), file=out)
        if not args.json:
            print(f"{len(records)} record(s)", file=out)
        return 0
    finally:
        await sink.aclose()


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


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m claude_guard._cli_audit``), until ``cli.py`` registers the command."""
    parser = argparse.ArgumentParser(prog="claude-guard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
