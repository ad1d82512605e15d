from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from claude_guard.errors import ConfigurationError
from claude_guard.messages import Usage
from claude_guard.pricing import PriceTable, UnknownModelError, to_pico

FACTS_MODEL_IDS = [
    "claude-fable-5-2",
    "claude-mythos-5-2",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-mythos-5-1",
    "claude-sonnet-5",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-mythos-preview",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1",
    "claude-opus-4-0",
    "claude-sonnet-4",
    "claude-sonnet-4-0",
    "claude-3-5-haiku",
    "claude-3-haiku",
]


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load(environ={})


@pytest.mark.parametrize("model", FACTS_MODEL_IDS)
def test_every_model_id_in_facts_resolves(table: PriceTable, model: str) -> None:
    assert table.price(model).input > 0


@pytest.mark.parametrize(
    ("model", "canonical"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-opus-4-20250514", "claude-opus-4-0"),
        ("claude-haiku-4-5-20991231", "claude-haiku-4-5"),
    ],
    ids=["dated", "vertex-dated", "latest", "alias", "future-date"],
)
def test_aliases_and_dated_ids(table: PriceTable, model: str, canonical: str) -> None:
    assert table.price(model).model == canonical


def test_unknown_model_is_an_error_never_free(table: PriceTable) -> None:
    with pytest.raises(UnknownModelError) as info:
        table.cost("claude-nonexistent-9", Usage(input_tokens=1))
    assert info.value.status == 400
    assert info.value.code == "unknown_model"


def test_configured_fallback_prices_unknown_models() -> None:
    table = PriceTable.load(fallback="claude-opus-4-1", environ={})
    cost = table.cost("claude-nonexistent-9", Usage(input_tokens=1_000_000))
    assert cost.total == Decimal(15)


def test_fallback_must_exist() -> None:
    with pytest.raises(ConfigurationError):
        PriceTable.load(fallback="nope", environ={})


def test_strict_refuses_unconfirmed_rows() -> None:
    table = PriceTable.load(strict=True, environ={})
    assert table.price("claude-sonnet-4-6").confirmed
    with pytest.raises(UnknownModelError):
        table.price("claude-sonnet-5")


# Hand-worked: Sonnet 4.6, $3 in / $15 out per MTok; cache write 5m 3.75, 1h 6, read 0.30.
HAND_WORKED = [
    pytest.param(Usage(input_tokens=1_000), "claude-sonnet-4-6", "0.003", id="input"),
    pytest.param(Usage(output_tokens=1_000), "claude-sonnet-4-6", "0.015", id="output"),
    pytest.param(
        Usage(cache_creation_input_tokens=1_000, cache_creation_5m_input_tokens=1_000),
        "claude-sonnet-4-6",
        "0.00375",
        id="cache-write-5m",
    ),
    pytest.param(
        Usage(cache_creation_input_tokens=1_000, cache_creation_1h_input_tokens=1_000),
        "claude-sonnet-4-6",
        "0.006",
        id="cache-write-1h",
    ),
    pytest.param(Usage(cache_read_input_tokens=1_000), "claude-sonnet-4-6", "0.0003", id="cache-read"),
    pytest.param(Usage(web_search_requests=3), "claude-sonnet-4-6", "0.03", id="web-search"),
    pytest.param(
        # 100 in: 0.0003; 200 out: 0.003; 5m 300: 0.001125; 1h 400: 0.0024; read 500: 0.00015; 1 search 0.01
        Usage(
            input_tokens=100,
            output_tokens=200,
            cache_creation_input_tokens=700,
            cache_read_input_tokens=500,
            cache_creation_5m_input_tokens=300,
            cache_creation_1h_input_tokens=400,
            web_search_requests=1,
        ),
        "claude-sonnet-4-6",
        "0.016975",
        id="every-field",
    ),
    pytest.param(
        # no breakdown: all writes at the 5-minute price
        Usage.from_dict({"cache_creation_input_tokens": 2_000}),
        "claude-haiku-4-5",
        "0.0025",
        id="cache-write-without-breakdown",
    ),
    pytest.param(Usage(input_tokens=1, output_tokens=1), "claude-3-haiku", "0.0000015", id="smallest"),
    pytest.param(
        Usage(input_tokens=1_000_000, output_tokens=1_000_000, service_tier="batch"),
        "claude-opus-4-1",
        "45",
        id="batch-tier",
    ),
    pytest.param(Usage(cache_read_input_tokens=1_000_000), "claude-opus-5-5", "0.2", id="row-cache-read"),
    pytest.param(Usage(cache_read_input_tokens=1_000_000), "claude-fable-5-1", "0.25", id="row-cache-025"),
]


@pytest.mark.parametrize(("usage", "model", "expected"), HAND_WORKED)
def test_hand_worked_costs(table: PriceTable, usage: Usage, model: str, expected: str) -> None:
    assert table.cost(model, usage).total == Decimal(expected)


def test_long_context_rule_bills_the_whole_request(table: PriceTable) -> None:
    # 150K uncached + 60K cache read = 210K input > 200K: every token at 6 / 22.50.
    usage = Usage(input_tokens=150_000, cache_read_input_tokens=60_000, output_tokens=1_000)
    cost = table.cost("claude-sonnet-4-5", usage)
    assert cost.long_context
    # 150000*6/1e6 = 0.9; 60000*6*0.1/1e6 = 0.036; 1000*22.5/1e6 = 0.0225
    assert cost.total == Decimal("0.9585")
    at_threshold = Usage(input_tokens=200_000, output_tokens=1_000)
    assert table.cost("claude-sonnet-4-5", at_threshold).total == Decimal("0.615")
    # Sonnet 4.6 has no long-context tier in the table.
    assert not table.cost("claude-sonnet-4-6", usage).long_context


def test_explicit_batch_halves_tokens_not_searches(table: PriceTable) -> None:
    usage = Usage(input_tokens=1_000_000, web_search_requests=1)
    assert table.cost("claude-sonnet-4-6", usage, batch=True).total == Decimal("1.51")


def test_money_is_whole_pico_dollars(table: PriceTable) -> None:
    # every price x multiplier x batch in the table is a whole number of 1e-12 USD per token
    for row in table.rows.values():
        for rate in (row.input, row.output):
            for multiplier in (1, row.cache_write_5m, row.cache_write_1h, row.cache_read):
                for factor in (1, row.batch):
                    per_token = rate * multiplier * factor / 1_000_000
                    assert (per_token * Decimal("1e12")) == (per_token * Decimal("1e12")).to_integral_value()
    assert to_pico(Decimal("0.0000015")) == 1_500_000


def test_override_file_replaces_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        """
[table]
fallback = "claude-house-1"

[models.claude-sonnet-4-6]
input = "2.5"
output = "12"

[models.claude-house-1]
aliases = ["house"]
input = "1"
output = "2"
cache_read = "0.5"
effective = 2026-11-01
"""
    )
    table = PriceTable.load(environ={"CLAUDE_GUARD_PRICES_FILE": str(path)})
    assert table.cost("claude-sonnet-4-6", Usage(input_tokens=1_000_000)).total == Decimal("2.5")
    assert table.cost("house", Usage(cache_read_input_tokens=1_000_000)).total == Decimal("0.5")
    assert table.cost("something-else", Usage(output_tokens=1_000_000)).total == Decimal(2)
    assert table.price("claude-sonnet-4-6").source == str(path)
    assert "(override)" in table.format_table()


def test_bad_override_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models.x]\ninput = "abc"\noutput = "1"\n')
    with pytest.raises(ConfigurationError):
        PriceTable.load(path)
    with pytest.raises(ConfigurationError):
        PriceTable.load(tmp_path / "missing.toml")


def test_format_table_lists_every_row_with_status(table: PriceTable) -> None:
    text = table.format_table()
    for model in table.rows:
        assert re.search(rf"^{re.escape(model)}\b", text, re.MULTILINE)
    assert "UNCONFIRMED" in text
    assert "Unknown models are refused." in text


def test_worst_case_uses_dearest_cache_write(table: PriceTable) -> None:
    base = table.worst_case("claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=0)
    five = table.worst_case("claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=0, cache_write="5m")
    hour = table.worst_case("claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=0, cache_write="1h")
    assert (base, five, hour) == (Decimal(3), Decimal("3.75"), Decimal(6))
