"""Where keys leak, for ``claude-guard check``: key-shaped literals in a process's arguments and in code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["key_shaped_literals", "process_arguments", "scan_source"]

# Obviously fake literals (documentation, canaries) are not findings.
_FAKE_MARKERS = ("fake", "example", "canary", "dummy", "placeholder", "xxxxxxxx", "redacted", "your-key")
_SOURCE_SUFFIXES = frozenset(
    {".py", ".toml", ".yaml", ".yml", ".json", ".env", ".cfg", ".ini", ".sh", ".js", ".ts", ".tf", ".txt"}
)
_SOURCE_NAMES = frozenset({"Dockerfile", "Containerfile", "docker-compose.yml", "compose.yaml", ".env"})
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", "site"})
_MAX_FILE_BYTES = 2 * 1024 * 1024


def key_shaped_literals(text: str) -> list[tuple[int, str]]:
    """``(offset, credential id)`` of every key-shaped literal in ``text`` that is not marked as fake.

    Example:
        >>> key_shaped_literals("key = 'AKIA" + "Q" * 16 + "'")
        [(7, 'aws_access_key_id')]
        >>> key_shaped_literals("key = 'sk-ant-api03-fake-for-docs-0000'")
        []
    """
    # The project's one credential table (the log scrubber's and PII redaction's): one call, one place.
    from ._credentials import find_credentials

    found: dict[int, str] = {}
    for match in find_credentials(text):
        if any(marker in text[match.start : match.end].lower() for marker in _FAKE_MARKERS):
            continue
        line_start = text.rfind("\n", 0, match.start) + 1
        if match.id == "secret_assignment" and not text[line_start : match.start].strip():
            # A name at the end of one line and a value starting the next (``..._api_key`` ending a path):
            # in code a literal is assigned on its own line.
            continue
        found.setdefault(match.start, match.id)
    return sorted(found.items())


def process_arguments(pid: int | None = None) -> list[str]:
    """The command line of process ``pid`` (this one by default), from ``/proc/<pid>/cmdline``."""
    path = Path(f"/proc/{pid if pid is not None else 'self'}/cmdline")
    try:
        raw = path.read_bytes()
    except OSError:
        if pid is not None:
            raise ConfigurationError(f"cannot read the arguments of process {pid}.") from None
        return list(getattr(sys, "orig_argv", sys.argv))
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _source_files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.suffix in _SOURCE_SUFFIXES or name in _SOURCE_NAMES:
                yield path


def scan_source(root: Path) -> list[str]:
    """``file:line (kind)`` of every key-shaped literal under ``root``."""
    places: list[str] = []
    for path in _source_files(root):
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for offset, kind in key_shaped_literals(text):
            line = text.count("\n", 0, offset) + 1
            places.append(f"{path.relative_to(root)}:{line} ({kind})")
    return places
