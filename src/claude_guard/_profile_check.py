"""``check_request``: the one enforcement of a profile's bounds on a Messages request (see ``profiles``).

The gateway (``ProfileMiddleware``) and the SDK egress hook (``ProfileHook``) both call it, before anything
is reserved or sent. A refusal is a 403 ``permission_error`` naming what was refused (a field, a tool type, a
beta name) and never user content.
"""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .errors import PermissionDeniedError

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = ["check_request", "parse_betas", "url_matches"]

_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_.:@/-]{1,64}")
_BETA_HEADER: Final = b"anthropic-beta"
_THINKING_TYPES: Final = frozenset({"enabled", "disabled", "adaptive"})


def _shown(value: object) -> str:
    """A value that may appear in an error message: a short identifier, or "requested"."""
    return value if isinstance(value, str) and _SAFE_NAME.fullmatch(value) else "requested"


def _deny(message: str, code: str) -> PermissionDeniedError:
    return PermissionDeniedError(message, code=code)


def parse_betas(headers: Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Every beta a request asks for, from all of its ``anthropic-beta*`` headers.

    Headers may repeat, each may hold a comma-separated list, and names and values may differ in case or
    carry spaces and tabs: each value is stripped and lower-cased, empty items dropped, order kept. Header
    names are matched by prefix, the same rule by which the gateway forwards them.

    Example:
        >>> parse_betas([(b"Anthropic-Beta", b" A-1 ,, b-2\\t"), (b"anthropic-beta", b"c-3"), (b"via", b"x")])
        ('a-1', 'b-2', 'c-3')
    """
    betas: list[str] = []
    for name, value in headers:
        raw_name = name if isinstance(name, bytes) else name.encode("latin-1", "replace")
        if not raw_name.strip().lower().startswith(_BETA_HEADER):
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        betas.extend(item.strip(" \t\r\n").lower() for item in text.split(",") if item.strip(" \t\r\n"))
    return tuple(betas)


def url_matches(url: str, pattern: str) -> bool:
    """Whether an MCP server ``url`` is one ``pattern`` allows.

    Compared by parts, never as text: the scheme and port must be equal (default ports filled in), the host
    equal or, for ``*.example.com``, a subdomain of it; the path must match the pattern's path
    (``fnmatch``; no path in the pattern allows every path). URLs with user info, backslashes, control
    characters, encoded dots or slashes, or dot segments never match.

    Example:
        >>> url_matches("https://mcp.example.com/v1/sse", "https://mcp.example.com/*")
        True
        >>> url_matches("https://mcp.example.com@evil.test/", "https://mcp.example.com/*")
        False
        >>> url_matches("https://a.tools.example.com/mcp", "https://*.example.com/mcp")
        True
    """
    got = _url_parts(url)
    want = _url_parts(pattern, is_pattern=True)
    if got is None or want is None:
        return False
    scheme, host, port, path = got
    p_scheme, p_host, p_port, p_path = want
    if scheme != p_scheme or port != p_port:
        return False
    if p_host.startswith("*."):
        if not host.endswith(p_host[1:]) or host == p_host[2:]:
            return False
    elif host != p_host:
        return False
    return fnmatch.fnmatchcase(path, p_path or "*")


_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def _url_parts(url: str, *, is_pattern: bool = False) -> tuple[str, str, int, str] | None:
    if not isinstance(url, str) or len(url) > 2048:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url) or "\\" in url:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host or (not is_pattern and "*" in host):
        return None
    path = parts.path or "/"
    lowered = path.lower()
    if "%2e" in lowered or "%2f" in lowered or "%5c" in lowered:
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    if is_pattern and not parts.path:
        path = ""
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme], path


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_request(profile: Profile, body: Mapping[str, Any], betas: Sequence[str] = ()) -> None:
    """Refuse (403 ``PermissionDeniedError``) a Messages request that asks for more than ``profile`` allows.

    ``betas`` are the request's ``anthropic-beta`` values (`parse_betas`). The message names what was
    refused: the model, tool name or type, beta, MCP server (by its position), field and bound; never text of
    the prompt.
    """
    model = body.get("model")
    if isinstance(model, str) and not profile.allows_model(model):
        raise _deny(f"The model {_shown(model)} is not allowed for this key.", "model_not_allowed")
    for beta in betas:
        if not profile.allows_beta(beta):
            raise _deny(f"The beta {_shown(beta)} is not allowed for this key.", "beta_not_allowed")
    allowed_names = _check_tools(profile, body.get("tools"))
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not (profile.allows_tool(name) or name in allowed_names):
            raise _deny(f"The tool {_shown(name)} is not allowed for this key.", "tool_not_allowed")
    _check_mcp_servers(profile, body.get("mcp_servers"))
    _check_output(profile, body)
    speed = body.get("speed", None)
    speed = "standard" if speed is None else speed
    if profile.speeds is not None and speed not in profile.speeds:
        if speed == "fast":
            raise _deny('Fast mode (speed "fast") is not allowed for this key.', "speed_not_allowed")
        raise _deny(f"The speed {_shown(speed)} is not allowed for this key.", "speed_not_allowed")
    tier = body.get("service_tier", None)
    tier = "auto" if tier is None else tier
    if profile.service_tiers is not None and tier not in profile.service_tiers:
        raise _deny(
            f"The service tier {_shown(tier)} is not allowed for this key.", "service_tier_not_allowed"
        )


def _check_tools(profile: Profile, tools: object) -> set[str]:
    """Check ``tools``; return the names of the Anthropic-defined tools it declares (all allowed)."""
    typed_names: set[str] = set()
    if tools is None:
        return typed_names
    if not isinstance(tools, list):
        raise _deny("The tools of this request are not allowed for this key.", "tool_not_allowed")
    for tool in tools:
        if not isinstance(tool, Mapping):
            raise _deny("The tool requested is not allowed for this key.", "tool_not_allowed")
        kind = tool.get("type")
        name = tool.get("name")
        if kind is None or kind == "custom":
            if not isinstance(name, str) or not profile.allows_tool(name):
                raise _deny(f"The tool {_shown(name)} is not allowed for this key.", "tool_not_allowed")
            continue
        if not isinstance(kind, str) or not profile.allows_server_tool(kind):
            raise _deny(
                f"The server tool type {_shown(kind)} is not allowed for this key.",
                "server_tool_not_allowed",
            )
        if isinstance(name, str):
            typed_names.add(name)
    return typed_names


def _check_mcp_servers(profile: Profile, servers: object) -> None:
    if servers is None or profile.mcp_servers is None:
        return
    if not isinstance(servers, list):
        raise _deny("mcp_servers: remote MCP servers are not allowed for this key.", "mcp_server_not_allowed")
    for index, server in enumerate(servers):
        if not profile.mcp_servers:
            raise _deny(
                "mcp_servers: remote MCP servers are not allowed for this key.", "mcp_server_not_allowed"
            )
        url = server.get("url") if isinstance(server, Mapping) else None
        if not isinstance(url, str) or not profile.allows_mcp_server(url):
            raise _deny(
                f"mcp_servers[{index}]: this MCP server URL is not allowed for this key.",
                "mcp_server_not_allowed",
            )


def _check_output(profile: Profile, body: Mapping[str, Any]) -> None:
    if profile.max_tokens is not None and "max_tokens" in body:
        max_tokens = _int(body.get("max_tokens"))
        if max_tokens is None or max_tokens > profile.max_tokens:
            raise _deny(
                f"max_tokens: this key may ask for at most {profile.max_tokens} output tokens.",
                "max_tokens_not_allowed",
            )
    if profile.max_thinking_tokens is None or body.get("thinking") is None:
        return
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if not isinstance(thinking, Mapping) or kind not in _THINKING_TYPES:
        raise _deny(
            "thinking: this thinking configuration is not allowed for this key.", "thinking_not_allowed"
        )
    if kind == "enabled":
        budget = _int(thinking.get("budget_tokens"))
        if budget is None or budget > profile.max_thinking_tokens:
            raise _deny(
                f"thinking.budget_tokens: this key may ask for at most {profile.max_thinking_tokens} "
                "thinking tokens.",
                "thinking_not_allowed",
            )
