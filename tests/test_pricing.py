from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from claude_guard.errors import BadRequestError, ConfigurationError
from claude_guard.messages import Usage
from claude_guard.pricing import Billing, PriceTable, UnknownModelError, server_tool_uses, to_pico

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


# --- prices that follow the request ----------------------------------------------------------------------


def test_fast_mode_multiplies_input_and_output_over_every_tier(table: PriceTable) -> None:
    fast = Billing(speed="fast")
    # Opus 4.6: 5/25 standard, 30/150 fast; above 200K input 10/37.50 standard, 60/225 fast (fast mode page).
    assert table.worst_case("claude-opus-4-6", input_tokens=1_000_000, output_tokens=0) == Decimal(10)
    assert table.worst_case("claude-opus-4-6", input_tokens=100_000, output_tokens=1_000_000) == Decimal(
        "25.5"
    )
    assert table.worst_case(
        "claude-opus-4-6", input_tokens=100_000, output_tokens=1_000_000, billing=fast
    ) == Decimal("153")
    assert table.worst_case(
        "claude-opus-4-6", input_tokens=1_000_000, output_tokens=1_000_000, billing=fast
    ) == Decimal("285")
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, speed="fast")
    assert table.cost("claude-opus-4-6", usage).total == Decimal("285")
    # Cache writes and reads stack on the fast input rate: 1M 1h writes at 30 x 2, 1M reads at 30 x 0.1.
    cached = Usage(
        cache_creation_input_tokens=100_000,
        cache_creation_1h_input_tokens=100_000,
        cache_read_input_tokens=50_000,
    )
    assert table.cost("claude-opus-4-6", cached, billing=fast).total == Decimal("6.15")


def test_settlement_follows_the_reported_speed_then_the_request(table: PriceTable) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    standard = table.cost("claude-opus-4-6", usage).total
    assert standard == Decimal("0.030")
    # The request asked for fast and the usage does not say: billed fast.
    assert table.cost("claude-opus-4-6", usage, billing=Billing(speed="fast")).total == 6 * standard
    # The response says it fell back to standard: billed standard.
    fell_back = Usage(input_tokens=1_000, output_tokens=1_000, speed="standard")
    assert table.cost("claude-opus-4-6", fell_back, billing=Billing(speed="fast")).total == standard
    # A speed the table does not know is billed as fast mode, never as standard.
    odd = Usage(input_tokens=1_000, output_tokens=1_000, speed="ludicrous")
    assert table.cost("claude-opus-4-6", odd).total == 6 * standard


def test_unconfirmed_fast_multipliers_stay_at_the_worst_case(table: PriceTable) -> None:
    # Public reports say x2 for Opus 4.8 and Opus 5; unconfirmed, so the table keeps the dearest multiplier.
    for model in ("claude-opus-4-8", "claude-opus-5", "claude-opus-5-5", "claude-fable-5-2"):
        assert table.price(model).fast == Decimal(6)


def test_inference_geo(table: PriceTable) -> None:
    usage = Usage(input_tokens=100_000, output_tokens=100_000)
    assert table.cost("claude-opus-4-6", usage).total == Decimal(3)
    assert table.cost("claude-opus-4-6", usage, billing=Billing(inference_geo="us")).total == Decimal("3.3")
    reported = Usage(input_tokens=100_000, output_tokens=100_000, inference_geo="us")
    assert table.cost("claude-opus-4-6", reported).total == Decimal("3.3")
    unknown = Usage(input_tokens=100_000, output_tokens=100_000, inference_geo="mars")
    assert table.cost("claude-opus-4-6", unknown).total == Decimal("3.3")  # the dearest known geography
    with pytest.raises(BadRequestError) as info:
        table.billing({"inference_geo": "mars"})
    assert info.value.code == "unknown_inference_geo"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("speed", "turbo", "unknown_speed"),
        ("speed", ["fast"], "unknown_speed"),
        ("speed", 1, "unknown_speed"),
        ("service_tier", "priority", "unknown_service_tier"),
        ("inference_geo", 7, "unknown_inference_geo"),
    ],
)
def test_billing_options_without_a_price_are_refused(
    table: PriceTable, field: str, value: object, code: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        table.billing({field: value})
    assert info.value.code == code
    assert info.value.status == 400


def test_an_unpriced_beta_is_estimated_at_the_worst_case(table: PriceTable) -> None:
    billing = table.billing({}, ["prompt-caching-2024-07-31", "server-side-fallback-2026-07-01"])
    assert billing.worst_case
    assert not table.billing({}, ["prompt-caching-2024-07-31", "fast-mode-2026-02-01"]).worst_case
    plain = table.worst_case("claude-opus-4-6", input_tokens=1_000, output_tokens=1_000)
    worst = table.worst_case("claude-opus-4-6", input_tokens=1_000, output_tokens=1_000, billing=billing)
    # long-context tier (10/37.50), fast (x6) and the dearest geography (x1.1), whatever the request says
    assert plain == Decimal("0.030")
    assert worst == Decimal("0.3135")


def test_an_override_file_prices_betas_or_refuses_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        """
[betas]
unknown = "refuse"
priced = ["house-beta-2026-01-01"]

[inference_geo]
multipliers = { eu = "1.2" }
"""
    )
    table = PriceTable.load(path, environ={})
    assert not table.billing({}, ["house-beta-2026-01-01", "prompt-caching-2024-07-31"]).worst_case
    with pytest.raises(BadRequestError) as info:
        table.billing({}, ["server-side-fallback-2026-07-01"])
    assert info.value.code == "unpriced_beta"
    assert "server-side-fallback-2026-07-01" in info.value.message
    with pytest.raises(BadRequestError) as info:
        table.billing({}, ["<b>"])
    assert "<b>" not in info.value.message
    usage = Usage(input_tokens=100_000)
    assert table.cost(
        "claude-opus-4-6", usage, billing=table.billing({"inference_geo": "eu"})
    ).total == Decimal("0.6")
    bad = tmp_path / "bad.toml"
    bad.write_text('[betas]\nunknown = "free"\n')
    with pytest.raises(ConfigurationError):
        PriceTable.load(bad, environ={})


def test_server_tool_fees(table: PriceTable) -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 4},
        {"type": "web_fetch_20250910", "name": "web_fetch", "max_uses": 3},
        {"type": "code_execution_20250825", "name": "code_execution"},
    ]
    assert server_tool_uses(tools) == (4, 3, True)
    assert server_tool_uses([{"type": "web_search_20260318", "name": "web_search"}], default_uses=7) == (
        7,
        0,
        False,
    )
    assert server_tool_uses([{"type": "web_search_20250305", "max_uses": True}, "x", None]) == (10, 0, False)
    billing = table.billing({"tools": tools})
    assert billing.code_execution
    # 4 searches x 0.01 + 3 fetches x 0 + 1 container hour x 0.05
    estimate = table.worst_case(
        "claude-haiku-4-5", input_tokens=0, output_tokens=0, web_searches=4, web_fetches=3, billing=billing
    )
    assert estimate == Decimal("0.09")
    usage = Usage(web_search_requests=2, web_fetch_requests=3)
    cost = table.cost("claude-haiku-4-5", usage, billing=billing)
    assert cost.web_search == Decimal("0.02") and cost.web_fetch == 0
    # settlement charges the 5-minute container minimum: 0.05 / 12
    assert cost.code_execution.quantize(Decimal("1e-12")) == Decimal("0.004166666667")
    assert estimate > cost.total


def test_batch_discount_stacks_with_fast_and_geography(table: PriceTable) -> None:
    usage = Usage(input_tokens=100_000, output_tokens=100_000, service_tier="batch", speed="fast")
    # (0.5 + 2.5) x 6 x 0.5 x 1.1
    assert table.cost("claude-opus-4-6", usage, billing=Billing(inference_geo="us")).total == Decimal("9.9")


def test_usage_reads_speed_geography_and_web_fetches() -> None:
    usage = Usage.from_dict(
        {
            "input_tokens": 5,
            "output_tokens": 6,
            "speed": "fast",
            "inference_geo": "us",
            "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 3},
        }
    )
    assert (usage.speed, usage.inference_geo, usage.web_search_requests, usage.web_fetch_requests) == (
        "fast",
        "us",
        2,
        3,
    )
    assert Usage.from_dict(usage.to_dict()) == usage
    merged = Usage().merged({"speed": "standard", "server_tool_use": {"web_fetch_requests": 1}})
    assert (merged.speed, merged.web_fetch_requests) == ("standard", 1)
