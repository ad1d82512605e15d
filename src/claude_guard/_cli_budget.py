"""``claude-guard prices`` and ``claude-guard budget set/show``.

``prices`` prints the price table in force (packaged rows with ``--prices FILE`` or
``CLAUDE_GUARD_PRICES_FILE`` applied). ``budget`` stores per-key (or per-profile) budgets in the shared
store (``--storage URL`` or ``CLAUDE_GUARD_STORAGE_URL``) and shows them with this period's usage; a
stored budget replaces the profile's configured value field by field.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from .errors import ConfigurationError
from .ledger import Ledger
from .pricing import PriceTable
from .profiles import Budgets
from .store import StoreConfig, store_from_url

__all__ = ["register", "run"]

_DIMENSION_LABELS = {
    "usd_day": "USD per day (UTC)",
    "usd_month": "USD per month (UTC)",
    "in_min": "input tokens per minute",
    "out_min": "output tokens per minute",
}
_CLEARABLE = {
    "daily-usd": "usd_day",
    "monthly-usd": "usd_month",
    "input-tpm": "in_min",
    "output-tpm": "out_min",
}


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of USD: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not a non-negative amount of USD: {text!r}")
    return value


def _tokens(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of tokens: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("token budgets must not be negative")
    return value


def register(commands: Any) -> None:
    """Add ``prices`` and ``budget`` to the ``claude-guard`` sub-command parsers."""
    prices = commands.add_parser("prices", help="print the model price table in force")
    prices.add_argument(
        "--prices", metavar="FILE", help="price override file (default: CLAUDE_GUARD_PRICES_FILE)"
    )
    prices.add_argument("--json", action="store_true", help="print JSON instead of a table")

    budget = commands.add_parser("budget", help="set and show per-key or per-profile budgets")
    budget.add_argument("--storage", metavar="URL", help="store URL (default: CLAUDE_GUARD_STORAGE_URL)")
    sub = budget.add_subparsers(dest="budget_command", required=True, metavar="ACTION")
    for name, text in (("set", "store budgets (fields not given are kept)"), ("show", "budgets and usage")):
        action = sub.add_parser(name, help=text)
        who = action.add_mutually_exclusive_group(required=True)
        who.add_argument("--key", metavar="ID", help="a client key id")
        who.add_argument("--profile", metavar="NAME", help="a profile (budgets shared by its keys)")
        action.add_argument("--json", action="store_true", help="print JSON")
        if name == "set":
            action.add_argument("--daily-usd", type=_usd, metavar="USD")
            action.add_argument("--monthly-usd", type=_usd, metavar="USD")
            action.add_argument("--input-tpm", type=_tokens, metavar="TOKENS", help="input tokens per minute")
            action.add_argument(
                "--output-tpm", type=_tokens, metavar="TOKENS", help="output tokens per minute"
            )
            action.add_argument(
                "--clear",
                action="append",
                default=[],
                choices=sorted(_CLEARABLE),
                help="remove a stored budget (the profile's configured value applies again)",
            )


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Handle ``prices`` and ``budget``; returns the exit status."""
    if args.command == "prices":
        table = PriceTable.load(args.prices)
        if args.json:
            rows = {
                model: {
                    "input": str(row.input),
                    "output": str(row.output),
                    "cache_write_5m": str(row.input * row.cache_write_5m),
                    "cache_write_1h": str(row.input * row.cache_write_1h),
                    "cache_read": str(row.input * row.cache_read),
                    "batch_multiplier": str(row.batch),
                    "long_context": None
                    if row.long_context is None
                    else {
                        "threshold": row.long_context.threshold,
                        "input": str(row.long_context.input),
                        "output": str(row.long_context.output),
                    },
                    "aliases": list(row.aliases),
                    "effective": row.effective.isoformat() if row.effective else None,
                    "confirmed": row.confirmed,
                }
                for model, row in sorted(table.rows.items())
            }
            print(json.dumps(rows, indent=2), file=out)
        else:
            print(table.format_table(), file=out)
        return 0
    if args.command == "budget":
        return asyncio.run(_budget(args, out))
    return 1


async def _budget(args: argparse.Namespace, out: TextIO) -> int:
    url = args.storage or os.environ.get("CLAUDE_GUARD_STORAGE_URL") or "memory://"
    prefix = os.environ.get("CLAUDE_GUARD_STORAGE_PREFIX", "cg").strip() or "cg"
    store = store_from_url(url, config=StoreConfig(prefix=prefix))
    if store.kind == "memory":
        raise ConfigurationError(
            "Budgets set from the command line live in the shared store: pass --storage redis://... "
            "or set CLAUDE_GUARD_STORAGE_URL."
        )
    ledger = Ledger(store)
    scope = f"key:{args.key}" if args.key else f"profile:{args.profile}"
    try:
        if args.budget_command == "set":
            budgets = Budgets(
                usd_per_day=args.daily_usd,
                usd_per_month=args.monthly_usd,
                input_tokens_per_minute=args.input_tpm,
                output_tokens_per_minute=args.output_tpm,
            )
            clear = [_CLEARABLE[name] for name in args.clear]
            if budgets == Budgets() and not clear:
                print("claude-guard: give at least one budget, or --clear", file=sys.stderr)
                return 2
            await ledger.set_budget(scope, budgets, clear=clear)
        usage = await ledger.usage(scope)
    finally:
        await store.aclose()
    remaining = usage.remaining()
    if args.json:
        payload = {
            "scope": scope,
            "limits": {k: str(v) for k, v in usage.limits.items()},
            "used": {k: str(v) for k, v in usage.used.items()},
            "remaining": {k: str(v) for k, v in remaining.items()},
        }
        print(json.dumps(payload, indent=2), file=out)
        return 0
    print(f"budgets of {scope} (stored; a profile's configured budgets apply where none is stored)", file=out)
    for dim, label in _DIMENSION_LABELS.items():
        limit = usage.limits.get(dim)
        used = usage.used.get(dim, 0)
        if limit is None:
            print(f"  {label:<26} used {used}  (no stored budget)", file=out)
        else:
            print(f"  {label:<26} used {used} of {limit}, remaining {remaining[dim]}", file=out)
    return 0
