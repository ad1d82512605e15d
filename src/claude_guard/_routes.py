"""Which routes a protection applies to: one matcher for every ``paths``, ``routes`` and ``exempt_paths``.

A pattern is an exact path (``/v1/messages``) or an ``fnmatch`` glob (``/v1/*``, ``/files/[ab]*``), matched
case-sensitively against the ASGI ``path``: already percent-decoded, without the query string. As in
``fnmatch``, ``*`` matches any run of characters, ``/`` included, so ``/v1/*`` covers ``/v1/a/b`` and ``**``
means the same as ``*``.

The trailing-slash rule: a path with trailing slashes is the same route as without them, for the path and for
the pattern (``/v1/messages/`` is guarded wherever ``/v1/messages`` is). An exemption list
(``strict_slash=True``) compares paths as they are, so an exemption never covers more than it names.

Patterns are compiled once, when the middleware is made; a match is one dict lookup for exact paths plus one
regular expression per glob.

Example:
    >>> routes = PathPatterns(["/v1/messages", "/admin/*"])
    >>> routes.matches("/v1/messages/"), routes.matches("/admin/keys/1"), routes.matches("/v1/models")
    (True, True, False)
    >>> RouteMap({"/upload*": 10_000_000, "*": 1024}).get("/upload/big")
    10000000
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar, overload

__all__ = ["PathPatterns", "RouteMap"]

V = TypeVar("V")
D = TypeVar("D")

_GLOB = re.compile(r"[*?\[]")
_MEMO_SIZE = 1024


def _without_slash(path: str) -> str:
    return path.rstrip("/") or "/"


class PathPatterns:
    """A set of path patterns (see the module docstring); ``matches`` and ``index`` say which one a path hits.

    A single string is one pattern, not a set of characters.
    """

    __slots__ = ("_exact", "_globs", "_memo", "_strict", "patterns")

    def __init__(self, patterns: Iterable[str], *, strict_slash: bool = False) -> None:
        self.patterns: tuple[str, ...] = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        self._strict = strict_slash
        self._exact: dict[str, int] = {}
        self._globs: list[tuple[int, re.Pattern[str]]] = []
        # Every guard layer asks about the same few paths on every request: answers are kept, up to
        # _MEMO_SIZE paths (paths come from clients, so the memo is bounded and starts over when full).
        self._memo: dict[str, int | None] = {}
        for index, pattern in enumerate(self.patterns):
            key = pattern if strict_slash else _without_slash(pattern)
            if _GLOB.search(pattern):
                self._globs.append((index, re.compile(fnmatch.translate(key))))
            else:
                self._exact.setdefault(key, index)

    def __repr__(self) -> str:
        return f"PathPatterns({list(self.patterns)!r})"

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def index(self, path: str) -> int | None:
        """The position of the first pattern ``path`` matches, or ``None``."""
        try:
            return self._memo[path]
        except KeyError:
            pass
        found = self._index(path)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[path] = found
        return found

    def _index(self, path: str) -> int | None:
        if self._strict:
            found = self._exact.get(path)
            for index, glob in self._globs:
                if found is not None and index > found:
                    break
                if glob.match(path):
                    return index
            return found
        bare = _without_slash(path)
        found = self._exact.get(bare)
        for index, glob in self._globs:
            if found is not None and index > found:
                break
            # "/files/*" matches "/files/" as written; "/api" (from "/api/") matches "/api/" once bare.
            if glob.match(path) or (bare != path and glob.match(bare)):
                return index
        return found

    def matches(self, path: str) -> bool:
        if not self._globs:  # the common case: a few exact paths, one dict lookup
            return (path if self._strict else path.rstrip("/") or "/") in self._exact
        return self.index(path) is not None


class RouteMap(Generic[V]):
    """Path patterns with a value each (route limits, a validator, a maximum cost): the first pattern that
    matches wins, in the order given.

    Example:
        >>> limits = RouteMap({"/v1/messages": "messages", "/v1/*": "other"})
        >>> limits.get("/v1/messages"), limits.get("/v1/models"), limits.get("/healthz", "none")
        ('messages', 'other', 'none')
    """

    __slots__ = ("patterns", "values")

    def __init__(self, routes: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        items = tuple(routes.items()) if isinstance(routes, Mapping) else tuple(routes)
        self.patterns = PathPatterns([pattern for pattern, _ in items])
        self.values: tuple[V, ...] = tuple(value for _, value in items)

    def __repr__(self) -> str:
        return f"RouteMap({dict(zip(self.patterns.patterns, self.values, strict=True))!r})"

    def __bool__(self) -> bool:
        return bool(self.values)

    @overload
    def get(self, path: str) -> V | None: ...
    @overload
    def get(self, path: str, default: D) -> V | D: ...
    def get(self, path: str, default: object = None) -> object:
        """The value of the first pattern ``path`` matches, else ``default``."""
        index = self.patterns.index(path)
        return default if index is None else self.values[index]
