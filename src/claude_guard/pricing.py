"""Prices of Claude models as data, and exact money (``Decimal``) from every usage field.

The packaged table (``claude_guard/data/prices.toml``) is read with ``importlib.resources``; an override
file in the same format (``CLAUDE_GUARD_PRICES_FILE``) replaces rows by id and may add models. Model ids
resolve through aliases, date suffixes (``-20250929``, ``@20250929``) and ``-latest``. A model with no row is
``UnknownModelError``, or is priced as a fallback model the user named: never $0.

Example:
    >>> from claude_guard.messages import Usage
    >>> table = PriceTable.load()
    >>> table.cost("claude-sonnet-4-5-20250929", Usage(input_tokens=1000, output_tokens=100)).total
    Decimal('0.00450000')
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Final

from .errors import ConfigurationError, GuardError
from .messages import Usage

__all__ = [
    "PICO",
    "Cost",
    "LongContext",
    "ModelPrice",
    "PriceTable",
    "UnknownModelError",
    "to_pico",
]

MILLION: Final = Decimal(1_000_000)
PICO: Final = Decimal("1e12")
"""Ledger money unit: 1e-12 USD. Every price in the table times every multiplier is a whole number of them."""

_DATE_SUFFIX: Final = re.compile(r"(?:-|@)\d{8}$")
_LATEST_SUFFIX: Final = "-latest"
PRICES_FILE_ENV: Final = "CLAUDE_GUARD_PRICES_FILE"


class UnknownModelError(GuardError):
    """No price is known for the model (and no fallback is configured): the request is refused, never free."""

    status = 400
    error_type = "invalid_request_error"
    should_retry = False
    default_message = "No price is configured for this model."


def to_pico(usd: Decimal, *, round_up: bool = False) -> int:
    """USD as a whole number of 1e-12 USD (the ledger's unit); ``round_up`` for reservations.

    Example:
        >>> to_pico(Decimal("0.0045"))
        4500000000
    """
    scaled = usd * PICO
    if round_up:
        return int(scaled.to_integral_value(rounding=ROUND_CEILING))
    return int(scaled.to_integral_value())


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
    long_context: LongContext | None = None
    effective: dt.date | None = None
    confirmed: bool = True
    aliases: tuple[str, ...] = ()
    note: str | None = None
    source: str = "packaged"

    def rates(self, input_tokens: int) -> tuple[Decimal, Decimal]:
        """Input and output USD per million tokens for a request with this many input tokens."""
        lc = self.long_context
        if lc is not None and input_tokens > lc.threshold:
            return lc.input, lc.output
        return self.input, self.output


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """The exact cost of one call, by usage field. ``total`` is their sum."""

    model: str
    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cache_write_5m: Decimal = Decimal(0)
    cache_write_1h: Decimal = Decimal(0)
    cache_read: Decimal = Decimal(0)
    web_search: Decimal = Decimal(0)
    long_context: bool = False
    batch: bool = False

    @property
    def total(self) -> Decimal:
        return (
            self.input
            + self.output
            + self.cache_write_5m
            + self.cache_write_1h
            + self.cache_read
            + self.web_search
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "model": self.model,
            "input": str(self.input),
            "output": str(self.output),
            "cache_write_5m": str(self.cache_write_5m),
            "cache_write_1h": str(self.cache_write_1h),
            "cache_read": str(self.cache_read),
            "web_search": str(self.web_search),
            "total": str(self.total),
        }


@dataclass(slots=True)
class PriceTable:
    """Model prices, resolved by id, alias or dated id.

    Args:
        rows: rows by canonical model id.
        fallback: a model id whose row prices any unknown model (``None``: unknown models raise).
        strict: refuse rows marked ``confirmed = false``.
    """

    rows: dict[str, ModelPrice]
    fallback: str | None = None
    strict: bool = False
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._aliases = {}
        for model_id, row in self.rows.items():
            for alias in row.aliases:
                self._aliases[alias] = model_id
        if self.fallback is not None and self._lookup(self.fallback) is None:
            raise ConfigurationError(f"The fallback price model {self.fallback!r} is not in the price table.")

    @classmethod
    def load(
        cls,
        override: str | os.PathLike[str] | None = None,
        *,
        fallback: str | None = None,
        strict: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> PriceTable:
        """The packaged table, with ``override`` (or ``$CLAUDE_GUARD_PRICES_FILE``) applied on top.

        ``fallback`` may also come from the override file's ``[table] fallback = "model-id"``.
        """
        env = os.environ if environ is None else environ
        packaged = resources.files("claude_guard").joinpath("data/prices.toml").read_text(encoding="utf-8")
        data = tomllib.loads(packaged)
        rows = _rows(data, source="packaged")
        path = override if override is not None else env.get(PRICES_FILE_ENV) or None
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
                extra = tomllib.loads(text)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"The price override file cannot be read: {exc}") from None
            rows.update(_rows(extra, source=str(path), defaults=data.get("defaults", {})))
            fallback = fallback or _table_fallback(extra)
        return cls(rows, fallback=fallback, strict=strict)

    def _lookup(self, model: str) -> ModelPrice | None:
        for candidate in _candidates(model):
            row = self.rows.get(candidate)
            if row is None and candidate in self._aliases:
                row = self.rows[self._aliases[candidate]]
            if row is not None:
                return row
        return None

    def price(self, model: str) -> ModelPrice:
        """The row pricing ``model``; ``UnknownModelError`` when none applies."""
        row = self._lookup(model)
        if row is None and self.fallback is not None:
            row = self._lookup(self.fallback)
        if row is None:
            raise UnknownModelError(
                "No price is configured for this model; add it to the price override file.",
                code="unknown_model",
            )
        if self.strict and not row.confirmed:
            raise UnknownModelError(
                "The price of this model is not confirmed; set it in the price override file.",
                code="unconfirmed_price",
            )
        return row

    def knows(self, model: str) -> bool:
        return self._lookup(model) is not None

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> Cost:
        """The exact cost of ``usage`` on ``model`` (``batch``, or a ``batch`` service tier, halves it)."""
        row = self.price(model)
        total_input = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        input_rate, output_rate = row.rates(total_input)
        is_batch = batch or usage.service_tier == "batch"
        factor = row.batch if is_batch else Decimal(1)
        input_rate = input_rate * factor / MILLION
        output_rate = output_rate * factor / MILLION
        # Writes without a breakdown, or a breakdown that does not add up, count at the 5-minute price.
        unexplained = max(
            0,
            usage.cache_creation_input_tokens
            - usage.cache_creation_5m_input_tokens
            - usage.cache_creation_1h_input_tokens,
        )
        return Cost(
            model=row.model,
            input=usage.input_tokens * input_rate,
            output=usage.output_tokens * output_rate,
            cache_write_5m=(usage.cache_creation_5m_input_tokens + unexplained)
            * input_rate
            * row.cache_write_5m,
            cache_write_1h=usage.cache_creation_1h_input_tokens * input_rate * row.cache_write_1h,
            cache_read=usage.cache_read_input_tokens * input_rate * row.cache_read,
            web_search=usage.web_search_requests * row.web_search_per_request,
            long_context=row.long_context is not None and total_input > row.long_context.threshold,
            batch=is_batch,
        )

    def worst_case(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_write: str | None = None,
        web_searches: int = 0,
    ) -> Decimal:
        """The most ``input_tokens`` and ``output_tokens`` can cost on ``model``.

        ``cache_write`` (``"5m"`` or ``"1h"``) prices every input token as a cache write of that TTL, the
        dearest way the API can bill a prompt that asks for caching.
        """
        row = self.price(model)
        input_rate, output_rate = row.rates(input_tokens)
        multiplier = Decimal(1)
        if cache_write == "1h":
            multiplier = max(row.cache_write_1h, row.cache_write_5m, Decimal(1))
        elif cache_write == "5m":
            multiplier = max(row.cache_write_5m, Decimal(1))
        return (
            input_tokens * input_rate * multiplier / MILLION
            + output_tokens * output_rate / MILLION
            + web_searches * row.web_search_per_request
        )

    def format_table(self) -> str:
        """The table as aligned text, for ``claude-guard prices``."""
        head = (
            "model",
            "input",
            "output",
            "5m write",
            "1h write",
            "cache read",
            "long context",
            "effective",
            "status",
        )
        lines: list[tuple[str, ...]] = [head]
        for model_id in sorted(self.rows):
            row = self.rows[model_id]
            lc = row.long_context
            lines.append(
                (
                    model_id + (f" ({', '.join(row.aliases)})" if row.aliases else ""),
                    _money(row.input),
                    _money(row.output),
                    _money(row.input * row.cache_write_5m),
                    _money(row.input * row.cache_write_1h),
                    _money(row.input * row.cache_read),
                    f">{lc.threshold}: {_money(lc.input)}/{_money(lc.output)}" if lc else "-",
                    row.effective.isoformat() if row.effective else "-",
                    ("confirmed" if row.confirmed else "UNCONFIRMED")
                    + ("" if row.source == "packaged" else " (override)"),
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        out = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
        out.insert(1, "  ".join("-" * w for w in widths))
        batch = {str(r.batch) for r in self.rows.values()}
        out.append("")
        out.append(
            "USD per million tokens. Batch: x"
            + "/".join(sorted(batch))
            + " on every token price. "
            + (
                f"Unknown models are priced as {self.fallback}."
                if self.fallback
                else "Unknown models are refused."
            )
        )
        return "\n".join(out)


def _money(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _candidates(model: str) -> Iterable[str]:
    model = model.strip()
    yield model
    base = _DATE_SUFFIX.sub("", model)
    if base != model:
        yield base
    if model.endswith(_LATEST_SUFFIX):
        yield model[: -len(_LATEST_SUFFIX)]


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


_MULTIPLIERS: Final = ("cache_write_5m", "cache_write_1h", "cache_read", "batch", "web_search_per_request")


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
}
