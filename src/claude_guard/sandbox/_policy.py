"""Tool policies: what the model may ask each tool to do, and the built-in sandbox of the working profiles."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigurationError
from ._commands import DEFAULT_DENIED_COMMANDS, CommandRules
from ._hosts import HostRules
from ._paths import DEFAULT_DENIED_PATHS, PathRules

__all__ = [
    "ANY_TOOL",
    "DEFAULT_TOOL_POLICIES",
    "ToolPolicy",
    "Violation",
    "check_tool_call",
    "parse_tool_policies",
]

ANY_TOOL = "*"
"""The key of the policy applied to tools that have none of their own."""

_MAX_STRINGS = 10_000


@dataclass(frozen=True, slots=True)
class Violation:
    """A tool call a policy refuses: the tool's name, the rule id and the input field. Never the value."""

    tool: str
    rule: str
    field: str | None = None

    def describe(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"tool call {self.tool}{where} refused by the sandbox policy: {self.rule}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolPolicy:
    """What one tool's calls may carry: path, command and host rules, and an argument schema.

    Example:
        >>> policy = ToolPolicy(paths=PathRules())
        >>> policy.check("Read", {"file_path": "/etc/shadow"})
        Violation(tool='Read', rule='path.denied', field='file_path')
        >>> policy.check("Read", {"file_path": "src/main.py"}) is None
        True
    """

    paths: PathRules | None = None
    """Rules for the input fields that hold paths."""
    commands: CommandRules | None = None
    """Rules for the input fields that hold shell lines."""
    hosts: HostRules | None = None
    """Rules for URLs in the input."""
    schema: Mapping[str, Any] | None = None
    """A JSON Schema subset the input must satisfy (``type``, ``properties``, ``required``,
    ``additionalProperties``, ``enum``, ``maxLength``, ``maxItems``, ``items``, ``minimum``, ``maximum``);
    anything else in it is refused at start-up rather than silently ignored."""

    def __post_init__(self) -> None:
        if self.schema is not None:
            _check_schema(self.schema, "schema")

    def check(self, tool: str, tool_input: Any) -> Violation | None:
        if self.schema is not None:
            problem = _validate(tool_input, self.schema, "input")
            if problem is not None:
                return Violation(tool, "schema." + problem[0], problem[1])
        if not isinstance(tool_input, Mapping):
            return None if self.schema is not None else Violation(tool, "input.not_object")
        if self.paths is not None:
            for name in self.paths.fields:
                for value in _strings(tool_input.get(name)):
                    rule = self.paths.check(value)
                    if rule is not None:
                        return Violation(tool, rule, name)
        if self.commands is not None:
            for name in self.commands.fields:
                for value in _strings(tool_input.get(name)):
                    rule = self.commands.check(value)
                    if rule is not None:
                        return Violation(tool, rule, name)
        if self.hosts is not None:
            for name, value in _urls(tool_input, self.hosts):
                rule = self.hosts.check(value)
                if rule is not None:
                    return Violation(tool, rule, name)
        return None


def check_tool_call(policies: Mapping[str, ToolPolicy], name: Any, tool_input: Any) -> Violation | None:
    """Check one ``tool_use`` against a profile's policies (the tool's own, else ``"*"``); ``None`` passes.

    Example:
        >>> check_tool_call(DEFAULT_TOOL_POLICIES["generation"], "Bash", {"command": "curl x | sh"})
        Violation(tool='Bash', rule='command.denied', field='command')
    """
    if not policies:
        return None
    tool = name if isinstance(name, str) else ""
    policy = policies.get(tool) or policies.get(ANY_TOOL)
    if policy is None:
        return None
    return policy.check(tool or "?", tool_input)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value[:_MAX_STRINGS]:
            if isinstance(item, str):
                yield item


def _urls(tool_input: Mapping[str, Any], hosts: HostRules) -> Iterator[tuple[str, str]]:
    for name in hosts.fields:
        for value in _strings(tool_input.get(name)):
            yield name, value
    if not hosts.scan_strings:
        return
    # Every string anywhere in the input that reads like a URL (an explicit stack: inputs nest arbitrarily).
    stack: list[tuple[str, Any]] = [(k, v) for k, v in tool_input.items() if k not in hosts.fields]
    seen = 0
    while stack and seen < _MAX_STRINGS:
        key, value = stack.pop()
        seen += 1
        if isinstance(value, str):
            head = value[:32].lstrip().lower()
            scheme, sep, _ = head.partition("://")
            if sep and scheme and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
                yield key, value.strip()
        elif isinstance(value, Mapping):
            stack.extend((str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)


_SCHEMA_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "maxLength",
        "maxItems",
        "items",
        "minimum",
        "maximum",
        "description",
        "title",
    }
)
_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, Mapping):
        raise ConfigurationError(f"tool policy {where} must be a table")
    unknown = set(schema) - _SCHEMA_KEYS
    if unknown:
        raise ConfigurationError(f"tool policy {where}: unsupported schema keyword {sorted(unknown)[0]!r}")
    types = schema.get("type")
    for t in [types] if isinstance(types, str) else (types or []):
        if t not in _TYPES:
            raise ConfigurationError(f"tool policy {where}: unknown type {t!r}")
    for key, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties.{key}")
    if isinstance(schema.get("items"), Mapping):
        _check_schema(schema["items"], f"{where}.items")


def _validate(value: Any, schema: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """A small JSON Schema subset, written here because a policy needs a bounded, offline check with
    field names in its refusals; ``jsonschema`` would be a new dependency for these few keywords."""
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        ok = False
        for t in allowed:
            if isinstance(value, _TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool)):
                ok = True
        if not ok:
            return "type", where
    if "enum" in schema and value not in schema["enum"]:
        return "enum", where
    if isinstance(value, str) and "maxLength" in schema and len(value) > int(schema["maxLength"]):
        return "max_length", where
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return "minimum", where
        if "maximum" in schema and value > schema["maximum"]:
            return "maximum", where
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > int(schema["maxItems"]):
            return "max_items", where
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value[:_MAX_STRINGS]):
                problem = _validate(item, items, f"{where}[{index}]")
                if problem is not None:
                    return problem
    if isinstance(value, Mapping):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                return "required", f"{where}.{name}"
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in properties:
                    return "additional_property", where
        for name, sub in properties.items():
            if name in value:
                problem = _validate(value[name], sub, f"{where}.{name}")
                if problem is not None:
                    return problem
    return None


_READ_PATHS = PathRules()
_WRITE_PATHS = PathRules(allow=("{workspace}/**", "/tmp/**"))  # noqa: S108 - a glob of allowed writes
_NO_PRIVATE_HOSTS = HostRules()
_ANY = ToolPolicy(
    paths=PathRules(fields=("file_path", "path", "notebook_path", "paths")), hosts=_NO_PRIVATE_HOSTS
)
_READ = ToolPolicy(paths=_READ_PATHS, hosts=_NO_PRIVATE_HOSTS)
_WRITE = ToolPolicy(paths=_WRITE_PATHS, hosts=_NO_PRIVATE_HOSTS)
_SHELL = ToolPolicy(commands=CommandRules(paths=_READ_PATHS), hosts=_NO_PRIVATE_HOSTS)
_FETCH = ToolPolicy(hosts=_NO_PRIVATE_HOSTS)

DEFAULT_TOOL_POLICIES: Mapping[str, Mapping[str, ToolPolicy]] = {
    "analysis": {"Read": _READ, "Grep": _READ, "Glob": _READ, "LS": _READ, ANY_TOOL: _ANY},
    "generation": {
        "Read": _READ,
        "Grep": _READ,
        "Glob": _READ,
        "LS": _READ,
        "Write": _WRITE,
        "Edit": _WRITE,
        "MultiEdit": _WRITE,
        "NotebookEdit": _WRITE,
        "str_replace_based_edit_tool": _WRITE,
        "str_replace_editor": _WRITE,
        "Bash": _SHELL,
        "bash": _SHELL,
        "WebFetch": _FETCH,
        ANY_TOOL: _ANY,
    },
    "admin": {},
}
"""The checklist's sandbox for the built-in profiles: no system files or credential stores for any file
tool, writes only inside the workspace (and ``/tmp``), no network clients, privilege escalation or
dangerous constructs in shell lines, and no private or link-local address in any URL. ``admin`` keys are
for operators and carry no tool policy."""


def parse_tool_policies(profile: str, raw: Any) -> dict[str, ToolPolicy]:
    """Tool policies from a profile's TOML table ``[profiles.NAME.tool_policies.TOOL]``.

    Each tool's table may hold ``paths = {allow = [...], deny = [...], fields = [...], workspace = "...",
    case_insensitive = false, extend_default_deny = true}``, ``commands = {deny = [...], allow = [...],
    fields = [...], extend_default_deny = true}``, ``hosts = {allow = [...], deny = [...], schemes = [...],
    allow_private = false}`` and ``schema = {...}``. Deny lists extend the built-in ones unless
    ``extend_default_deny = false``.

    Example:
        >>> policies = parse_tool_policies("ci", {"Bash": {"commands": {"allow": ["pytest", "ruff check"]}}})
        >>> policies["Bash"].check("Bash", {"command": "pytest -q && make deploy"})
        Violation(tool='Bash', rule='command.not_allowed', field='command')
    """
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"profile {profile!r}: tool_policies must be a table of tool names")
    out: dict[str, ToolPolicy] = {}
    for tool, table in raw.items():
        where = f"profile {profile!r}, tool {tool!r}"
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"{where}: the policy must be a table")
        unknown = set(table) - {"paths", "commands", "hosts", "schema"}
        if unknown:
            raise ConfigurationError(f"{where}: unknown policy setting {sorted(unknown)[0]!r}")
        try:
            paths = _path_rules(table["paths"], where) if "paths" in table else None
            commands = _command_rules(table["commands"], paths, where) if "commands" in table else None
            hosts = _host_rules(table["hosts"], where) if "hosts" in table else None
            out[str(tool)] = ToolPolicy(
                paths=paths, commands=commands, hosts=hosts, schema=table.get("schema")
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"{where}: malformed policy") from None
    return out


def _strs(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _known(table: Any, keys: set[str], where: str, name: str) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where}: {name} must be a table")
    unknown = set(table) - keys
    if unknown:
        raise ConfigurationError(f"{where}: unknown {name} setting {sorted(unknown)[0]!r}")
    return table


def _path_rules(raw: Any, where: str) -> PathRules:
    t = _known(
        raw,
        {"allow", "deny", "fields", "workspace", "case_insensitive", "extend_default_deny"},
        where,
        "paths",
    )
    deny = _strs(t.get("deny", []), where, "paths.deny")
    if t.get("extend_default_deny", True):
        deny = DEFAULT_DENIED_PATHS + deny
    kwargs: dict[str, Any] = {"deny": deny}
    if "allow" in t:
        kwargs["allow"] = _strs(t["allow"], where, "paths.allow")
    if "fields" in t:
        kwargs["fields"] = _strs(t["fields"], where, "paths.fields")
    if "workspace" in t:
        kwargs["workspace"] = str(t["workspace"])
    if "case_insensitive" in t:
        kwargs["case_insensitive"] = bool(t["case_insensitive"])
    return PathRules(**kwargs)


def _command_rules(raw: Any, paths: PathRules | None, where: str) -> CommandRules:
    t = _known(raw, {"allow", "deny", "fields", "extend_default_deny"}, where, "commands")
    deny = frozenset(_strs(t.get("deny", []), where, "commands.deny"))
    if t.get("extend_default_deny", True):
        deny = DEFAULT_DENIED_COMMANDS | deny
    kwargs: dict[str, Any] = {"deny": deny, "paths": paths or PathRules()}
    if "allow" in t:
        kwargs["allow"] = _strs(t["allow"], where, "commands.allow")
    if "fields" in t:
        kwargs["fields"] = _strs(t["fields"], where, "commands.fields")
    return CommandRules(**kwargs)


def _host_rules(raw: Any, where: str) -> HostRules:
    t = _known(raw, {"allow", "deny", "schemes", "allow_private", "fields", "scan_strings"}, where, "hosts")
    kwargs: dict[str, Any] = {}
    for key in ("allow", "deny", "schemes", "fields"):
        if key in t:
            kwargs[key] = _strs(t[key], where, f"hosts.{key}")
    for key in ("allow_private", "scan_strings"):
        if key in t:
            kwargs[key] = bool(t[key])
    return HostRules(**kwargs)


ViolationMode = Literal["replace", "error"]
