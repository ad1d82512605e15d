"""Secret values that never show themselves, and the simplest sources of them (a variable, a file).

The upstream Claude key is read from ``CLAUDE_API_KEY``, the file named by ``CLAUDE_API_KEY_FILE`` (Docker and
Kubernetes secrets) or a secrets manager (``CLAUDE_API_KEY_SOURCE``), never from code, a command line or a
request: ``claude_guard.secret_providers.source_from_env`` picks the one that is set.

Example:
    >>> s = Secret("sk-ant-fake-canary")
    >>> str(s), repr(s), f"{s}"
    ('**********', "Secret('**********')", '**********')
    >>> s.get_secret_value()
    'sk-ant-fake-canary'
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ._credentials import find_credentials
from .errors import ConfigurationError

__all__ = [
    "EnvSecretSource",
    "FileSecretSource",
    "Secret",
    "SecretSource",
    "scrub",
]

_MASK = "**********"


class Secret:
    """A string that hides itself from ``str``, ``repr``, formatting, logging and pickling."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __format__(self, spec: str) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@runtime_checkable
class SecretSource(Protocol):
    """Where a secret comes from. ``get`` may be called again later to pick up a rotated value."""

    name: str

    async def get(self) -> Secret: ...


class EnvSecretSource:
    """A secret read from an environment variable (read at construction; the environment is fixed)."""

    def __init__(self, variable: str, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.name = variable
        value = env.get(variable, "")
        if not value.strip():
            raise ConfigurationError(f"{variable} is set but empty.")
        self._secret = Secret(value.strip())

    async def get(self) -> Secret:
        return self._secret

    def __repr__(self) -> str:
        return f"EnvSecretSource({self.name!r})"


def read_secret_file(
    path: Path,
    name: str,
    error: type[Exception] = ConfigurationError,
    *,
    unreadable: str = "{name} names a file that cannot be read ({reason}).",
    empty: str = "{name} names an empty file.",
) -> Secret:
    """The content of a secret file, stripped (and without an editor's byte-order mark).

    ``error`` says which file (``name``: the variable that gave the path) when it cannot be read or is empty,
    never what it holds.
    """
    try:
        value = path.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError) as exc:
        # The path is configuration, not a secret; the content never appears.
        raise error(unreadable.format(name=name, reason=type(exc).__name__)) from None
    if not value:
        raise error(empty.format(name=name))
    return Secret(value)


class FileSecretSource:
    """A secret read from a file, re-read on every ``get`` so a rotated file is picked up without restart."""

    def __init__(self, path: str | os.PathLike[str], *, variable: str = "file") -> None:
        self.name = variable
        self.path = Path(path)
        self._secret = self._read()

    def _read(self) -> Secret:
        return read_secret_file(self.path, self.name)

    async def get(self) -> Secret:
        # A file briefly missing during a rotation keeps the last good value.
        with contextlib.suppress(ConfigurationError):
            self._secret = self._read()
        return self._secret

    def __repr__(self) -> str:
        return f"FileSecretSource({self.name!r})"


# Key-shaped strings that must never leave in an error body or a log line, whatever their origin: every row
# of the credential table PII redaction uses too (`claude_guard._credentials.CREDENTIALS`).
def _mask_key_shapes(text: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted((m.start, m.end) for m in find_credentials(text)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return text
    parts: list[str] = []
    position = 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(_MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def scrub(text: str, known: Iterable[Secret] = ()) -> str:
    """Replace every known secret value and every key-shaped string in ``text`` with a mask.

    Example:
        >>> scrub("upstream said: invalid x-api-key sk-ant-api03-abcdefghijkl")
        'upstream said: invalid x-api-key **********'
    """
    for secret in known:
        value = secret.get_secret_value()
        if value:
            text = text.replace(value, _MASK)
    return _mask_key_shapes(text) if text else text


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_https_url(url: str, what: str) -> str:
    """``url`` without a trailing slash if it is https (or http on a loopback host) and carries no
    credentials; else a ``ConfigurationError`` naming ``what``.

    Example:
        >>> check_https_url("http://127.0.0.1:8080/", "CLAUDE_API_URL")
        'http://127.0.0.1:8080'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an absolute http(s) URL.")
    if parts.username or parts.password:
        raise ConfigurationError(f"{what} must not carry credentials.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(f"{what} must use https unless its host is loopback.")
    return url.rstrip("/")
