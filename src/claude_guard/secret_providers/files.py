"""A key in a mounted file: a Kubernetes Secret volume, a Docker secret, a Vault Agent or CSI driver sink.

The kubelet writes a Secret volume as a timestamped directory and publishes it by swapping one symlink::

    /etc/claude/api_key -> ..data/api_key
    /etc/claude/..data  -> ..2026_12_01_10_00_00.123456789     (replaced atomically on rotation)

``MountedSecretFileSource`` resolves the path through its symlinks and checks the resolved file's identity
(path, device, inode, size, modification time) at most every ``watch_interval`` seconds; when it changed (the
``..data`` swap, or any rewrite of a plain file) the cached value is dropped and the file read again, so a
rotated Secret is used without a restart. Between checks the value comes from the cache, and the file is also
read again every ``ttl`` seconds whatever its identity says. A file briefly missing or empty during a swap
keeps the last good value (the shared ``CachedSecretSource`` behaviour).

A ``subPath`` mount is a copy made once at pod start: the kubelet never updates it. Mount the whole volume.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "api_key").write_text("sk-ant-fake-doctest\\n")
    >>> MountedSecretFileSource(folder / "api_key", variable="CLAUDE_API_KEY_FILE")
    MountedSecretFileSource('CLAUDE_API_KEY_FILE')
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ConfigurationError, SecretSourceError
from ..secrets import Secret, read_secret_file
from ._cached import DEFAULT_RETRY_AFTER_ERROR, CachedSecretSource, check_value

__all__: list[str] = []  # public through claude_guard.secret_providers (one place per name)

_Identity = tuple[str, int, int, int, int]


class MountedSecretFileSource(CachedSecretSource):
    """A secret read from a file and read again when the file (or the symlink that publishes it) changes.

    Args:
        path: The file; symlinks are followed.
        variable: What configured it (e.g. ``CLAUDE_API_KEY_FILE``): errors and logs name it, not the path's
            content.
        watch_interval: Seconds between two checks of the file's identity (a ``stat`` each).
        ttl: Seconds after which the file is read again even if its identity did not change.
    """

    kind = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        variable: str = "file",
        watch_interval: float = 1.0,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(ttl=ttl, jitter=jitter, retry_after_error=retry_after_error, clock=clock, rng=rng)
        self.path = Path(path)
        self.variable = variable
        self.name = variable
        self.watch_interval = watch_interval
        self._identity: _Identity | None = None
        self._observed: _Identity | None = None
        self._checked_at = float("-inf")
        try:
            self._prime(check_value(self._read(), self._fail))
        except SecretSourceError as exc:
            raise ConfigurationError(exc.detail) from None

    def __repr__(self) -> str:
        return f"MountedSecretFileSource({self.variable!r})"

    async def get(self) -> Secret:
        now = self._clock()
        if now - self._checked_at >= self.watch_interval:
            self._checked_at = now
            current = self._current_identity()
            # Once per change: a file missing for a while is retried on the retry_after_error timer only.
            if current != self._observed:
                self._observed = current
                if current != self._identity:
                    self._expire()
        return await super().get()

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"{self.variable} names a file whose value cannot be used: {why}.")

    def _current_identity(self) -> _Identity | None:
        try:
            resolved = os.path.realpath(self.path)
            st = os.stat(resolved)
        except OSError:
            return None
        return (resolved, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _read(self) -> Secret:
        identity = self._current_identity()
        secret = read_secret_file(self.path, self.variable, SecretSourceError)
        self._identity = self._observed = identity
        return secret

    async def _fetch(self) -> Secret:
        return self._read()

    def _details(self) -> Iterable[tuple[str, str]]:
        yield ("path", str(self.path))
        yield ("kubernetes_volume", "yes" if (self.path.parent / "..data").is_symlink() else "no")
