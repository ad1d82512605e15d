"""The one exception tree of claude_guard.

Every error a guard raises while handling a request knows how it is shown to the caller: its HTTP status,
the Anthropic error type (so the official SDK raises its matching typed exception), and whether retrying
can help (sent as ``x-should-retry``). Messages are written for callers and never carry a secret, a prompt or
a detected PII value.

    GuardError                      500 api_error
    ├── ConfigurationError          start-up: a setting is missing or unsafe (also a ``ValueError``)
    │   └── UnsafePatternError      a validation rule's pattern could backtrack without a bound
    ├── BadRequestError             400 invalid_request_error
    │   ├── InvalidJSONError
    │   ├── SchemaError
    │   ├── PromptRejectedError     a validation rule refused the prompt (``code`` is the rule id)
    │   │   └── PromptBlockedError  the prompt's risk score reached the block threshold (with ``hits``)
    │   ├── PIIBlockedError         the request holds a PII entity type whose operator is ``block``
    │   ├── UnknownModelError       no price is known for the model, so it is refused, never free
    │   └── CostLimitExceededError
    ├── AuthenticationError         401 authentication_error
    ├── BudgetExceededError         402 billing_error (never retried)
    ├── PermissionDeniedError       403 permission_error
    │   └── ToolCallRefusedError    a tool call breaks its sandbox policy (``code`` is the rule id)
    ├── NotFoundError               404 not_found_error
    ├── RequestTimeoutError         408 timeout_error (the request body came too slowly)
    ├── RequestTooLargeError        413 request_too_large
    ├── UnsupportedMediaTypeError   415 invalid_request_error
    ├── RateLimitedError            429 rate_limit_error (with retry-after)
    ├── UpstreamError               502 api_error (the upstream failed in a way the caller cannot fix)
    │   └── SecretSourceError       502 (the upstream key could not be read from its secret provider)
    ├── StoreUnavailableError       503 api_error (the shared store is down and the policy fails closed)
    │   ├── VaultDecryptionError    503 (a PII vault value does not decrypt with the configured keys)
    │   └── PIIUnavailableError     503 (PII analysis timed out or failed and the policy fails closed)
    ├── ValidationUnavailableError  503 api_error (a prompt detector failed and validation fails closed)
    └── UpstreamTimeoutError        504 timeout_error

Every class here is also importable from the top level (``from claude_guard import RateLimitedError``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol


class _RuleHit(Protocol):
    """What a refusal keeps of a validation hit (``validation.RuleHit``): the core names no protection."""

    @property
    def rule_id(self) -> str: ...


__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "CostLimitExceededError",
    "GuardError",
    "InvalidJSONError",
    "NotFoundError",
    "PIIBlockedError",
    "PIIUnavailableError",
    "PermissionDeniedError",
    "PromptBlockedError",
    "PromptRejectedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "SchemaError",
    "SecretSourceError",
    "StoreUnavailableError",
    "ToolCallRefusedError",
    "UnknownModelError",
    "UnsafePatternError",
    "UnsupportedMediaTypeError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "ValidationUnavailableError",
    "VaultDecryptionError",
]


class GuardError(Exception):
    """Base of every claude_guard error.

    Attributes:
        status: HTTP status shown to the caller.
        error_type: Anthropic error type used in the envelope.
        should_retry: whether a retry can help; ``None`` leaves it to the client.
        message: text safe to show to the caller.
        headers: extra response headers (``retry-after`` and the like).
        code: a stable machine-readable id of the cause (a rule id, a limit name), or ``None``.

    Example:
        >>> err = RateLimitedError("Too many requests.", retry_after=2.5)
        >>> (err.status, err.error_type, err.headers["retry-after"])
        (429, 'rate_limit_error', '3')
    """

    status: int = 500
    error_type: str = "api_error"
    should_retry: bool | None = None
    default_message: str = "An internal error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        should_retry: bool | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        if should_retry is not None:
            self.should_retry = should_retry
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class ConfigurationError(GuardError, ValueError):
    """A setting is missing, malformed or unsafe; raised at start-up, never while serving. A ``ValueError``
    too, so callers' ``except ValueError`` keeps working."""

    default_message = "claude_guard is misconfigured."


class UnsafePatternError(ConfigurationError):
    """A validation rule's pattern could backtrack without a bound; the message says which construct."""

    default_message = "A rule pattern could backtrack without a bound."


class BadRequestError(GuardError):
    status = 400
    error_type = "invalid_request_error"
    should_retry = False
    default_message = "The request is invalid."


class InvalidJSONError(BadRequestError):
    default_message = "The request body is not valid JSON."


class SchemaError(BadRequestError):
    """A Messages request field is missing or has the wrong type; ``code`` holds the field path."""


class PromptRejectedError(BadRequestError):
    """A validation rule refused the prompt; ``code`` holds the rule id, the text is never echoed."""


class PromptBlockedError(PromptRejectedError):
    """The risk score reached the block threshold; ``code`` is the top rule id, ``hits`` all (no text)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        hits: Sequence[_RuleHit] = (),
        score: float = 1.0,
    ) -> None:
        super().__init__(message, code=code)
        self.hits = tuple(hits)
        self.score = score

    @property
    def rule_ids(self) -> list[str]:
        """Distinct rule ids hit, in order."""
        return list(dict.fromkeys(hit.rule_id for hit in self.hits))


class PIIBlockedError(BadRequestError):
    """The request holds an entity type whose operator is ``block``; the message names types, never values."""

    default_message = "The request contains sensitive data that is not allowed."


class UnknownModelError(BadRequestError):
    """No price is known for the model (and no fallback is configured): the request is refused, never free."""

    default_message = "No price is configured for this model."


class CostLimitExceededError(BadRequestError):
    """The worst-case cost of one request exceeds its maximum."""


class AuthenticationError(GuardError):
    status = 401
    error_type = "authentication_error"
    should_retry = False
    default_message = "Invalid or missing API key."


class BudgetExceededError(GuardError):
    status = 402
    error_type = "billing_error"
    should_retry = False
    default_message = "The budget for this period is spent."


class PermissionDeniedError(GuardError):
    status = 403
    error_type = "permission_error"
    should_retry = False
    default_message = "This key is not allowed to make this request."


class ToolCallRefusedError(PermissionDeniedError):
    """A ``tool_use`` (in the model's answer or replayed in a request) breaks its tool's sandbox policy;
    ``code`` holds the rule id, and the message names the tool, never its input."""

    default_message = "A tool call was refused by the sandbox policy."


class NotFoundError(GuardError):
    status = 404
    error_type = "not_found_error"
    should_retry = False
    default_message = "Not found."


class RequestTimeoutError(GuardError):
    status = 408
    error_type = "timeout_error"
    default_message = "The request body was not received in time."


class RequestTooLargeError(GuardError):
    status = 413
    error_type = "request_too_large"
    should_retry = False
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(GuardError):
    status = 415
    error_type = "invalid_request_error"
    should_retry = False
    default_message = "The request body must be application/json."


class RateLimitedError(GuardError):
    """A rate or concurrency limit is reached; ``retry_after`` comes from the real shortfall."""

    status = 429
    error_type = "rate_limit_error"
    should_retry = True
    default_message = "Rate limit exceeded."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, headers=headers)
        self.retry_after = retry_after
        if retry_after is not None:
            # Never earlier than the real shortfall: round up, and at least one second.
            self.headers.setdefault("retry-after", str(max(1, math.ceil(retry_after))))


class UpstreamError(GuardError):
    status = 502
    error_type = "api_error"
    should_retry = True
    default_message = "The upstream API could not be reached."


class SecretSourceError(UpstreamError):
    """A secret could not be read from its provider while serving.

    The caller sees a generic 502; ``str(exc)`` (what logs show) names the provider and the secret id, never
    the value, a token or a signature. ``code`` is always ``"secret_source"``.
    """

    default_message = "The gateway could not read its upstream credentials."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(code="secret_source")
        self.detail = detail if detail is not None else self.message

    def __str__(self) -> str:
        return self.detail


class StoreUnavailableError(GuardError):
    status = 503
    error_type = "api_error"
    should_retry = True
    default_message = "A protection is temporarily unavailable."


class VaultDecryptionError(StoreUnavailableError):
    """A PII vault value does not decrypt (a wrong or unknown key, a tampered or a plaintext value): the
    request fails closed with 503, never with a value restored from the wrong bytes."""

    default_message = "PII redaction is temporarily unavailable."


class PIIUnavailableError(StoreUnavailableError):
    """PII analysis did not finish in time or failed, and the policy fails closed (503)."""

    default_message = "PII redaction is temporarily unavailable."


class UpstreamTimeoutError(GuardError):
    status = 504
    error_type = "timeout_error"
    should_retry = True
    default_message = "The upstream API did not answer in time."


class ValidationUnavailableError(GuardError):
    """A prompt detector timed out or failed and prompt validation is configured to fail closed."""

    status = 503
    error_type = "api_error"
    should_retry = True
    default_message = "Prompt validation is temporarily unavailable."
