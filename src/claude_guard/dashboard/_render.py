"""Server-rendered HTML of the dashboard: the page, and each section alone for the live refresh.

Every value is escaped; the figures come from ``summarize`` and hold identifiers, counts and money only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any, Final

__all__ = ["SECTIONS", "render_page", "render_sections"]


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    empty: str,
    numeric: set[int],
    wrap: frozenset[int] = frozenset(),
) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'

    def cls(i: int) -> str:
        names = [n for n, on in (("num", i in numeric), ("wrap", i in wrap)) if on]
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _money(value: str) -> str:
    return f"${value}" if value else "—"


def _against(used: str, budget: str) -> str:
    return f"{_money(used)} of {_money(budget)}" if budget else _money(used)


def _totals(s: Mapping[str, Any]) -> str:
    t = s["totals"]
    cards = [
        ("requests", "Requests", t["requests"]),
        ("allowed", "Allowed", t["allowed"]),
        ("refused", "Refused", t["refused"]),
        ("errors", "Errors", t["errors"]),
        ("cost", "Spend (window)", _money(t["cost_usd"])),
    ]
    return "".join(
        f'<div class="card {name}"><span class="label">{_e(label)}</span>'
        f'<span class="value" data-total="{name}">{_e(value)}</span></div>'
        for name, label, value in cards
    )


def _refusals(s: Mapping[str, Any]) -> str:
    rows = [(r["name"], r["count"]) for r in s["refusals"]]
    return "<h2>Refusals by reason</h2>" + _table(("reason", "requests"), rows, "No refusals.", {1})


def _spend(s: Mapping[str, Any]) -> str:
    keys = [
        (
            k["key_id"],
            k["profile"],
            _against(k["today_usd"], k["budget_day_usd"]),
            _against(k["month_usd"], k["budget_month_usd"]),
            _money(k["window_usd"]),
        )
        for k in s["keys"]
    ]
    profiles = [
        (
            p["profile"],
            _against(p["today_usd"], p["budget_day_usd"]),
            _against(p["month_usd"], p["budget_month_usd"]),
        )
        for p in s["profiles"]
    ]
    return (
        "<h2>Spend per key</h2>"
        + _table(
            ("key id", "profile", "today (UTC) / budget", "this month / budget", "in window"),
            keys,
            "No keys yet.",
            {2, 3, 4},
        )
        + "<h2>Spend per profile</h2>"
        + _table(
            ("profile", "today (UTC) / budget", "this month / budget"), profiles, "No profiles yet.", {1, 2}
        )
    )


def _rules(s: Mapping[str, Any]) -> str:
    rows = [(r["name"], r["count"]) for r in s["rules"]]
    return "<h2>Top validation rules</h2>" + _table(("rule id", "requests"), rows, "No rule fired.", {1})


def _pii(s: Mapping[str, Any]) -> str:
    rows = [(r["name"], r["count"]) for r in s["pii"]]
    return "<h2>Top PII types</h2>" + _table(("entity type", "found"), rows, "No PII found.", {1})


def _rate_limits(s: Mapping[str, Any]) -> str:
    rows = [(r["key_id"], r["profile"], r["limit"], r["used"], r["remaining"]) for r in s["rate_limits"]]
    return "<h2>Rate-limit headroom per key</h2>" + _table(
        ("key id", "profile", "limit", "used", "left"),
        rows,
        "No key with a profile rate limit.",
        {3, 4},
    )


def _recent(s: Mapping[str, Any]) -> str:
    rows = [
        (
            time.strftime("%H:%M:%S", time.gmtime(r["time"])),
            r["request_id"],
            r["key_id"] or "—",
            r["route"],
            r["status"] if r["status"] is not None else "—",
            " ".join(r["decisions"]),
            _money(r["cost_usd"]),
            f"{r['latency_ms']:.0f} ms",
        )
        for r in s["recent"]
    ]
    return "<h2>Recent requests</h2>" + _table(
        ("time", "request id", "key id", "route", "status", "decisions", "cost", "latency"),
        rows,
        "No requests yet.",
        {4, 6, 7},
        frozenset({5}),
    )


def _updated(s: Mapping[str, Any]) -> str:
    hours = f"{s['window']['hours']:g}"
    return f"updated {_e(_clock(s['generated_at']))} · last {_e(hours)} h"


SECTIONS: Final[Mapping[str, Callable[[Mapping[str, Any]], str]]] = {
    "updated": _updated,
    "totals": _totals,
    "refusals": _refusals,
    "spend": _spend,
    "rules": _rules,
    "pii": _pii,
    "rate-limits": _rate_limits,
    "recent": _recent,
}
"""Element id → renderer; the JSON endpoint sends each one so the page swaps them in place."""


def render_sections(summary: Mapping[str, Any]) -> dict[str, str]:
    """Every section's HTML, by element id."""
    return {name: render(summary) for name, render in SECTIONS.items()}


def render_page(summary: Mapping[str, Any], *, static: str) -> str:
    """The whole page, with the figures rendered and the chart's data embedded for the first drawing."""
    sections = render_sections(summary)
    # ``<`` escaped so the embedded JSON can never close its script element.
    initial = json.dumps({"timeline": summary["timeline"]}, separators=(",", ":")).replace("<", "\\u003c")
    refresh = _e(summary["refresh_seconds"])
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claude_guard dashboard</title>
<link rel="icon" href="{_e(static)}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{_e(static)}/dashboard.css">
<script src="{_e(static)}/dashboard.js" defer></script>
</head>
<body data-summary="api/summary" data-refresh="{refresh}">
<header><h1>claude_guard</h1><span id="updated">{sections["updated"]}</span>
<span id="live" class="live" title="live refresh">●</span></header>
<main>
<section id="totals" class="cards">{sections["totals"]}</section>
<section class="chart"><h2>Requests over time</h2>
<svg id="chart" viewBox="0 0 720 180" role="img" aria-label="requests over time"></svg>
<div id="legend" class="legend"></div></section>
<div class="grid">
<section id="refusals">{sections["refusals"]}</section>
<section id="rules">{sections["rules"]}</section>
<section id="pii">{sections["pii"]}</section>
</div>
<section id="rate-limits">{sections["rate-limits"]}</section>
<section id="spend">{sections["spend"]}</section>
<section id="recent">{sections["recent"]}</section>
</main>
<script type="application/json" id="initial">{initial}</script>
</body>
</html>
"""
