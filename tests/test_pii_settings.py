"""PII settings from the environment: entities, output scanning and the executor, mapped into
``GuardSettings.pii_config`` and through ``ClaudeGuard`` into the shared redactor."""

from __future__ import annotations

import pytest

from claude_guard.errors import ConfigurationError
from claude_guard.guard import ClaudeGuard
from claude_guard.settings import GuardSettings

BASE = {"CLAUDE_API_KEY": "sk-ant-api03-test", "CLAUDE_GUARD_PII": "on"}


def test_no_pii_variables_keep_the_defaults() -> None:
    assert GuardSettings.from_env(BASE).pii_config is None


def test_pii_variables_map_into_pii_config() -> None:
    settings = GuardSettings.from_env(
        {
            **BASE,
            "CLAUDE_GUARD_PII_ENTITIES": " email_address, AWS_ACCESS_KEY ,,CREDIT_CARD",
            "CLAUDE_GUARD_PII_OUTPUT_SCAN": "Redact",
            "CLAUDE_GUARD_PII_EXECUTOR": "thread",
        }
    )
    config = settings.pii_config
    assert config is not None
    assert config.entities == ("EMAIL_ADDRESS", "AWS_ACCESS_KEY", "CREDIT_CARD")
    assert config.output_scan == "redact"
    assert config.executor == "thread"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("CLAUDE_GUARD_PII_OUTPUT_SCAN", "report", "output_scan", "report"),
        ("CLAUDE_GUARD_PII_EXECUTOR", "thread", "executor", "thread"),
        ("CLAUDE_GUARD_PII_ENTITIES", "US_SSN", "entities", ("US_SSN",)),
    ],
    ids=["output-scan", "executor", "entities"],
)
def test_each_pii_variable_alone(variable: str, value: str, field: str, expected: object) -> None:
    config = GuardSettings.from_env({**BASE, variable: value}).pii_config
    assert config is not None
    assert getattr(config, field) == expected
    # The others keep their defaults.
    defaults = {"output_scan": "off", "executor": "process", "entities": None}
    for other, default in defaults.items():
        if other != field:
            assert getattr(config, other) == default


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLAUDE_GUARD_PII_OUTPUT_SCAN", "mask"),
        ("CLAUDE_GUARD_PII_EXECUTOR", "fork"),
        ("CLAUDE_GUARD_PII_ENTITIES", "EMAIL-ADDRESS"),
    ],
    ids=["output-scan", "executor", "entities"],
)
def test_bad_pii_variables_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        GuardSettings.from_env({**BASE, variable: value})


def test_guard_builds_its_redactor_from_the_environment() -> None:
    settings = GuardSettings.from_env(
        {
            **BASE,
            "CLAUDE_GUARD_PII_ENTITIES": "EMAIL_ADDRESS",
            "CLAUDE_GUARD_PII_OUTPUT_SCAN": "report",
            "CLAUDE_GUARD_PII_KEY": "shared-key",
        }
    )
    redactor = ClaudeGuard(settings=settings).pii_redactor
    assert redactor is not None
    assert redactor.config.output_scan == "report"
    assert redactor.engine.entities == ("EMAIL_ADDRESS",)
    scanner = redactor.output_scanner()
    assert scanner is not None and scanner.mode == "report"
    # The key is the environment's: another guard with the same key makes the same placeholders.
    other = ClaudeGuard(settings=settings).pii_redactor
    assert other is not None
    assert other.placeholder("p", "EMAIL_ADDRESS", "a@b.io") == redactor.placeholder(
        "p", "EMAIL_ADDRESS", "a@b.io"
    )
