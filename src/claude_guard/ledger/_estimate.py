"""A conservative pre-flight bound on what one Messages request can cost.

Input tokens are bounded by the UTF-8 size of the request body as forwarded (``GuardContext.forward_body``):
a token of Claude's tokenizer stands for at least one byte of text, and the JSON around the text (keys,
quotes, roles) stands in for the few tokens of message framing. Every byte counts except the base64 data of
what the request walker classifies as an image (an image block where the API takes one): text anywhere else,
whatever ``type`` its object claims, is counted. Content the byte count cannot see gets an allowance: each
image ``image_tokens`` (the API downsizes images, so their tokens are bounded whatever their size), each PDF,
URL or file document ``document_tokens``, and ``tools_overhead`` for the
system prompt the API adds when tools are declared. Output tokens are bounded by ``max_tokens`` (thinking
tokens are billed as output and counted in it; a thinking budget above ``max_tokens`` is taken instead).

The price of those tokens follows the request (``PriceTable.billing``): fast mode, the inference geography,
cache-write TTLs, server-tool fees, and the worst case for a beta the price table does not list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..errors import BadRequestError
from ..messages import walk_request
from ..pricing import Billing, PriceTable, server_tool_uses

__all__ = ["Estimate", "EstimateConfig", "estimate_request"]

_CACHE_1H: Final = re.compile(rb'"ttl"\s*:\s*"1h"')


@dataclass(frozen=True, slots=True, kw_only=True)
class EstimateConfig:
    """Allowances for content whose tokens the body size does not bound."""

    image_tokens: int = 5_000
    """Per image block (Claude downsizes images; about 1,600 tokens at the default resolution)."""
    document_tokens: int = 100_000
    """Per document given by URL or file id (its pages are not in the body)."""
    tools_overhead: int = 1_000
    """When ``tools`` is present: the tool-use system prompt the API adds."""
    web_searches: int = 10
    """Web searches (or fetches) assumed for a web search (or fetch) tool without ``max_uses``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """The pre-flight bound of one request."""

    model: str
    input_tokens: int
    output_tokens: int
    web_searches: int
    cache_write: str | None
    worst_case_usd: Decimal
    web_fetches: int = 0
    billing: Billing = field(default_factory=Billing)
    """The request's billing options; settlement prices the usage with them."""


def estimate_request(
    body: Mapping[str, Any],
    raw: bytes,
    prices: PriceTable,
    config: EstimateConfig | None = None,
    *,
    counted_input_tokens: int | None = None,
    betas: Iterable[str] = (),
) -> Estimate:
    """Bound the tokens and the cost of a Messages request (``raw`` is its body as sent).

    ``counted_input_tokens`` (from the upstream ``count_tokens``) replaces the byte bound when given;
    ``betas`` are the request's ``anthropic-beta`` values.

    Raises:
        BadRequestError: ``model`` or ``max_tokens`` is missing or malformed (a cost cannot be bounded), or
            a billing option has no price (unknown ``speed``, ``service_tier``, ``inference_geo``).
        UnknownModelError: no price is known for the model.
    """
    config = config or EstimateConfig()
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError("model: a model id is required.", code="model")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequestError("max_tokens: a positive integer is required.", code="max_tokens")
    output_tokens = max_tokens
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping):
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool):
            output_tokens = max(output_tokens, budget)
    if counted_input_tokens is not None:
        input_tokens = counted_input_tokens
    else:
        unseen_bytes, images, documents = _unseen(body)
        input_tokens = len(raw) - unseen_bytes
        input_tokens += images * config.image_tokens + documents * config.document_tokens
    billing = prices.billing(body, betas)
    tools = body.get("tools")
    if isinstance(tools, list) and tools and counted_input_tokens is None:
        input_tokens += config.tools_overhead
    searches, fetches, _ = server_tool_uses(tools, default_uses=config.web_searches)
    cache_write = None
    if b"cache_control" in raw:
        cache_write = "1h" if _CACHE_1H.search(raw) else "5m"
    worst = prices.worst_case(
        model,
        input_tokens=max(0, input_tokens),
        output_tokens=output_tokens,
        cache_write=cache_write,
        web_searches=searches,
        web_fetches=fetches,
        billing=billing,
    )
    return Estimate(
        model=model,
        input_tokens=max(0, input_tokens),
        output_tokens=output_tokens,
        web_searches=searches,
        cache_write=cache_write,
        worst_case_usd=worst,
        web_fetches=fetches,
        billing=billing,
    )


_DOCUMENT_SOURCES: Final = frozenset({("document", "base64"), ("document", "url"), ("document", "file")})


def _unseen(body: Mapping[str, Any]) -> tuple[int, int, int]:
    """Bytes of image data not to count as text, and the number of images and documents to allow for.

    Read from the request walker, so only what the API reads as an image is taken out of the byte count: a
    base64 ``data`` string of an image source at a position where the API takes an image block. Text under an
    object that merely says ``"type": "image"`` elsewhere (in a tool's input, in unknown content) stays
    counted, byte for byte.
    """
    skipped = images = documents = 0
    for leaf in walk_request(body):
        shape = leaf.shape
        if not shape or not leaf.known:
            continue
        last = leaf.path[-1]
        if last == "data" and leaf.opaque and shape[-2:] == ("image", "base64"):
            skipped += len(leaf.text)
        elif last == "type" and leaf.role == "structure":
            if shape[-1] == "image" and leaf.text == "image":
                images += 1
            elif shape[-2:] in _DOCUMENT_SOURCES and len(leaf.path) >= 2 and leaf.path[-2] == "source":
                # A PDF keeps its bytes counted (pages hold at most about that much text) plus the page
                # images the API renders; a URL or file document is not in the body at all.
                documents += 1
    return skipped, images, documents
