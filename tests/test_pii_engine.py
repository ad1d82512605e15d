"""The engine offline, secrets with invisible characters, configuration, operators, and failure policies."""

from __future__ import annotations

import doctest
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from claude_guard.context import GuardContext
from claude_guard.errors import PIIBlockedError, PIIUnavailableError
from claude_guard.pii import (
    PIIConfig,
    PIIEngine,
    PIIPattern,
    Redactor,
    _canonical,
    _config,
    _engine,
    _output,
    _prefilter,
    _redact,
    _restore,
    _vault,
)
from claude_guard.pii._engine import AnalysisUnavailableError

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "Ab3_-x" * 15 + "abcAA",
    "OPENAI_API_KEY": "sk-proj-Xy12Ab34Cd56Ef78Gh90Ij12Kl34Mn56",
    "AWS_ACCESS_KEY": "AKIAIOSFODNN7EXAMPLE",
    "PRIVATE_KEY": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvY2\nq83==\n-----END RSA PRIVATE KEY-----"
    ),
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "BEARER_TOKEN": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}
INVISIBLE = ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\U000e0041", "\ufe0f"]


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="test-key", phone_regions=("US",)))
    yield e
    e.close()


def found(engine: PIIEngine, text: str) -> dict[str, str]:
    return {f.entity: text[f.start : f.end] for f in _engine.merge_findings(engine.analyze_sync(text))}


@pytest.mark.parametrize("entity", sorted(SECRETS))
def test_secret_recognizers(engine: PIIEngine, entity: str) -> None:
    value = SECRETS[entity]
    text = f"here it is: Bearer {value} ok" if entity == "BEARER_TOKEN" else f"here it is: {value} ok"
    assert found(engine, text).get(entity) == value


@pytest.mark.parametrize("entity", sorted(SECRETS))
@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_secrets_found_with_invisible_characters_inserted(engine: PIIEngine, entity: str, char: str) -> None:
    value = SECRETS[entity]
    hidden = value[:6] + char + value[6:12] + char * 2 + value[12:]
    text = f"use Bearer {hidden} now" if entity == "BEARER_TOKEN" else f"use {hidden} now"
    # The span covers the original text, invisible characters included.
    assert found(engine, text).get(entity) == hidden


def test_every_format_character_is_invisible() -> None:
    import unicodedata

    missing = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Cf" and not _canonical.INVISIBLE.fullmatch(chr(cp))
    ]
    assert missing == []


def test_engine_builds_with_the_network_unavailable() -> None:
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from claude_guard.pii import PIIConfig, PIIEngine
        engine = PIIEngine(PIIConfig(phone_regions=("US",)))
        text = "mail ada@example.com, call +1 415-555-0132, url https://example.org"
        print(sorted({f.entity for f in engine.analyze_sync(text)}))
        engine.close()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['EMAIL_ADDRESS', 'PHONE_NUMBER']"


def test_configuration_patterns_deny_and_allow_lists() -> None:
    config = PIIConfig(
        entities=("EMAIL_ADDRESS",),
        patterns=(PIIPattern(entity="EMPLOYEE_ID", regex=r"\bEMP-\d{6}\b", score=0.9),),
        deny_lists={"PROJECT": ("Bluebird",)},
        allow_list=("support@example.com",),
        thresholds={"EMAIL_ADDRESS": 0.5},
        phone_regions=("US",),
    )
    engine = PIIEngine(config, warm=False)
    try:
        text = "EMP-123456 on Bluebird wrote to support@example.com and ada@example.com, +1 415-555-0132"
        assert found(engine, text) == {
            "EMPLOYEE_ID": "EMP-123456",
            "PROJECT": "Bluebird",
            "EMAIL_ADDRESS": "ada@example.com",
        }
    finally:
        engine.close()


def test_per_entity_threshold_drops_weak_findings() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",), thresholds={"PHONE_NUMBER": 0.9}), warm=False)
    try:
        assert "PHONE_NUMBER" not in found(engine, "ring +1 415-555-0132")
    finally:
        engine.close()


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="positive"):
        PIIConfig(workers=0)
    with pytest.raises(ValueError, match="entity names"):
        PIIConfig(entities=("email",))


async def test_operators(engine: PIIEngine) -> None:
    redactor = Redactor(
        engine=PIIEngine(
            PIIConfig(
                hmac_key="k",
                phone_regions=("US",),
                operators={"EMAIL_ADDRESS": "mask", "US_SSN": "hash", "IP_ADDRESS": "redact"},
            ),
            warm=False,
        )
    )
    try:
        body = {"messages": [{"role": "user", "content": "ada@example.com 536-90-4399 192.168.10.23"}]}
        first = await redactor.redact(body, principal="a")
        second = await redactor.redact(body, principal="b")
        text = first.body["messages"][0]["content"]
        assert text.startswith("***********.com <US_SSN:")
        assert text.endswith(" <IP_ADDRESS>")
        # The hash is keyed and stable: the same for every principal and request.
        assert second.body == first.body
        assert first.mapping == {}
    finally:
        redactor.close()


async def test_block_names_entity_types_only(engine: PIIEngine) -> None:
    config = PIIConfig(hmac_key="k", phone_regions=("US",), operators={"CREDIT_CARD": "block"})
    redactor = Redactor(engine=PIIEngine(config, warm=False))
    ctx = GuardContext(method="POST", path="/v1/messages")
    try:
        body = {"messages": [{"role": "user", "content": "card 4111 1111 1111 1111, mail ada@example.com"}]}
        with pytest.raises(PIIBlockedError) as info:
            await redactor.redact(body, principal="a", ctx=ctx)
        assert info.value.status == 400
        assert "CREDIT_CARD" in info.value.message
        assert "4111" not in info.value.message and "ada@" not in info.value.message
        assert ctx.decisions[-1].detail == {"entities": {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}}
    finally:
        redactor.close()


class Unavailable(PIIEngine):
    def __init__(self, config: PIIConfig) -> None:
        self.config = config
        self.entities = config.resolved_entities()

    async def analyze(self, text: str, *, timeout: float | None = None) -> Any:
        raise AnalysisUnavailableError("timeout")

    def close(self) -> None:
        return None


async def test_fail_closed_by_default() -> None:
    redactor = Redactor(engine=Unavailable(PIIConfig()))
    ctx = GuardContext()
    with pytest.raises(PIIUnavailableError) as info:
        await redactor.redact({"messages": [{"role": "user", "content": "hi"}]}, principal="a", ctx=ctx)
    assert info.value.status == 503 and info.value.code == "pii_timeout"


async def test_fail_open_passes_the_request_and_says_so() -> None:
    redactor = Redactor(engine=Unavailable(PIIConfig(on_failure="open")))
    ctx = GuardContext()
    body = {"messages": [{"role": "user", "content": "ada@example.com"}]}
    result = await redactor.redact(body, principal="a", ctx=ctx)
    assert result.body is body and result.skipped == "timeout"
    assert ctx.decisions[-1].detail == {"reason": "timeout", "policy": "open"}


async def test_time_budget_and_admission_bound(engine: PIIEngine) -> None:
    with pytest.raises(AnalysisUnavailableError, match="timeout"):
        await engine.analyze("ada@example.com " * 2000, timeout=1e-9)
    small = PIIEngine(PIIConfig(max_pending=1, phone_regions=("US",)), warm=False)
    try:
        small._pending = 1  # one analysis already admitted
        with pytest.raises(AnalysisUnavailableError, match="overloaded"):
            await small.analyze("x")
    finally:
        small.close()


async def test_process_pool_executor() -> None:
    engine = PIIEngine(PIIConfig(executor="process", workers=1, phone_regions=("US",)))
    try:
        findings = await engine.analyze("mail ada@example.com")
        assert [f.entity for f in findings] == ["EMAIL_ADDRESS"]
    finally:
        engine.close()


@pytest.mark.parametrize(
    "module",
    [_canonical, _config, _engine, _output, _prefilter, _redact, _restore, _vault],
    ids=lambda m: m.__name__,
)
def test_doctests(module: Any) -> None:
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_merge_findings_keeps_the_best_of_overlapping_spans() -> None:
    # Against the definition: best first (score, then length, then start), a finding kept when it overlaps
    # none kept before it; in text order.
    import random

    def by_definition(findings: list[_engine.Finding]) -> list[_engine.Finding]:
        chosen: list[_engine.Finding] = []
        for f in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
            if f.end > f.start and all(f.end <= c.start or f.start >= c.end for c in chosen):
                chosen.append(f)
        return sorted(chosen, key=lambda f: f.start)

    rng = random.Random(15)
    for _ in range(3000):
        findings = []
        for _ in range(rng.randint(0, 14)):
            start = rng.randint(0, 40)
            end = start + rng.randint(-1, 9)
            findings.append(_engine.Finding("E", start, end, rng.choice((0.4, 0.5, 0.85, 1.0))))
        assert _engine.merge_findings(findings) == by_definition(findings), findings


def test_block_boundaries_are_joined_within_a_message_never_across_messages() -> None:
    from claude_guard.messages._segments import TextSegment
    from claude_guard.messages._segments import adjacent_pairs as _adjacent_pairs

    def seg(*path: object) -> tuple[int, TextSegment]:
        return (0, TextSegment(path=tuple(path), text="x", kind="message"))  # type: ignore[arg-type]

    within = [seg("messages", 0, "content", 0, "text"), seg("messages", 0, "content", 1, "text")]
    assert _adjacent_pairs(within) == [0]
    system = [seg("system", 0, "text"), seg("system", 1, "text")]
    assert _adjacent_pairs(system) == [0]
    # Two messages in a row (string content, or each a single block) are separate turns: not joined.
    strings = [seg("messages", 0, "content"), seg("messages", 1, "content")]
    assert _adjacent_pairs(strings) == []
    blocks = [seg("messages", 0, "content", 0, "text"), seg("messages", 1, "content", 0, "text")]
    assert _adjacent_pairs(blocks) == []
