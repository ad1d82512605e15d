"""``claude-guard``: the command line of claude_guard.

The upstream key is never taken from the command line: it comes from ``CLAUDE_API_KEY`` or
``CLAUDE_API_KEY_FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from . import _cli_audit, _cli_budget, _cli_check, _cli_dashboard, _cli_keys
from .audit import configure_telemetry, otlp_endpoint
from .errors import ConfigurationError
from .guard import ClaudeGuard
from .secrets import EnvSecretSource, SecretSource
from .settings import GuardSettings

if TYPE_CHECKING:
    from .testing import FakeClaude

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-guard", description="Security guard for apps and gateways that call the Claude API."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="serve the reference gateway with a fake Claude upstream",
        description="Serve the reference gateway on 127.0.0.1 with FakeClaude embedded, or in front of "
        "--upstream URL with the key from CLAUDE_API_KEY / CLAUDE_API_KEY_FILE.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument(
        "--port", type=int, default=None, help="port to listen on (default 8080; a free one with --scenario)"
    )
    demo.add_argument("--upstream", metavar="URL", help="forward to this Claude API instead of FakeClaude")
    demo.add_argument(
        "--spans", action="store_true", help="also print every OpenTelemetry span on the console"
    )
    demo.add_argument(
        "--scenario",
        action="store_true",
        help="run a short scripted tour (an allowed call, a redacted one, an injection, a forbidden tool, a "
        "rate limit, a budget) against the embedded upstream, then exit",
    )
    _cli_keys.register(commands)
    _cli_audit.register(commands)
    _cli_budget.register(commands)
    _cli_check.register(commands)
    _cli_dashboard.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args.host, args.port, args.upstream, spans=args.spans, scenario=args.scenario)
        if args.command == "keys":
            return _cli_keys.run(args)
        if args.command == "audit":
            return _cli_audit.run(args)
        if args.command in ("prices", "budget"):
            return _cli_budget.run(args)
        if args.command == "check":
            return _cli_check.run(args)
        if args.command == "dashboard":
            return _cli_dashboard.run(args)
    except ConfigurationError as exc:
        print(f"claude-guard: {exc.message}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


@contextlib.contextmanager
def _embedded_upstream() -> Iterator[tuple[str, SecretSource, FakeClaude]]:
    from .testing import FakeClaude, serve

    # A throwaway key shared by the demo gateway and its fake upstream only.
    key = "sk-ant-demo-" + secrets.token_urlsafe(24)
    fake = FakeClaude(api_key=key)
    with serve(fake) as server:
        yield server.url, EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": key}), fake


def _demo(
    host: str,
    port: int | None,
    upstream: str | None,
    out: TextIO = sys.stdout,
    *,
    spans: bool = False,
    scenario: bool = False,
) -> int:
    try:
        import uvicorn

        from .reference_app import create_app
    except ImportError:
        raise ConfigurationError(
            "The demo needs the fastapi extra: pip install 'claude-guard[fastapi]'"
        ) from None
    from ._demo import ConsoleAuditSink, run_scenario
    from .dashboard import DashboardApp, with_dashboard

    if scenario and upstream is not None:
        raise ConfigurationError("--scenario runs against the embedded FakeClaude only: drop --upstream.")
    with contextlib.ExitStack() as stack:
        fake = None
        if upstream is None:
            url, source, fake = stack.enter_context(_embedded_upstream())
            settings = GuardSettings.from_env({**os.environ, "CLAUDE_API_URL": url}, require_api_key=False)
            settings = _replace(settings, api_key_source=source)
            upstream_label = f"FakeClaude (embedded, {url})"
        else:
            settings = GuardSettings.from_env({**os.environ, "CLAUDE_API_URL": upstream})
            upstream_label = settings.api_url
        if scenario:
            # The tour's budget step holds exactly one call's worst case, bounded from the bytes it sends.
            settings = _replace(settings, count_tokens=False)
        if spans and not otlp_endpoint():
            # Spans on the console only when asked (create_app exports to a collector when one is set).
            providers = configure_telemetry("claude-guard-demo")
            if providers is not None:
                stack.callback(providers.shutdown)
        guard = ClaudeGuard(settings=settings)
        console = ConsoleAuditSink(out)
        guard.audit.sinks.append(console)  # one compact line per request, from the audit record
        app = with_dashboard(create_app(guard), DashboardApp(guard))
        demo_keys = asyncio.run(_demo_keys(guard))
        if scenario:
            from .testing import serve

            budget_key, budget_body = asyncio.run(_budget_key(guard))
            with serve(app, host=host, port=port or 0) as server:
                print(_banner(server.url, upstream_label, demo_keys, interactive=False), file=out, flush=True)
                assert fake is not None
                seen = fake

                def upstream_saw(text: str) -> bool:
                    return any(text in r.body.decode(errors="replace") for r in seen.requests)

                return run_scenario(
                    server.url,
                    {**demo_keys, "budget": budget_key},
                    console,
                    pii_enabled=guard.pii_redactor is not None,
                    upstream_saw=upstream_saw,
                    budget_body=budget_body,
                )
        base = f"http://{host}:{port or 8080}"
        print(_banner(base, upstream_label, demo_keys), file=out, flush=True)
        # The compact lines replace uvicorn's access log.
        uvicorn.run(app, host=host, port=port or 8080, log_level="warning")
    return 0


async def _budget_key(guard: ClaudeGuard) -> tuple[str, bytes]:
    """An admin key whose daily budget holds the worst case of one tour call exactly, and that call's body."""
    import json

    from .keys._store import KeyStore
    from .ledger import Ledger
    from .ledger._estimate import estimate_request
    from .profiles import Budgets
    from .store import StoreConfig, store_from_url

    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": "Spend"}],
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    worst = estimate_request(body, raw, guard.prices).worst_case_usd
    # Like the demo keys: a connection of its own for Redis, since the server runs on another event loop.
    shared = guard.store.kind != "memory"
    store = (
        store_from_url(guard.settings.storage_url, config=StoreConfig(prefix=guard.settings.storage_prefix))
        if shared
        else guard.store
    )
    try:
        keys = KeyStore(store) if shared else guard.keys
        issued = await keys.create(
            profile="admin", environment=guard.settings.environment, name="demo budget"
        )
        await Ledger(store).set_budget(f"key:{issued.key_id}", Budgets(usd_per_day=worst))
    finally:
        if shared:
            await store.aclose()
    return issued.key, raw


async def _demo_keys(guard: ClaudeGuard) -> dict[str, str]:
    """One key per built-in profile, in the guard's store (a separate connection for Redis, since the
    server runs on another event loop)."""
    from .keys._store import KeyStore
    from .store import StoreConfig, store_from_url

    if guard.store.kind == "memory":
        keys = guard.keys
    else:
        config = StoreConfig(prefix=guard.settings.storage_prefix)
        keys = KeyStore(store_from_url(guard.settings.storage_url, config=config))
    created: dict[str, str] = {}
    try:
        for profile in ("analysis", "generation", "admin"):
            issued = await keys.create(
                profile=profile, environment=guard.settings.environment, name=f"demo {profile}"
            )
            created[profile] = issued.key
    finally:
        if keys is not guard.keys:
            await keys.store.aclose()
    return created


def _replace(settings: GuardSettings, **changes: object) -> GuardSettings:
    import dataclasses

    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def _banner(base: str, upstream: str, keys: dict[str, str], *, interactive: bool = True) -> str:
    key_lines = "\n".join(f"  {profile:<11} {key}" for profile, key in keys.items())
    key = keys["admin"]
    head = f"""
claude_guard reference gateway
  listening on  {base}
  upstream      {upstream}

Client keys for this run (shown once; profiles analysis: Read, Grep · generation: Read, Write, Edit · admin):
{key_lines}

Dashboard: {base}/dashboard/  (any user name; the admin key above as the password)
"""
    if not interactive:
        return head
    return (
        head
        + f"""
Try it:
  curl -s {base}/v1/messages -H 'x-api-key: {key}' \\
    -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
    -d '{{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{{"role":"user","content":"Hello"}}]}}'

  curl -s {base}/analyze -H 'x-api-key: {keys["analysis"]}' \\
    -H 'content-type: application/json' -d '{{"task":"Summarise the checklist"}}'

Or with the official SDK:
  python -c "import anthropic; c = anthropic.Anthropic(base_url='{base}', api_key='{key}'); \\
print(c.messages.create(model='claude-haiku-4-5', max_tokens=64, \\
messages=[{{'role':'user','content':'Hi'}}]).content[0].text)"

One line per request follows (key id, profile, route, status, decisions, PII, rules, cost, latency).
Press Ctrl-C to stop.
"""
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
