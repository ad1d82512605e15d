"""One strict reading of a JSON request body, and the one serialization of what the guard forwards.

The protections check the value parsed here; the upstream receives ``dumps_forward`` of that same value, never
the caller's bytes. Strictness closes the parser differentials that would otherwise let the upstream read
something the guard did not check:

- a duplicated key (at any depth): Python keeps the last copy, other parsers the first, or refuse;
- a lone UTF-16 surrogate (``"\\ud800"``) or invalid UTF-8: not text, and Presidio, regexes and encoders
  disagree about it;
- ``NaN``, ``Infinity`` and numbers that overflow to them (``1e999``): not JSON;
- anything after the value (``{...} {...}``), and a leading byte-order mark.

Python's ``json`` module with hooks, rather than a stricter third-party parser: it is the parser every other
part of the guard already uses, its hooks see every object and constant, and the checks it cannot do with
hooks (lone surrogates) cost one regular-expression search of the raw bytes when the body has no ``\\u``
escape of a surrogate, which is almost always.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from .errors import InvalidJSONError

__all__ = ["check_json_value", "dumps_forward", "loads_strict"]

_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidJSONError("The request body has a duplicated object key.", code="json_duplicate_key")
    return result


def _constant(name: str) -> Any:
    raise InvalidJSONError(
        "The request body holds NaN or Infinity, which JSON does not allow.", code="json_non_finite"
    )


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJSONError(
            "The request body holds a number too large to represent.", code="json_non_finite"
        )
    return value


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)


def loads_strict(data: bytes | str) -> Any:
    """Parse a request body strictly; every refusal is a 400 naming the problem, never the content.

    Raises:
        InvalidJSONError: bad UTF-8, bad JSON, trailing data, a duplicated key, a lone surrogate, NaN or
            Infinity, or nesting deeper than the interpreter can parse. ``code`` says which.

    Example:
        >>> loads_strict(b'{"a": [1, 2.5, "x"]}')
        {'a': [1, 2.5, 'x']}
        >>> loads_strict(b'{"model": "a", "model": "b"}')
        Traceback (most recent call last):
        ...
        claude_guard.errors.InvalidJSONError: The request body has a duplicated object key.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJSONError("The request body is not valid UTF-8.", code="json_utf8") from None
    else:
        text = data
        raw = b""
        if _LONE_SURROGATE.search(text):
            raise InvalidJSONError("The request body holds a lone UTF-16 surrogate.", code="json_surrogate")
    if text.startswith("\ufeff"):
        raise InvalidJSONError("The request body starts with a byte-order mark.", code="json_bom")
    try:
        value = _DECODER.decode(text)
    except InvalidJSONError:
        raise
    except json.JSONDecodeError as exc:
        code = "json_trailing_data" if exc.msg == "Extra data" else "json_syntax"
        what = "has data after the JSON value" if code == "json_trailing_data" else "is not valid JSON"
        raise InvalidJSONError(
            f"The request body {what} (line {exc.lineno}, column {exc.colno}).", code=code
        ) from None
    except RecursionError:
        raise InvalidJSONError("The request body nests too deeply.", code="json_depth") from None
    except ValueError:
        # int() refusing a number with too many digits (the interpreter's limit).
        raise InvalidJSONError(
            "The request body holds a number too long to read.", code="json_number"
        ) from None
    escaped = (
        _SURROGATE_ESCAPE.search(raw) if raw else _SURROGATE_ESCAPE.search(text.encode("utf-8", "replace"))
    )
    if escaped is not None and _has_lone_surrogate(value):
        raise InvalidJSONError("The request body holds a lone UTF-16 surrogate.", code="json_surrogate")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if _LONE_SURROGATE.search(key):
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_json_value(value: Any) -> None:
    """Check a JSON value built in code (an SDK call's body) as `loads_strict` checks parsed bytes.

    Raises:
        InvalidJSONError: a lone surrogate, a non-finite float, or a key that is not a string.

    Example:
        >>> check_json_value({"messages": [{"role": "user", "content": "fine"}]})
        >>> check_json_value({"temperature": float("nan")})
        Traceback (most recent call last):
        ...
        claude_guard.errors.InvalidJSONError: The request body holds NaN or Infinity, ...
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise InvalidJSONError(
                    "The request body holds a lone UTF-16 surrogate.", code="json_surrogate"
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                _constant("NaN")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidJSONError(
                        "The request body has a key that is not a string.", code="json_key"
                    )
                if _LONE_SURROGATE.search(key):
                    raise InvalidJSONError(
                        "The request body holds a lone UTF-16 surrogate.", code="json_surrogate"
                    )
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def dumps_forward(value: Any) -> bytes:
    """The bytes the guard forwards for a checked value: compact JSON, UTF-8, key order kept.

    Example:
        >>> dumps_forward({"a": "é", "b": [1, 2.5]})
        b'{"a":"\\xc3\\xa9","b":[1,2.5]}'
    """
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except RecursionError:
        # Parsed near the interpreter's limit, serialized from a deeper stack: the same refusal as parsing.
        raise InvalidJSONError("The request body nests too deeply.", code="json_depth") from None
    except (ValueError, UnicodeEncodeError):
        raise InvalidJSONError("The request body is not valid JSON.", code="json_value") from None
