"""Prices of Claude models as data, and exact money (``Decimal``) from every usage field.

The packaged table (``claude_guard/data/prices.toml``) is read with ``importlib.resources``; an override
file in the same format (``CLAUDE_GUARD_PRICES_FILE``) replaces rows by id and may add models (the rows and
their files: ``_price_rows``). Model ids
resolve through aliases, date suffixes (``-20250929``, ``@20250929``) and ``-latest``. A model with no row is
``UnknownModelError``, or is priced as a fallback model the user named: never $0.

Prices follow the request: fast mode (``speed: "fast"``) multiplies the input and output rates (long-context
rates included), the inference geography (``inference_geo``) multiplies them again, cache writes are priced
by TTL, server tools carry their fees (web search per search, web fetch per fetch, code execution per
container hour), and the Batch API halves everything. `PriceTable.billing` reads these options from a
request once; a ``speed``, ``service_tier`` or ``inference_geo`` value the table does not know is refused
(400), and a beta the table does not list is priced at the worst case (or refused, by the table's choice),
never at the standard rate.

Example:
    >>> from claude_guard.messages import Usage
    >>> table = PriceTable.load()
    >>> table.cost("claude-sonnet-4-5-20250929", Usage(input_tokens=1000, output_tokens=100)).total
    Decimal('0.00450000')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Final

from ._price_rows import ModelPrice, read_price_files
from .errors import BadRequestError, ConfigurationError
from .errors import UnknownModelError as UnknownModelError  # its old path keeps working
from .messages import Usage

__all__ = [
    "Billing",
    "Cost",
    "PriceTable",
]

MILLION: Final = Decimal(1_000_000)
PICO: Final = Decimal("1e12")
"""Ledger money unit: 1e-12 USD. Every price in the table times every multiplier is a whole number of them."""

_DATE_SUFFIX: Final = re.compile(r"(?:-|@)\d{8}$")
_LATEST_SUFFIX: Final = "-latest"
SPEEDS: Final = ("standard", "fast")
"""The ``speed`` values the Messages API defines; any other is refused before it is priced."""
SERVICE_TIERS: Final = ("auto", "standard_only")
"""The request ``service_tier`` values the Messages API defines; any other is refused before it is priced."""
_SAFE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_MAX_RESOLVED: Final = 1024


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
class Billing:
    """The billing options of one request, read once by `PriceTable.billing`.

    Example:
        >>> table = PriceTable.load(environ={})
        >>> table.billing({"speed": "fast"}, ["fast-mode-2026-02-01"]).speed
        'fast'
    """

    speed: str = "standard"
    """``standard`` or ``fast``."""
    inference_geo: str | None = None
    """The requested ``inference_geo``, if any."""
    code_execution: bool = False
    """The request declares a code execution tool (billed per container hour)."""
    worst_case: bool = False
    """A beta the table does not price was sent: estimates take the dearest tier, fast mode and geography."""


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
    web_fetch: Decimal = Decimal(0)
    code_execution: Decimal = Decimal(0)
    long_context: bool = False
    batch: bool = False
    speed: str = "standard"
    inference_geo: str | None = None
    total: Decimal = field(init=False)
    """The sum of the fields above; summed once when the cost is made (a settlement reads it five times:
    the ledger, the context, the audit decision, the header and the telemetry)."""

    def __post_init__(self) -> None:
        total = (
            self.input
            + self.output
            + self.cache_write_5m
            + self.cache_write_1h
            + self.cache_read
            + self.web_search
            + self.web_fetch
            + self.code_execution
        )
        object.__setattr__(self, "total", total)

    def as_dict(self) -> dict[str, str]:
        return {
            "model": self.model,
            "input": str(self.input),
            "output": str(self.output),
            "cache_write_5m": str(self.cache_write_5m),
            "cache_write_1h": str(self.cache_write_1h),
            "cache_read": str(self.cache_read),
            "web_search": str(self.web_search),
            "web_fetch": str(self.web_fetch),
            "code_execution": str(self.code_execution),
            "speed": self.speed,
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
    priced_betas: frozenset[str] = frozenset()
    """Betas whose billing the table prices through the request's own fields, or that bill nothing extra."""
    unknown_beta: str = "worst_case"
    """What an unlisted beta gets: ``worst_case`` (estimated at the dearest billing) or ``refuse`` (400)."""
    geo_multipliers: Mapping[str, Decimal] = field(
        default_factory=lambda: {"global": Decimal(1), "us": Decimal("1.1")}
    )
    """``inference_geo`` values and their multiplier on every token price."""
    default_geo: str = "global"
    """The geography assumed when neither the request nor the usage names one (the workspace default)."""
    code_execution_estimate_hours: Decimal = Decimal(1)
    """Container hours reserved for a request that declares code execution."""
    code_execution_minimum_hours: Decimal = Decimal(5) / Decimal(60)
    """Container hours charged at settlement (the usage does not report them): the billing minimum."""
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)
    _resolved: dict[str, ModelPrice] = field(default_factory=dict, init=False, repr=False, compare=False)
    """The row found for each model id asked of `price` (only found ones, bounded)."""
    _resolved_for: tuple[dict[str, ModelPrice], str | None, bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The ``rows``, ``fallback`` and ``strict`` that ``_resolved`` was found with."""

    def __post_init__(self) -> None:
        self._aliases = {}
        for model_id, row in self.rows.items():
            for alias in row.aliases:
                self._aliases[alias] = model_id
        if self.fallback is not None and self._lookup(self.fallback) is None:
            raise ConfigurationError(f"The fallback price model {self.fallback!r} is not in the price table.")
        if self.unknown_beta not in ("worst_case", "refuse"):
            raise ConfigurationError('[betas] unknown must be "worst_case" or "refuse".')
        if self.default_geo not in self.geo_multipliers:
            raise ConfigurationError("[inference_geo] default must be one of its multipliers.")

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
        rows, options, file_fallback = read_price_files(override, os.environ if environ is None else environ)
        return cls(rows, fallback=fallback or file_fallback, strict=strict, **options)

    def _lookup(self, model: str) -> ModelPrice | None:
        for candidate in _candidates(model):
            row = self.rows.get(candidate)
            if row is None and candidate in self._aliases:
                row = self.rows[self._aliases[candidate]]
            if row is not None:
                return row
        return None

    def price(self, model: str) -> ModelPrice:
        """The row pricing ``model``; ``UnknownModelError`` when none applies.

        Asked twice per metered request (the estimate and the settlement) with the same few model ids: the
        row found is remembered per id (bounded; ids are chosen by callers), and forgotten when ``rows``,
        ``fallback`` or ``strict`` is replaced. A refusal is never remembered: it is raised afresh each time.
        """
        resolved = self._resolved
        found_with = self._resolved_for
        if (
            found_with is None
            or found_with[0] is not self.rows
            or found_with[1] != self.fallback
            or found_with[2] != self.strict
        ):
            resolved.clear()
            self._resolved_for = (self.rows, self.fallback, self.strict)
        row = resolved.get(model)
        if row is not None:
            return row
        row = self._price(model)
        if len(resolved) >= _MAX_RESOLVED:
            resolved.clear()
        resolved[model] = row
        return row

    def _price(self, model: str) -> ModelPrice:
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

    def billing(self, body: Mapping[str, Any], betas: Iterable[str] = ()) -> Billing:
        """The billing options of a Messages request body and its ``anthropic-beta`` values.

        Raises:
            BadRequestError: a ``speed``, ``service_tier`` or ``inference_geo`` value the table does not
                know, or (with ``[betas] unknown = "refuse"``) a beta it does not list (400).
        """
        speed = body.get("speed")
        speed = "standard" if speed is None else speed
        if speed not in SPEEDS:
            raise BadRequestError(
                "speed: this value has no price; the guard knows standard and fast.", code="unknown_speed"
            )
        tier = body.get("service_tier")
        if tier is not None and tier not in SERVICE_TIERS:
            raise BadRequestError(
                "service_tier: this value has no price; the guard knows auto and standard_only.",
                code="unknown_service_tier",
            )
        geo = body.get("inference_geo")
        if geo is not None and (not isinstance(geo, str) or geo not in self.geo_multipliers):
            raise BadRequestError(
                "inference_geo: this geography has no price; add it to the price override file.",
                code="unknown_inference_geo",
            )
        unpriced = [beta for beta in betas if beta not in self.priced_betas]
        if unpriced and self.unknown_beta == "refuse":
            shown = unpriced[0] if _SAFE_NAME.fullmatch(unpriced[0]) else "requested"
            raise BadRequestError(
                f"The beta {shown} has no price; add it to [betas] priced in the price override file.",
                code="unpriced_beta",
            )
        _, _, code_execution = server_tool_uses(body.get("tools"))
        return Billing(
            speed=speed,
            inference_geo=geo if isinstance(geo, str) else None,
            code_execution=code_execution,
            worst_case=bool(unpriced),
        )

    def _geo(self, geo: str | None) -> Decimal:
        if geo is None:
            geo = self.default_geo
        # A geography the usage reports but the table does not know: its dearest known multiplier.
        return self.geo_multipliers.get(geo, max(self.geo_multipliers.values()))

    def cost(self, model: str, usage: Usage, *, batch: bool = False, billing: Billing | None = None) -> Cost:
        """The exact cost of ``usage`` on ``model`` (``batch``, or a ``batch`` service tier, halves it).

        The speed and geography are the ones the usage reports, else the request's (``billing``); a speed
        the table does not know is billed as fast mode.
        """
        billing = billing or Billing()
        row = self.price(model)
        total_input = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        input_rate, output_rate = row.rates(total_input)
        speed = usage.speed or billing.speed
        geo = usage.inference_geo or billing.inference_geo
        is_batch = batch or usage.service_tier == "batch"
        factor = (row.batch if is_batch else Decimal(1)) * self._geo(geo)
        if speed != "standard":
            factor *= row.fast
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
            web_fetch=usage.web_fetch_requests * row.web_fetch_per_request,
            code_execution=row.code_execution_per_hour * self.code_execution_minimum_hours
            if billing.code_execution
            else Decimal(0),
            long_context=row.long_context is not None and total_input > row.long_context.threshold,
            batch=is_batch,
            speed=speed,
            inference_geo=geo,
        )

    def worst_case(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_write: str | None = None,
        web_searches: int = 0,
        web_fetches: int = 0,
        billing: Billing | None = None,
    ) -> Decimal:
        """The most ``input_tokens`` and ``output_tokens`` can cost on ``model``.

        ``cache_write`` (``"5m"`` or ``"1h"``) prices every input token as a cache write of that TTL, the
        dearest way the API can bill a prompt that asks for caching. ``billing`` adds fast mode, the
        geography and code execution; with ``billing.worst_case`` (an unpriced beta) the estimate takes
        the long-context tier, fast mode and the dearest geography whatever the request says.

        Example:
            >>> table = PriceTable.load(environ={})
            >>> standard = table.worst_case("claude-opus-4-6", input_tokens=1000, output_tokens=1000)
            >>> fast = table.worst_case(
            ...     "claude-opus-4-6", input_tokens=1000, output_tokens=1000, billing=Billing(speed="fast")
            ... )
            >>> fast / standard
            Decimal('6')
        """
        billing = billing or Billing()
        row = self.price(model)
        input_rate, output_rate = row.rates(input_tokens, dearest=billing.worst_case)
        factor = self._geo(billing.inference_geo)
        if billing.worst_case:
            factor = max(self.geo_multipliers.values())
        if billing.speed != "standard" or billing.worst_case:
            factor *= max(row.fast, Decimal(1))
        multiplier = Decimal(1)
        if cache_write == "1h":
            multiplier = max(row.cache_write_1h, row.cache_write_5m, Decimal(1))
        elif cache_write == "5m":
            multiplier = max(row.cache_write_5m, Decimal(1))
        fees = web_searches * row.web_search_per_request + web_fetches * row.web_fetch_per_request
        if billing.code_execution:
            fees += row.code_execution_per_hour * max(
                self.code_execution_estimate_hours, self.code_execution_minimum_hours
            )
        return (
            input_tokens * input_rate * multiplier * factor / MILLION
            + output_tokens * output_rate * factor / MILLION
            + fees
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
            "fast",
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
                    f"x{_money(row.fast)}",
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
            + " on every token price. Fast mode: x the fast column on input and output. Geography: "
            + ", ".join(f"{geo} x{_money(m)}" for geo, m in sorted(self.geo_multipliers.items()))
            + f" (assumed: {self.default_geo}). Unpriced betas: "
            + ("refused. " if self.unknown_beta == "refuse" else "estimated at the worst case. ")
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


def server_tool_uses(tools: object, *, default_uses: int = 10) -> tuple[int, int, bool]:
    """Web searches and web fetches a request's ``tools`` can bill at most, and whether it declares code
    execution: ``max_uses`` of each web search and web fetch tool, ``default_uses`` for one without.

    Example:
        >>> server_tool_uses([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ...                   {"type": "web_fetch_20250910", "name": "web_fetch"},
        ...                   {"type": "code_execution_20250825", "name": "code_execution"}])
        (3, 10, True)
    """
    searches = fetches = 0
    code_execution = False
    if not isinstance(tools, list):
        return searches, fetches, code_execution
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        kind = tool.get("type")
        if not isinstance(kind, str):
            continue
        uses = tool.get("max_uses")
        bound = uses if isinstance(uses, int) and not isinstance(uses, bool) and uses >= 0 else default_uses
        if kind.startswith("web_search"):
            searches += bound
        elif kind.startswith("web_fetch"):
            fetches += bound
        elif kind.startswith("code_execution"):
            code_execution = True
    return searches, fetches, code_execution
