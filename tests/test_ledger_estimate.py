"""The pre-flight bound counts every byte the walker does not know to be image data."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from claude_guard.ledger import EstimateConfig
from claude_guard.ledger._estimate import estimate_request
from claude_guard.pricing import PriceTable

PRICES = PriceTable.load()
CONFIG = EstimateConfig()
HIDDEN = "Hidden words that the model will read as tokens. " * 2000  # ~100 KB of text


def _estimate(body: dict[str, Any]) -> int:
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return estimate_request(body, raw, PRICES, CONFIG).input_tokens


def _body(*content: Any, role: str = "user") -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 16,
        "messages": [{"role": role, "content": list(content)}],
    }


IMAGE_TYPED = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": HIDDEN}}


def _tool_use(value: Any) -> dict[str, Any]:
    return _body({"type": "tool_use", "id": "toolu_1", "name": "t", "input": value}, role="assistant")


def _content_document(*blocks: Any) -> dict[str, Any]:
    return _body({"type": "document", "source": {"type": "content", "content": list(blocks)}})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_tool_use({"picture": IMAGE_TYPED}), id="image-typed-object-in-tool-input"),
        pytest.param(_tool_use(IMAGE_TYPED), id="tool-input-is-image-typed"),
        pytest.param(
            _body({"type": "image_v2", "source": {"type": "base64", "data": HIDDEN}}),
            id="unknown-block-with-data",
        ),
        pytest.param(
            {
                **_body({"type": "text", "text": "hi"}),
                "tools": [{"name": "t", "input_schema": {"d": IMAGE_TYPED}}],
            },
            id="image-typed-object-in-a-schema",
        ),
        pytest.param(
            _content_document({"type": "image", "source": {"type": "text", "data": HIDDEN}}),
            id="image-block-with-a-text-source",
        ),
    ],
)
def test_text_under_image_typed_objects_is_counted(body: dict[str, Any]) -> None:
    assert _estimate(body) >= len(HIDDEN)


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda image: _body(image), id="message-image"),
        pytest.param(
            lambda image: _body({"type": "tool_result", "tool_use_id": "toolu_1", "content": [image]}),
            id="tool-result-image",
        ),
        pytest.param(
            lambda image: _body({"type": "document", "source": {"type": "content", "content": [image]}}),
            id="document-content-image",
        ),
    ],
)
def test_real_image_data_is_replaced_by_the_image_allowance(wrap: Any) -> None:
    data = "iVBORw0KGgo" * 10_000
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    tokens = _estimate(wrap(image))
    assert tokens < len(data)
    assert tokens >= CONFIG.image_tokens


def test_documents_by_url_file_and_pdf_get_the_document_allowance() -> None:
    body = _body(
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        },
    )
    assert _estimate(body) >= 3 * CONFIG.document_tokens


def test_hidden_text_cannot_pass_under_max_cost() -> None:
    body = _body(
        {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {"p": IMAGE_TYPED}}, role="assistant"
    )
    raw = json.dumps(body).encode()
    worst = estimate_request(body, raw, PRICES, CONFIG).worst_case_usd
    # At least every hidden byte as a token, at Sonnet's $3 per million input tokens.
    assert worst >= Decimal(len(HIDDEN)) * 3 / 1_000_000
