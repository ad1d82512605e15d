"""The fake's token rule, used for every count it makes: one token is four characters (Unicode code points),
rounded up per count. ``count_input_tokens`` says what counts as prompt text; ``_usage`` is the usage a reply
reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._behaviours import UsageOverride

__all__ = ["CHARS_PER_TOKEN", "count_input_tokens", "count_text_tokens"]

CHARS_PER_TOKEN: Final = 4


def count_text_tokens(text: str) -> int:
    """Return the fake's token count for `text`: ceil(len(text) / 4).

    Example:
        >>> count_text_tokens("hello world")
        3
    """
    return -(-len(text) // CHARS_PER_TOKEN)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _block_chars(block: Any) -> int:
    if isinstance(block, str):
        return len(block)
    if not isinstance(block, Mapping):
        return 0
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return len(text) if isinstance(text, str) else 0
    if kind in ("tool_use", "server_tool_use"):
        name = block.get("name")
        return (len(name) if isinstance(name, str) else 0) + len(_compact_json(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return len(content)
        if isinstance(content, list):
            return sum(_block_chars(inner) for inner in content)
        return 0
    if kind == "thinking":
        thinking = block.get("thinking")
        return len(thinking) if isinstance(thinking, str) else 0
    return 0


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(_block_chars(block) for block in content)
    return 0


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """Return the fake's prompt token count for a Messages or count_tokens request body.

    The count is ceil(chars / 4), where chars is the sum of: the `system` text (a string, or the
    `text` of its text blocks); for every message, its string content or, per block, a text block's
    `text`, a tool_use block's `name` plus its `input` as compact JSON, a tool_result's string content
    or the text of its nested text blocks, a thinking block's `thinking`; and, when `tools` is present,
    the length of `tools` as compact JSON (separators `,` and `:`, non-ASCII kept, key order as sent).
    Other block types (image, document, redacted_thinking, ...) count zero.

    Example:
        >>> count_input_tokens({"messages": [{"role": "user", "content": "Hello!"}]})
        2
    """
    chars = _content_chars(body.get("system"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping):
                chars += _content_chars(message.get("content"))
    tools = body.get("tools")
    if tools is not None:
        chars += len(_compact_json(tools))
    return -(-chars // CHARS_PER_TOKEN)


def _output_chars(blocks: Sequence[Mapping[str, Any]]) -> int:
    chars = 0
    for block in blocks:
        if block["type"] == "text":
            chars += len(block["text"])
        else:
            chars += len(block["name"]) + len(_compact_json(block["input"]))
    return chars


def _usage(
    body: Mapping[str, Any], blocks: Sequence[Mapping[str, Any]], override: UsageOverride
) -> dict[str, Any]:
    five_minutes = override.ephemeral_5m_input_tokens
    one_hour = override.ephemeral_1h_input_tokens
    creation = override.cache_creation_input_tokens
    if creation is None:
        creation = (five_minutes or 0) + (one_hour or 0)
    if five_minutes is None:
        five_minutes = max(0, creation - (one_hour or 0))
    if one_hour is None:
        one_hour = max(0, creation - five_minutes)
    cache_read = override.cache_read_input_tokens or 0
    input_tokens = override.input_tokens
    if input_tokens is None:
        input_tokens = max(0, count_input_tokens(body) - cache_read - creation)
    output_tokens = override.output_tokens
    if output_tokens is None:
        output_tokens = -(-_output_chars(blocks) // CHARS_PER_TOKEN)
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": output_tokens,
        "service_tier": override.service_tier or "standard",
    }
    if override.web_search_requests is not None or override.web_fetch_requests is not None:
        usage["server_tool_use"] = {
            "web_search_requests": override.web_search_requests or 0,
            "web_fetch_requests": override.web_fetch_requests or 0,
        }
    speed = override.speed if override.speed is not None else body.get("speed")
    if isinstance(speed, str):
        usage["speed"] = speed
    return usage
