"""``claude-guard check``: the security checklist, ticked by the machine.

Every box is checked against the configuration the service would run with (``GuardSettings.from_env``, the
same resolution as ``ClaudeGuard.from_env``) and, where a store is configured, against its state (the client
keys, the audit log). Each check answers ``pass``, ``warn`` or ``fail`` with what it saw and how to fix it;
any ``fail`` makes the exit status 1, so the command gates a CI pipeline or a deployment.

The ``--json`` report is stable (schema ``claude-guard-check/1``, documented in docs/operations.md)::

    {"schema": "claude-guard-check/1", "environment": "production", "status": "pass",
     "summary": {"pass": 12, "warn": 0, "fail": 0},
     "checks": [{"id": "upstream_key", "title": "...", "status": "pass", "detail": "...", "fix": null}, ...]}

Check ids, in order: ``upstream_key``, ``https``, ``least_privilege``, ``cost_limits``, ``validation``,
``error_hygiene``, ``audit_logging``, ``rate_limits``, ``pii``, ``key_rotation``, ``monitoring``,
``incident_response``. No report ever holds a secret: literals found in arguments or code are named by
place (argument number, file and line) and kind, never shown.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, TextIO

from ._cli_check_rules import CHECKS, DAY, CheckResult, Status, _check_upstream_key, _Inputs
from ._cli_check_scan import key_shaped_literals, process_arguments
from .errors import ConfigurationError
from .secret_providers import KEY_VARIABLES

__all__ = ["SCHEMA", "CheckResult", "Status", "key_shaped_literals", "register", "run", "run_checks"]

SCHEMA = "claude-guard-check/1"


def probe_key_source(source: Any) -> Awaitable[str | None]:
    """Read the upstream key's source once (``secret_providers.probe``): ``None`` when it answered, else why
    not (the provider's error as logs name it, never a value). The one place a live probe is made."""
    from .secret_providers import probe

    async def run() -> str | None:
        status = await probe(source)
        return None if status.ok else (status.detail or status.state)

    return run()


def _app_classes(spec: str, app_dir: str | None) -> list[type[Any]]:
    """The middleware classes around the ASGI app at ``module:attribute``."""
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ConfigurationError("--app must be module:attribute")
    if app_dir:
        sys.path.insert(0, app_dir)
    try:
        app = getattr(importlib.import_module(module_name), attribute)
    finally:
        if app_dir:
            sys.path.remove(app_dir)
    classes: list[type[Any]] = []
    for middleware in getattr(app, "user_middleware", ()):
        classes.append(middleware.cls)
    node, seen = app, 0
    while node is not None and seen < 64:
        classes.append(type(node))
        node, seen = getattr(node, "app", None), seen + 1
    return classes


async def _store_state(i: _Inputs) -> None:
    guard = i.guard
    try:
        i.keys = await guard.keys.list()
    except Exception as exc:  # a store that is down is a finding, not a crash
        i.keys_error = type(exc).__name__
    s = i.settings
    sink: Any = None
    try:
        from .audit._sinks import audit_store_from_url

        if guard.store.kind == "redis":
            from .audit import RedisAuditSink

            sink = RedisAuditSink.from_store(guard.store)
        else:
            from .audit._sinks import DEFAULT_AUDIT_DB

            path = Path(s.audit_db or i.env.get("CLAUDE_GUARD_AUDIT_DB") or DEFAULT_AUDIT_DB)
            exists = await asyncio.to_thread(path.is_file)
            sink = audit_store_from_url(None, path=path) if exists else None
        if sink is not None:
            records = await sink.query(since=time.time() - 30 * DAY)
            i.admin_uses = sum(
                1 for r in records if r.profile == "admin" and r.route.startswith("/v1/messages")
            )
    except Exception:
        i.admin_uses = None
    finally:
        if sink is not None and guard.store.kind != "redis":
            await sink.aclose()


def run_checks(
    env: Mapping[str, str] | None = None,
    *,
    pid: int | None = None,
    source: str | os.PathLike[str] | None = None,
    app: str | None = None,
    app_dir: str | None = None,
) -> tuple[str, list[CheckResult]]:
    """Every check, in the documented order; returns the environment's name and the results."""
    from .guard import ClaudeGuard
    from .settings import GuardSettings

    environ = dict(os.environ if env is None else env)
    # The key's source is checked on its own (its errors are a finding); everything else resolves as
    # ClaudeGuard.from_env would. No PII engine is built and no upstream is called.
    settings = GuardSettings.from_env(
        {k: v for k, v in environ.items() if k not in KEY_VARIABLES}, require_api_key=False
    )
    inspect = dataclasses.replace(settings, pii="off", count_tokens=False)
    guard = ClaudeGuard(settings=inspect)
    inputs = _Inputs(
        env=environ,
        settings=settings,
        guard=guard,
        arguments=process_arguments(pid),
        pid=pid,
        source=Path(source) if source is not None else None,
        app_classes=_app_classes(app, app_dir) if app else None,
    )

    async def gather() -> str | None:
        try:
            await _store_state(inputs)
            if not any(name in environ for name in KEY_VARIABLES):
                return None
            from .secret_providers import source_from_env

            try:
                source = source_from_env(environ)
            except ConfigurationError:
                return None  # reported by the check itself
            try:
                return await probe_key_source(source)
            finally:
                close = getattr(source, "aclose", None)
                if close is not None:
                    await close()
        except Exception as exc:
            return type(exc).__name__
        finally:
            await guard.aclose()

    probed = asyncio.run(gather())
    results = [_check_upstream_key(inputs, probed), *(check(inputs) for check in CHECKS)]
    return settings.environment, results


def report(environment: str, results: list[CheckResult]) -> dict[str, Any]:
    """The ``--json`` document (schema ``claude-guard-check/1``)."""
    summary = {status: sum(1 for r in results if r.status == status) for status in ("pass", "warn", "fail")}
    overall = "fail" if summary["fail"] else "warn" if summary["warn"] else "pass"
    return {
        "schema": SCHEMA,
        "environment": environment,
        "status": overall,
        "summary": summary,
        "checks": [r.to_dict() for r in results],
    }


def _table(results: list[CheckResult]) -> str:
    width = max(len(r.title) for r in results)
    lines = [f"{'':4}  {'check':<{width}}  detail / fix"]
    for r in results:
        lines.append(f"{r.status.upper():<4}  {r.title:<{width}}  {r.detail}")
        if r.fix:
            lines.append(f"{'':4}  {'':<{width}}  fix: {r.fix}")
    return "\n".join(lines)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``check`` to the ``claude-guard`` sub-commands."""
    check: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="check the configuration against the security checklist (exit 1 on a failure)",
        description="Check the configuration the service would run with (the environment, as "
        "ClaudeGuard.from_env reads it) and its store against the security checklist.",
    )
    check.add_argument("--json", action="store_true", help="the report as JSON (schema claude-guard-check/1)")
    check.add_argument("--pid", type=int, help="scan this process's arguments for keys (default: this one)")
    check.add_argument("--source", metavar="DIR", help="scan this code for key-shaped literals")
    check.add_argument("--app", metavar="MODULE:ATTR", help="inspect this ASGI app's middleware stack")
    check.add_argument("--app-dir", metavar="DIR", help="directory to import --app from")
    check.set_defaults(handler=run)
    return check


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``claude-guard check``; 1 when any check fails."""
    out = out if out is not None else sys.stdout
    environment, results = run_checks(pid=args.pid, source=args.source, app=args.app, app_dir=args.app_dir)
    document = report(environment, results)
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True), file=out)
    else:
        print(_table(results), file=out)
        s = document["summary"]
        print(
            f"\n{document['status'].upper()}: {s['pass']} pass, {s['warn']} warn, {s['fail']} fail", file=out
        )
    return 1 if document["status"] == "fail" else 0
