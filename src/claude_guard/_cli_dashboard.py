"""``claude-guard dashboard``: serve the read-only dashboard over the configured audit log and ledger.

It reads the same store as the guard (``CLAUDE_GUARD_STORAGE_URL``: the Redis audit stream and ledger, or the
SQLite audit file ``CLAUDE_GUARD_AUDIT_DB`` with ``memory://``) and needs no upstream key. Only keys of the
admin profile open it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["register", "run"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``dashboard`` to the ``claude-guard`` sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dashboard",
        help="serve the read-only dashboard (admin keys only)",
        description="Serve the dashboard over the audit log and the ledger of CLAUDE_GUARD_STORAGE_URL "
        "(or the SQLite audit file with memory://). Open it with an admin key as the password.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    parser.add_argument("--hours", type=float, default=24.0, help="how far back to look (default 24)")
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between refreshes (default 5)")
    return parser


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve the dashboard until interrupted; returns the exit status."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - uvicorn comes with the fastapi and litestar extras
        raise ConfigurationError("The dashboard needs uvicorn: pip install 'claude-guard[fastapi]'") from None

    from .dashboard import DashboardApp
    from .dashboard._summary import DashboardConfig
    from .guard import ClaudeGuard
    from .settings import GuardSettings

    settings = GuardSettings.from_env(os.environ, require_api_key=False)
    guard = ClaudeGuard(settings=settings)
    try:
        config = DashboardConfig(
            window_hours=args.hours, refresh_seconds=args.refresh, profiles=settings.profiles
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    app = DashboardApp(guard, config=config)
    if guard.store.kind == "memory":
        source = f"{settings.audit_db or 'claude_guard_audit.sqlite3'} (audit only)"
    else:
        parts = urlsplit(settings.storage_url)  # never the password of the URL
        source = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
    print(f"claude_guard dashboard on http://{args.host}:{args.port}/ reading {source}", file=out, flush=True)
    if guard.store.kind == "memory":
        print(
            "  memory:// storage: budgets and keys live in each gateway process; only the audit file is "
            "shared.",
            file=out,
            flush=True,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
