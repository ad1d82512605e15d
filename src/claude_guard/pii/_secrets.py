"""Recognizers for secrets pasted into prompts: Anthropic, OpenAI and AWS keys, private keys, JWTs, bearer
tokens. Plain data, turned into Presidio pattern recognizers by the engine."""

from __future__ import annotations

from typing import Final

__all__ = ["SECRET_PATTERNS"]

# (entity, name, regex, score). Case-sensitive: key formats are.
SECRET_PATTERNS: Final[tuple[tuple[str, str, str, float], ...]] = (
    ("ANTHROPIC_API_KEY", "anthropic key", r"\bsk-ant-[a-z]{2,10}\d{2}-[A-Za-z0-9_\-]{20,}", 0.95),
    ("OPENAI_API_KEY", "openai project key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}", 0.95),
    ("OPENAI_API_KEY", "openai legacy key", r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b", 0.95),
    ("AWS_ACCESS_KEY", "aws access key id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b", 0.9),
    (
        "PRIVATE_KEY",
        "pem private key",
        r"-----BEGIN[ A-Z0-9]{0,40} PRIVATE KEY(?: BLOCK)?-----.*?"
        r"-----END[ A-Z0-9]{0,40} PRIVATE KEY(?: BLOCK)?-----",
        1.0,
    ),
    ("JWT", "json web token", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", 0.95),
    ("BEARER_TOKEN", "bearer token", r"(?<=\b[Bb]earer\s{1,4})[A-Za-z0-9\-._~+/]{16,}=*", 0.85),
)
