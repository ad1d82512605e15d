"""Metrics scraped by Prometheus from a running gateway (real uvicorn, real HTTP): the counters move."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from _uvicorn import ROOT, free_port, uvicorn_processes
from claude_guard.keys._store import KeyStore
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.eE+\-]+|NaN)$")


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


def _total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    keys_file = tmp_path / "keys.json"
    key = asyncio.run(
        KeyStore(MemoryStore(), keys_file=keys_file).create(profile="analysis", environment="development")
    ).key
    port = free_port()
    with serve(fake) as upstream:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "OTEL_"))},
            "CLAUDE_GUARD_AUDIT_DB": str(tmp_path / "audit.db"),
            "CLAUDE_API_KEY": CANARY_API_KEY,
            "CLAUDE_API_URL": upstream.url,
            "CLAUDE_GUARD_PII": "off",
            "CLAUDE_GUARD_KEYS_FILE": str(keys_file),
            "CLAUDE_GUARD_PROMETHEUS_PORT": str(port),
            "PYTHONPATH": str(ROOT / "src"),
        }
        with uvicorn_processes("app:app", app_dir=ROOT / "examples/fastapi_app", env=env) as urls:
            yield urls[0], f"http://127.0.0.1:{port}/metrics", key


def test_a_scrape_shows_the_counters_moving(gateway: tuple[str, str, str]) -> None:
    url, metrics, key = gateway
    before = _samples(httpx.get(metrics, timeout=10).text)
    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    for _ in range(3):
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "count me"}]
        )
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=16,
            messages=[{"role": "user", "content": "write it"}],
            tools=[{"name": "Write", "description": "w", "input_schema": {"type": "object"}}],
        )
    scrape = httpx.get(metrics, timeout=10)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    after = _samples(scrape.text)

    def moved(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    assert moved("claude_guard_requests_total") == 4
    assert moved("claude_guard_requests_total", claude_guard_outcome_request="allowed") == 3
    assert moved("claude_guard_requests_total", claude_guard_outcome_request="refused") == 1
    assert (
        moved(
            "claude_guard_decisions_total",
            claude_guard_protection="error",
            claude_guard_reason="tool_not_allowed",
        )
        == 1
    )
    assert moved("claude_guard_cost_USD_total") > 0
    assert moved("gen_ai_client_token_usage_count") >= 6  # input and output of three calls
    assert moved("claude_guard_guard_duration_seconds_count") == 3  # the refused one never waited upstream
    # Identifiers and counts only: no key, no prompt in the exposition.
    assert key not in scrape.text and "count me" not in scrape.text and CANARY_API_KEY not in scrape.text


def test_the_grafana_dashboard_queries_series_the_gateway_exports(gateway: tuple[str, str, str]) -> None:
    url, metrics, key = gateway
    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    client.messages.create(
        model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )
    exported = {name for name, _ in _samples(httpx.get(metrics, timeout=10).text)}
    dashboard = json.loads((ROOT / "examples/grafana/claude_guard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:claude_guard|gen_ai)_[a-zA-Z0-9_]+)\s*[\[{]", target["expr"])
    }
    # Counted only once something goes wrong (no series before the first increment).
    incidents = {"claude_guard_audit_dropped_total", "claude_guard_audit_sink_errors_total"}
    assert queried - incidents <= exported, sorted(queried - incidents - exported)
    assert incidents <= queried
