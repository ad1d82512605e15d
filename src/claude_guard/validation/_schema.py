"""The Messages request schema: required fields and types, checked without a schema library.

Only what a guard relies on is checked; unknown fields and unknown block types are allowed (and forwarded
untouched by the gateway): the API grows. Errors name the field path (``messages.0.content.1.type``) in both
the message and ``SchemaError.code``, and never a value from the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..errors import SchemaError

__all__ = ["check_messages_request"]

_ROLES: Final = frozenset({"user", "assistant"})
_TOOL_CHOICES: Final = frozenset({"auto", "any", "tool", "none"})
_MAX_PATH_DEPTH: Final = 64


# ``type(value) is dict or isinstance(value, Mapping)``: parsed JSON is made of dicts, and the exact type test
# spares the ``Mapping`` ABC's ``__instancecheck__`` (a Python-level call) for each of them.


def _path(parts: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in parts[:_MAX_PATH_DEPTH]) or "body"


def _fail(parts: tuple[str | int, ...], expected: str) -> SchemaError:
    path = _path(parts)
    return SchemaError(f"Invalid request: {path}: {expected}.", code=path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_messages_request(body: object, *, count_tokens: bool = False) -> Mapping[str, Any]:
    """Check a Messages (or count_tokens) request body and return it as a mapping.

    Raises:
        SchemaError: a required field is missing or a field has the wrong type; ``code`` is its path.

    Example:
        >>> check_messages_request({"model": "m", "max_tokens": 1, "messages": []})
        Traceback (most recent call last):
        ...
        claude_guard.errors.SchemaError: Invalid request: messages: must hold at least one message.
    """
    if not (type(body) is dict or isinstance(body, Mapping)):
        raise _fail((), "must be a JSON object")
    model = body.get("model")
    if model is None:
        raise _fail(("model",), "is required")
    if not isinstance(model, str) or not model:
        raise _fail(("model",), "must be a non-empty string")
    if "max_tokens" in body or not count_tokens:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise _fail(("max_tokens",), "is required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise _fail(("max_tokens",), "must be a positive integer")
    _check_messages(body.get("messages"))
    if "system" in body:
        _check_system(body["system"])
    if "tools" in body:
        _check_tools(body["tools"])
    if "tool_choice" in body:
        _check_tool_choice(body["tool_choice"])
    if "stream" in body and not isinstance(body["stream"], bool):
        raise _fail(("stream",), "must be a boolean")
    for name in ("temperature", "top_p"):
        if name in body and not _is_number(body[name]):
            raise _fail((name,), "must be a number")
    if "top_k" in body and not _is_int(body["top_k"]):
        raise _fail(("top_k",), "must be an integer")
    if "stop_sequences" in body:
        stops = body["stop_sequences"]
        if not isinstance(stops, list):
            raise _fail(("stop_sequences",), "must be a list of strings")
        for index, stop in enumerate(stops):
            if not isinstance(stop, str):
                raise _fail(("stop_sequences", index), "must be a string")
    if "metadata" in body:
        metadata = body["metadata"]
        if not (type(metadata) is dict or isinstance(metadata, Mapping)):
            raise _fail(("metadata",), "must be an object")
        if "user_id" in metadata and not isinstance(metadata["user_id"], str | None):
            raise _fail(("metadata", "user_id"), "must be a string")
    if "thinking" in body:
        _check_thinking(body["thinking"])
    return body


def _check_messages(messages: object) -> None:
    if messages is None:
        raise _fail(("messages",), "is required")
    if not isinstance(messages, list):
        raise _fail(("messages",), "must be a list of messages")
    if not messages:
        raise _fail(("messages",), "must hold at least one message")
    for index, message in enumerate(messages):
        where: tuple[str | int, ...] = ("messages", index)
        if not (type(message) is dict or isinstance(message, Mapping)):
            raise _fail(where, "must be an object")
        role = message.get("role")
        if role is None:
            raise _fail((*where, "role"), "is required")
        if role not in _ROLES:
            raise _fail((*where, "role"), "must be 'user' or 'assistant'")
        if "content" not in message:
            raise _fail((*where, "content"), "is required")
        content = message["content"]
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _fail((*where, "content"), "must be a string or a list of content blocks")
        for block_index, block in enumerate(content):
            _check_block(block, (*where, "content", block_index))


def _check_block(block: object, where: tuple[str | int, ...]) -> None:
    if not (type(block) is dict or isinstance(block, Mapping)):
        raise _fail(where, "must be an object")
    block_type = block.get("type")
    if block_type is None:
        raise _fail((*where, "type"), "is required")
    if not isinstance(block_type, str):
        raise _fail((*where, "type"), "must be a string")
    if block_type == "text":
        if not isinstance(block.get("text"), str):
            raise _fail((*where, "text"), "must be a string")
    elif block_type in ("image", "document"):
        if not isinstance(block.get("source"), Mapping):
            raise _fail((*where, "source"), "must be an object")
    elif block_type in ("tool_use", "server_tool_use"):
        for key in ("id", "name"):
            if not isinstance(block.get(key), str):
                raise _fail((*where, key), "must be a string")
        if not isinstance(block.get("input"), Mapping):
            raise _fail((*where, "input"), "must be an object")
    elif block_type == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise _fail((*where, "tool_use_id"), "must be a string")
        if "content" in block:
            content = block["content"]
            if isinstance(content, list):
                for index, inner in enumerate(content):
                    inner_where = (*where, "content", index)
                    if not (type(inner) is dict or isinstance(inner, Mapping)):
                        raise _fail(inner_where, "must be an object")
                    if not isinstance(inner.get("type"), str):
                        raise _fail((*inner_where, "type"), "must be a string")
                    if inner["type"] == "text" and not isinstance(inner.get("text"), str):
                        raise _fail((*inner_where, "text"), "must be a string")
            elif not isinstance(content, str):
                raise _fail((*where, "content"), "must be a string or a list of content blocks")


def _check_system(system: object) -> None:
    if isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _fail(("system",), "must be a string or a list of text blocks")
    for index, block in enumerate(system):
        if not (type(block) is dict or isinstance(block, Mapping)):
            raise _fail(("system", index), "must be an object")
        if block.get("type") != "text":
            raise _fail(("system", index, "type"), "must be 'text'")
        if not isinstance(block.get("text"), str):
            raise _fail(("system", index, "text"), "must be a string")


def _check_tools(tools: object) -> None:
    if not isinstance(tools, list):
        raise _fail(("tools",), "must be a list of tools")
    for index, tool in enumerate(tools):
        if not (type(tool) is dict or isinstance(tool, Mapping)):
            raise _fail(("tools", index), "must be an object")
        tool_type = tool.get("type")
        if tool_type is None or tool_type == "custom" or "name" in tool:
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise _fail(("tools", index, "name"), "must be a non-empty string")
        elif not isinstance(tool_type, str) or not tool_type:
            # Toolsets (mcp_toolset, computer and browser toolsets) have a type and no name.
            raise _fail(("tools", index, "type"), "must be a non-empty string")
        if "input_schema" in tool and not isinstance(tool["input_schema"], Mapping):
            raise _fail(("tools", index, "input_schema"), "must be an object")


def _check_tool_choice(choice: object) -> None:
    if not (type(choice) is dict or isinstance(choice, Mapping)):
        raise _fail(("tool_choice",), "must be an object")
    choice_type = choice.get("type")
    if choice_type not in _TOOL_CHOICES:
        raise _fail(("tool_choice", "type"), "must be one of auto, any, tool, none")
    if choice_type == "tool" and not isinstance(choice.get("name"), str):
        raise _fail(("tool_choice", "name"), "must be a string")


def _check_thinking(thinking: object) -> None:
    if not (type(thinking) is dict or isinstance(thinking, Mapping)):
        raise _fail(("thinking",), "must be an object")
    thinking_type = thinking.get("type")
    if not isinstance(thinking_type, str):
        raise _fail(("thinking", "type"), "must be a string")
    if thinking_type == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise _fail(("thinking", "budget_tokens"), "must be a positive integer")
