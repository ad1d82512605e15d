"""Path rules for file tools: one canonical form for every way of writing a path, then glob matching.

A model asked to read ``/etc/shadow`` may write it ``/etc/./shadow``, ``/workspace/../etc/shadow``,
``%2Fetc%2Fshadow``, ``\\etc\\shadow``, ``／etc／shadow`` (full-width) or ``file:///etc/shadow``. Every form
is folded to one absolute POSIX path before any rule is matched, and the rules themselves are folded the
same way, so ``~/.ssh/**`` in a rule and ``$HOME/.ssh/id_rsa`` in a call meet in the same form.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

__all__ = ["DEFAULT_DENIED_PATHS", "PathRules", "glob_matches", "is_network_path", "normalize_path"]

# Invisible characters a model (or an attacker's document) may slip into a path.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_HOME = re.compile(r"^(?:~|\$HOME\b|\$\{HOME\})")
_DRIVE = re.compile(r"^/*([A-Za-z]):(?=/|$)")
_MAX_DECODES = 4

DEFAULT_DENIED_PATHS: tuple[str, ...] = (
    "/etc/**",
    "/proc/**",
    "/sys/**",
    "/dev/**",
    "/boot/**",
    "/root/**",
    "/run/**",
    "/var/run/**",
    "/var/lib/**",
    "/var/log/**",
    "/usr/**",
    "/bin/**",
    "/sbin/**",
    "/lib/**",
    "/lib64/**",
    "/c:/windows/**",
    "**/.ssh/**",
    "**/.aws/**",
    "**/.azure/**",
    "**/.gnupg/**",
    "**/.kube/**",
    "**/.docker/**",
    "**/.config/gcloud/**",
    "**/.git/config",
    "**/.git-credentials",
    "**/.netrc",
    "**/.npmrc",
    "**/.pypirc",
    "**/.env",
    "**/.env.*",
    "**/*.pem",
    "**/*.key",
    "**/id_rsa*",
    "**/id_ed25519*",
    "**/id_ecdsa*",
    "~/.bashrc",
    "~/.profile",
    "~/.zshrc",
    "~/.bash_history",
    "**/secrets/**",
)
"""Where no file tool of a working profile may read or write: system trees, credential stores and the
usual secret files (``.env``, keys, ``.netrc``), whatever the workspace."""


def normalize_path(raw: str, *, workspace: str = "/workspace", case_insensitive: bool = False) -> str:
    """The canonical absolute POSIX form of a path as a tool would resolve it.

    Percent-escapes are decoded (repeatedly, a bounded number of times), compatibility characters folded
    (NFKC: full-width slashes and dots), invisible characters dropped, backslashes read as separators, a
    ``file://`` URL reduced to its path, ``~``/``$HOME`` mapped to ``/~``, Windows drives to ``/c:`` (and
    then case-folded), relative paths joined to ``workspace``, and ``.``/``..`` collapsed (``..`` never
    climbs above ``/``). With ``case_insensitive`` the result is case-folded and trailing dots and spaces
    of each component are dropped, as Windows and macOS resolve names.

    Example:
        >>> normalize_path("../../etc/./passwd")
        '/etc/passwd'
        >>> normalize_path("%2Fetc%2Fshadow"), normalize_path("~/.ssh/id_rsa")
        ('/etc/shadow', '/~/.ssh/id_rsa')
        >>> normalize_path("C:\\\\Windows\\\\System32", case_insensitive=True)
        '/c:/windows/system32'
    """
    text = _decoded(raw)
    if text[:5].lower() == "file:":
        text = text[5:]
        if text.startswith("//"):
            # file://host/path: the host part is dropped (a remote host is not a local path).
            text = "/" + text[2:].partition("/")[2]
    text = text.replace("\x00", "")
    text = _HOME.sub("/~", text, count=1)
    drive = _DRIVE.match(text)
    if drive:
        # A drive letter means Windows, whose names are case-insensitive whatever the setting says.
        text = f"/{drive.group(1).lower()}:{text[drive.end() :]}"
        case_insensitive = True
    if not text.startswith("/"):
        text = f"{workspace.rstrip('/')}/{text}"
    text = posixpath.normpath(text)
    if text.startswith("//"):
        text = "/" + text.lstrip("/")
    if case_insensitive:
        parts = [p.rstrip(" .") if p not in (".", "..") else p for p in text.casefold().split("/")]
        text = posixpath.normpath("/".join(parts) or "/")
    return text


def _decoded(raw: str) -> str:
    text = raw
    for _ in range(_MAX_DECODES):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).replace("\\", "/").strip()


def is_network_path(raw: str) -> bool:
    """Whether a path names another host: a UNC path (two leading separators) or ``file://host/...``.

    Example:
        >>> is_network_path("//fileserver/share/x"), is_network_path("file://fileserver/x")
        (True, True)
        >>> is_network_path("/srv/x"), is_network_path("file:///srv/x")
        (False, False)
    """
    text = _decoded(raw)
    if text[:7].lower() == "file://":
        return not text[7:].startswith("/") and text[7:].partition("/")[0].lower() not in ("", "localhost")
    return text.startswith("//")


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_glob_source(pattern) + r"\Z", re.S)


def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    # One alternation for a whole list: a path is matched once, not once per glob.
    if not patterns:
        return None
    return re.compile("(?:" + "|".join(f"(?:{_glob_source(p)})" for p in patterns) + r")\Z", re.S)


def _glob_source(pattern: str) -> str:
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")  # a tree includes its root: ``/etc/**`` matches ``/etc`` too
            i += 3
        elif pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def glob_matches(path: str, pattern: str) -> bool:
    """Whether a canonical path matches a glob: ``*`` within one component, ``**`` across any number.

    Example:
        >>> glob_matches("/srv/app/.env", "**/.env"), glob_matches("/etc", "/etc/**")
        (True, True)
        >>> glob_matches("/srv/app/src/a.py", "/srv/app/*")
        False
    """
    return _glob_regex(pattern).match(path) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PathRules:
    """Where a file tool may reach: allowed roots and denied globs, matched on canonical paths.

    A path is refused when it names another host (rule ``path.network``), matches any ``deny`` glob (rule
    ``path.denied``), or when ``allow`` is set and
    it matches none of them (rule ``path.outside_allowed``). Globs are canonicalized like paths, so they may
    be written relative to the workspace, with ``~``, or Windows-style. ``{workspace}`` in a glob stands for
    the workspace root.
    """

    allow: tuple[str, ...] | None = None
    """Globs of the paths the tool may use; ``None`` allows every path the deny list leaves."""
    deny: tuple[str, ...] = DEFAULT_DENIED_PATHS
    """Globs no path may match."""
    fields: tuple[str, ...] = ("file_path", "path", "notebook_path", "paths", "directory", "cwd", "pattern")
    """Input fields (top level of the tool input) that hold paths or path globs; a list holds several."""
    workspace: str = "/workspace"
    """The directory relative paths are resolved against."""
    case_insensitive: bool = False
    """Fold case, and trailing dots and spaces, as a Windows or macOS file system resolves names."""
    _compiled: tuple[re.Pattern[str] | None, re.Pattern[str] | None, bool] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        def fold(patterns: Iterable[str]) -> tuple[str, ...]:
            out = []
            for pattern in patterns:
                expanded = pattern.replace("{workspace}", self.workspace.rstrip("/") or "/")
                if expanded.startswith("**"):
                    out.append(expanded.casefold() if self.case_insensitive else expanded)
                else:
                    out.append(self.normalize(expanded))
            return tuple(out)

        allow = fold(self.allow) if self.allow is not None else ()
        compiled = (_any_of(fold(self.deny)), _any_of(allow), self.allow is not None)
        object.__setattr__(self, "_compiled", compiled)

    def normalize(self, raw: str) -> str:
        return normalize_path(raw, workspace=self.workspace, case_insensitive=self.case_insensitive)

    def check(self, raw: str) -> str | None:
        """The rule id a path breaks, or ``None``.

        Example:
            >>> rules = PathRules(allow=("{workspace}/**",))
            >>> rules.check("src/app.py"), rules.check("/workspace/../etc/hosts"), rules.check("/tmp/x")
            (None, 'path.denied', 'path.outside_allowed')
        """
        if is_network_path(raw):
            return "path.network"
        path = self.normalize(raw)
        deny, allow, has_allow = self._compiled
        if deny is not None and deny.match(path):
            return "path.denied"
        if has_allow and (allow is None or not allow.match(path)):
            return "path.outside_allowed"
        return None
