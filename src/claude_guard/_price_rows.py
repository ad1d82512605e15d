"""The rows of the price table (``ModelPrice``) and the TOML files they are read from: the packaged
``claude_guard/data/prices.toml`` and an override file (``CLAUDE_GUARD_PRICES_FILE``) that replaces rows by
id, may add models, and adds or replaces table-wide settings. Every price is a ``Decimal`` written as a
string.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Final

from .errors import ConfigurationError

__all__ = ["PRICES_FILE_ENV", "LongContext", "ModelPrice", "read_price_files"]

PRICES_FILE_ENV: Final = "CLAUDE_GUARD_PRICES_FILE"


@dataclass(frozen=True, slots=True, kw_only=True)
class LongContext:
    """Long-context tier: above ``threshold`` input tokens the whole request is billed at these prices."""

    threshold: int
    input: Decimal
    output: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPrice:
    """One row of the table: USD per million tokens and the multipliers on the input price."""

    model: str
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal = Decimal("1.25")
    cache_write_1h: Decimal = Decimal("2")
    cache_read: Decimal = Decimal("0.1")
    batch: Decimal = Decimal("0.5")
    web_search_per_request: Decimal = Decimal("0.01")
    web_fetch_per_request: Decimal = Decimal(0)
    code_execution_per_hour: Decimal = Decimal("0.05")
    fast: Decimal = Decimal(6)
    """Fast mode: the multiplier on the input and output rates (long-context rates included)."""
    long_context: LongContext | None = None
    effective: dt.date | None = None
    confirmed: bool = True
    aliases: tuple[str, ...] = ()
    note: str | None = None
    source: str = "packaged"

    def rates(self, input_tokens: int, *, dearest: bool = False) -> tuple[Decimal, Decimal]:
        """Input and output USD per million tokens for a request with this many input tokens (``dearest``:
        the long-context tier whatever the count)."""
        lc = self.long_context
        if lc is not None and (dearest or input_tokens > lc.threshold):
            return max(lc.input, self.input), max(lc.output, self.output)
        return self.input, self.output


def read_price_files(
    override: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> tuple[dict[str, ModelPrice], dict[str, Any], str | None]:
    """The rows, the table-wide options and the override file's fallback model: the packaged table with
    ``override`` (or ``$CLAUDE_GUARD_PRICES_FILE``) applied on top."""
    packaged = resources.files("claude_guard").joinpath("data/prices.toml").read_text(encoding="utf-8")
    data = tomllib.loads(packaged)
    rows = _rows(data, source="packaged")
    options = _table_options(data, "packaged", {})
    fallback = None
    path = override if override is not None else environ.get(PRICES_FILE_ENV) or None
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
            extra = tomllib.loads(text)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"The price override file cannot be read: {exc}") from None
        rows.update(_rows(extra, source=str(path), defaults=data.get("defaults", {})))
        fallback = _table_fallback(extra)
        options = _table_options(extra, str(path), options)
    return rows, options, fallback


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigurationError(f"Price {where} must be a number written as a string.")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ConfigurationError(f"Price {where} is not a number.") from None
    if not result.is_finite() or result < 0:
        raise ConfigurationError(f"Price {where} must be a finite, non-negative number.")
    return result


def _table_fallback(data: Mapping[str, Any]) -> str | None:
    table = data.get("table")
    if isinstance(table, Mapping) and isinstance(table.get("fallback"), str):
        return str(table["fallback"])
    return None


_MULTIPLIERS: Final = (
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "batch",
    "web_search_per_request",
    "web_fetch_per_request",
    "code_execution_per_hour",
    "fast",
)


def _table_options(data: Mapping[str, Any], source: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """Table-wide settings ([betas], [inference_geo], [code_execution]) over ``base`` (an override file
    adds betas and geographies, and replaces the other settings it names)."""
    options: dict[str, Any] = dict(base)
    betas = data.get("betas", {})
    if not isinstance(betas, Mapping):
        raise ConfigurationError(f"{source}: [betas] must be a table.")
    priced = betas.get("priced", [])
    if not isinstance(priced, list) or not all(isinstance(b, str) for b in priced):
        raise ConfigurationError(f"{source}: [betas] priced must be a list of beta names.")
    options["priced_betas"] = frozenset(options.get("priced_betas", frozenset())) | {
        b.strip().lower() for b in priced
    }
    if "unknown" in betas:
        options["unknown_beta"] = str(betas["unknown"])
    geo = data.get("inference_geo", {})
    if not isinstance(geo, Mapping):
        raise ConfigurationError(f"{source}: [inference_geo] must be a table.")
    multipliers = dict(options.get("geo_multipliers", {}))
    raw = geo.get("multipliers", {})
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: [inference_geo] multipliers must be a table.")
    for name, value in raw.items():
        multipliers[str(name)] = _decimal(value, f"inference_geo.multipliers.{name}")
    if multipliers:
        options["geo_multipliers"] = multipliers
    if "default" in geo:
        options["default_geo"] = str(geo["default"])
    code = data.get("code_execution", {})
    if not isinstance(code, Mapping):
        raise ConfigurationError(f"{source}: [code_execution] must be a table.")
    for key, option in (
        ("estimate_hours", "code_execution_estimate_hours"),
        ("minimum_hours", "code_execution_minimum_hours"),
    ):
        if key in code:
            options[option] = _decimal(code[key], f"code_execution.{key}")
    return options


def _rows(
    data: Mapping[str, Any], *, source: str, defaults: Mapping[str, Any] | None = None
) -> dict[str, ModelPrice]:
    merged_defaults = {**(defaults or {}), **data.get("defaults", {})}
    models = data.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigurationError(f"{source}: [models] must be a table of model ids.")
    rows: dict[str, ModelPrice] = {}
    for model_id, spec in models.items():
        if not isinstance(spec, Mapping):
            raise ConfigurationError(f"{source}: models.{model_id} must be a table.")
        where = f"models.{model_id}"
        if "input" not in spec or "output" not in spec:
            raise ConfigurationError(f"{source}: {where} needs input and output prices.")
        multipliers = {
            name: _decimal(spec.get(name, merged_defaults.get(name, _DEFAULTS[name])), f"{where}.{name}")
            for name in _MULTIPLIERS
        }
        lc_spec = spec.get("long_context")
        long_context = None
        if lc_spec is not None:
            if not isinstance(lc_spec, Mapping) or not isinstance(lc_spec.get("threshold"), int):
                raise ConfigurationError(f"{source}: {where}.long_context needs threshold, input, output.")
            long_context = LongContext(
                threshold=int(lc_spec["threshold"]),
                input=_decimal(lc_spec.get("input"), f"{where}.long_context.input"),
                output=_decimal(lc_spec.get("output"), f"{where}.long_context.output"),
            )
        effective = spec.get("effective")
        if isinstance(effective, str):
            effective = dt.date.fromisoformat(effective)
        if effective is not None and not isinstance(effective, dt.date):
            raise ConfigurationError(f"{source}: {where}.effective must be a date.")
        aliases = spec.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigurationError(f"{source}: {where}.aliases must be a list of ids.")
        rows[model_id] = ModelPrice(
            model=model_id,
            input=_decimal(spec["input"], f"{where}.input"),
            output=_decimal(spec["output"], f"{where}.output"),
            long_context=long_context,
            effective=effective,
            confirmed=bool(spec.get("confirmed", source != "packaged")),
            aliases=tuple(aliases),
            note=spec.get("note") if isinstance(spec.get("note"), str) else None,
            source=source,
            **multipliers,
        )
    return rows


_DEFAULTS: Final[Mapping[str, str]] = {
    "cache_write_5m": "1.25",
    "cache_write_1h": "2",
    "cache_read": "0.1",
    "batch": "0.5",
    "web_search_per_request": "0.01",
    "web_fetch_per_request": "0",
    "code_execution_per_hour": "0.05",
    "fast": "6",
}
