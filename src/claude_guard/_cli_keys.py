"""``claude-guard keys``: create, list, show, re-profile, rotate and revoke client keys.

A new key is printed once, alone on stdout (so ``KEY=$(claude-guard keys create ...)`` works); everything
else goes to stderr or is metadata. The store is ``--storage URL`` or ``CLAUDE_GUARD_STORAGE_URL``; with
``memory://`` the keys file (``--keys-file`` or ``CLAUDE_GUARD_KEYS_FILE``) is required, since a process's
memory dies with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from typing import Any

from .errors import ConfigurationError
from .keys import ENV_CODES
from .keys._store import KeyStore
from .profiles import BUILTIN_PROFILES, load_profiles
from .store import StoreConfig, store_from_url

__all__ = ["parse_duration", "register", "run"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``90d``, ``24h``, ``30m`` or ``45s``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90d, 24h, 30m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def register(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage client API keys")
    keys.add_argument("--storage", metavar="URL", help="store URL (default: CLAUDE_GUARD_STORAGE_URL)")
    keys.add_argument("--keys-file", metavar="PATH", help="keys file for memory:// storage")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    create = sub.add_parser("create", help="issue a key; prints it once, alone on stdout")
    create.add_argument("--profile", required=True, help="analysis, generation, admin or a custom profile")
    create.add_argument("--env", required=True, choices=sorted(ENV_CODES), help="environment of the key")
    create.add_argument("--name", help="a label for people")
    create.add_argument("--expires", type=parse_duration, metavar="DURATION", help="e.g. 90d")

    sub.add_parser("list", help="list keys (never the keys themselves)")
    show = sub.add_parser("show", help="show one key's metadata")
    show.add_argument("key_id")
    perms = sub.add_parser("permissions", help="change a key's profile")
    perms.add_argument("key_id")
    perms.add_argument("--set-profile", required=True, metavar="PROFILE")
    rotate = sub.add_parser("rotate", help="issue a successor; the old key stays valid for the grace period")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", type=parse_duration, default=86400.0, metavar="DURATION")
    rotate.add_argument("--expires", type=parse_duration, metavar="DURATION")
    revoke = sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")


def _keystore(args: argparse.Namespace) -> KeyStore:
    url = args.storage or os.environ.get("CLAUDE_GUARD_STORAGE_URL") or "memory://"
    keys_file = args.keys_file or os.environ.get("CLAUDE_GUARD_KEYS_FILE")
    prefix = os.environ.get("CLAUDE_GUARD_STORAGE_PREFIX", "cg").strip() or "cg"
    store = store_from_url(url, config=StoreConfig(prefix=prefix))
    if store.kind == "memory" and not keys_file:
        raise ConfigurationError(
            "With memory:// storage, keys live in a file: pass --keys-file or set CLAUDE_GUARD_KEYS_FILE."
        )
    return KeyStore(store, keys_file=keys_file if store.kind == "memory" else None)


def _known_profiles() -> set[str]:
    names = set(BUILTIN_PROFILES)
    path = os.environ.get("CLAUDE_GUARD_PROFILES_FILE")
    if path:
        names |= set(load_profiles(path))
    return names


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _public(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = record.to_public()
    for field in ("created_at", "expires_at", "revoked_at"):
        data[field] = _iso(data[field])
    return data


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    keys = _keystore(args)
    try:
        action = args.keys_command
        if action in ("create", "permissions"):
            profile = args.profile if action == "create" else args.set_profile
            if profile not in _known_profiles():
                print(f"claude-guard: unknown profile {profile!r}", file=sys.stderr)
                return 2
        try:
            if action == "create":
                issued = await keys.create(
                    profile=args.profile, environment=args.env, name=args.name, expires_in=args.expires
                )
                print(f"created key {issued.key_id} (profile {args.profile}, {args.env})", file=sys.stderr)
                print(issued.key)
            elif action == "list":
                for record in await keys.list():
                    state = "revoked" if record.revoked_at else "active"
                    expires = _iso(record.expires_at) or "-"
                    print(
                        f"{record.key_id}  {record.profile:<12} {record.environment:<12} {state:<8} "
                        f"expires {expires}  {record.name or ''}".rstrip()
                    )
            elif action == "show":
                found = await keys.get(args.key_id)
                if found is None:
                    raise KeyError(args.key_id)
                print(json.dumps(_public(found), indent=2))
            elif action == "permissions":
                record = await keys.set_profile(args.key_id, args.set_profile)
                print(json.dumps(_public(record), indent=2))
            elif action == "rotate":
                issued = await keys.rotate(args.key_id, grace=args.grace, expires_in=args.expires)
                print(
                    f"rotated {args.key_id} -> {issued.key_id}; the old key stays valid for "
                    f"{args.grace:.0f}s",
                    file=sys.stderr,
                )
                print(issued.key)
            elif action == "revoke":
                await keys.revoke(args.key_id)
                print(f"revoked {args.key_id}", file=sys.stderr)
        except KeyError:
            print(f"claude-guard: no key {args.key_id!r}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"claude-guard: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        await keys.store.aclose()
