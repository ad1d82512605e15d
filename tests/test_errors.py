"""The GuardError tree: status, Anthropic error type and retry advice of each error, and its rendering."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from claude_guard import errors
from claude_guard.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    CostLimitExceededError,
    GuardError,
    InvalidJSONError,
    NotFoundError,
    PermissionDeniedError,
    PIIBlockedError,
    PIIUnavailableError,
    PromptBlockedError,
    PromptRejectedError,
    RateLimitedError,
    RequestTimeoutError,
    RequestTooLargeError,
    SchemaError,
    SecretSourceError,
    StoreUnavailableError,
    ToolCallRefusedError,
    UnknownModelError,
    UnsafePatternError,
    UnsupportedMediaTypeError,
    UpstreamError,
    UpstreamTimeoutError,
    ValidationUnavailableError,
    VaultDecryptionError,
)
from claude_guard.responses import ErrorResponse, render_error

# (class, status, Anthropic error type, should_retry)
TREE: list[tuple[type[GuardError], int, str, bool | None]] = [
    (GuardError, 500, "api_error", None),
    (ConfigurationError, 500, "api_error", None),
    (UnsafePatternError, 500, "api_error", None),
    (BadRequestError, 400, "invalid_request_error", False),
    (InvalidJSONError, 400, "invalid_request_error", False),
    (SchemaError, 400, "invalid_request_error", False),
    (PromptRejectedError, 400, "invalid_request_error", False),
    (PromptBlockedError, 400, "invalid_request_error", False),
    (PIIBlockedError, 400, "invalid_request_error", False),
    (UnknownModelError, 400, "invalid_request_error", False),
    (CostLimitExceededError, 400, "invalid_request_error", False),
    (AuthenticationError, 401, "authentication_error", False),
    (BudgetExceededError, 402, "billing_error", False),
    (PermissionDeniedError, 403, "permission_error", False),
    (ToolCallRefusedError, 403, "permission_error", False),
    (NotFoundError, 404, "not_found_error", False),
    (RequestTimeoutError, 408, "timeout_error", None),
    (RequestTooLargeError, 413, "request_too_large", False),
    (UnsupportedMediaTypeError, 415, "invalid_request_error", False),
    (RateLimitedError, 429, "rate_limit_error", True),
    (UpstreamError, 502, "api_error", True),
    (SecretSourceError, 502, "api_error", True),
    (StoreUnavailableError, 503, "api_error", True),
    (VaultDecryptionError, 503, "api_error", True),
    (PIIUnavailableError, 503, "api_error", True),
    (UpstreamTimeoutError, 504, "timeout_error", True),
    (ValidationUnavailableError, 503, "api_error", True),
]

# The one error whose ``code`` is fixed by its class: every secret-provider failure is ``secret_source``.
FIXED_CODE: dict[type[GuardError], str] = {SecretSourceError: "secret_source"}


def test_the_table_covers_every_public_error() -> None:
    public = {getattr(errors, name) for name in errors.__all__}
    assert public == {cls for cls, *_ in TREE}


@pytest.mark.parametrize(
    ("cls", "status", "error_type", "should_retry"), TREE, ids=[cls.__name__ for cls, *_ in TREE]
)
def test_each_error_knows_how_it_is_shown(
    cls: type[GuardError], status: int, error_type: str, should_retry: bool | None
) -> None:
    err = cls()
    assert isinstance(err, GuardError)
    assert (err.status, err.error_type, err.should_retry) == (status, error_type, should_retry)
    assert err.message == cls.default_message
    assert err.message
    assert str(err) == err.message
    assert err.headers == {}
    assert err.code == FIXED_CODE.get(cls)


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (InvalidJSONError, BadRequestError),
        (SchemaError, BadRequestError),
        (PromptRejectedError, BadRequestError),
        (CostLimitExceededError, BadRequestError),
    ],
    ids=lambda c: c.__name__,
)
def test_bad_request_family(cls: type[GuardError], parent: type[GuardError]) -> None:
    assert issubclass(cls, parent)


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (UnsafePatternError, ConfigurationError),
        (PromptBlockedError, PromptRejectedError),
        (PIIBlockedError, BadRequestError),
        (UnknownModelError, BadRequestError),
        (SecretSourceError, UpstreamError),
        (PIIUnavailableError, StoreUnavailableError),
    ],
    ids=lambda c: c.__name__,
)
def test_errors_moved_into_the_tree_keep_their_family(
    cls: type[GuardError], parent: type[GuardError]
) -> None:
    assert issubclass(cls, parent)


def test_configuration_errors_are_value_errors_too() -> None:
    # callers' ``except ValueError`` around a constructor keeps working
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(UnsafePatternError, ValueError)
    with pytest.raises(ValueError, match="bad setting"):
        raise ConfigurationError("bad setting")


def test_every_public_error_is_drawn_once_in_the_module_docstring() -> None:
    drawn = re.findall(r"^[ │├└─]*(\w+Error)\b", errors.__doc__ or "", re.MULTILINE)
    assert sorted(drawn) == sorted(errors.__all__)


def test_secret_source_error_logs_its_detail_and_shows_a_generic_message() -> None:
    err = SecretSourceError("Vault could not read secret 'kv/claude': 403")
    assert str(err) == "Vault could not read secret 'kv/claude': 403"
    assert err.message == SecretSourceError.default_message
    assert err.code == "secret_source"


def test_prompt_blocked_error_carries_its_hits() -> None:
    from claude_guard.validation import RuleMode
    from claude_guard.validation._config import RuleHit

    hit = RuleHit(
        rule_id="override.instructions",
        mode=RuleMode.BLOCK,
        layer="text",
        path=(),
        kind="message",
        start=0,
        end=3,
    )
    err = PromptBlockedError("Refused.", code="override.instructions", hits=[hit, hit], score=0.9)
    assert (err.code, err.hits, err.score, err.rule_ids) == (
        "override.instructions",
        (hit, hit),
        0.9,
        ["override.instructions"],
    )
    assert PromptBlockedError().hits == ()


@pytest.mark.parametrize(
    ("old_path", "name"),
    [
        ("claude_guard.pricing", "UnknownModelError"),
        ("claude_guard.secret_providers", "SecretSourceError"),
        ("claude_guard.pii", "PIIBlockedError"),
        ("claude_guard.pii", "PIIUnavailableError"),
        ("claude_guard.validation", "PromptBlockedError"),
        ("claude_guard.validation", "UnsafePatternError"),
    ],
)
def test_old_import_paths_still_work(old_path: str, name: str) -> None:
    import importlib

    assert getattr(importlib.import_module(old_path), name) is getattr(errors, name)


def test_message_code_headers_and_retry_override() -> None:
    err = UpstreamError("custom", code="upstream.refused", headers={"x-extra": "1"}, should_retry=False)
    assert (err.message, err.code, err.headers, err.should_retry) == (
        "custom",
        "upstream.refused",
        {"x-extra": "1"},
        False,
    )
    # the override is per instance: the class keeps its advice
    assert UpstreamError().should_retry is True
    # headers are copied, not shared with the caller's mapping or between instances
    given = {"a": "b"}
    err = GuardError(headers=given)
    err.headers["c"] = "d"
    assert given == {"a": "b"}
    assert GuardError().headers == {}


def test_repr_shows_status_and_code_never_the_message() -> None:
    err = PromptRejectedError("the prompt contained sk-ant-fake-canary", code="rule.secret")
    assert repr(err) == "PromptRejectedError(status=400, code='rule.secret')"
    assert "sk-ant" not in repr(err)


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0.01, "1"), (0.0, "1"), (1.0, "1"), (1.2, "2"), (2.5, "3"), (59.9, "60")],
)
def test_retry_after_rounds_up_and_is_at_least_one_second(retry_after: float, header: str) -> None:
    err = RateLimitedError(retry_after=retry_after)
    assert err.retry_after == retry_after
    assert err.headers["retry-after"] == header


def test_retry_after_absent_and_explicit_header_wins() -> None:
    assert "retry-after" not in RateLimitedError().headers
    err = RateLimitedError(retry_after=5, headers={"retry-after": "9"})
    assert err.headers["retry-after"] == "9"


# --- rendering ----------------------------------------------------------------------------------------


def _json(response: ErrorResponse) -> Any:
    return json.loads(response.body)


@pytest.mark.parametrize(
    ("cls", "status", "error_type", "should_retry"), TREE, ids=[cls.__name__ for cls, *_ in TREE]
)
def test_anthropic_envelope(
    cls: type[GuardError], status: int, error_type: str, should_retry: bool | None
) -> None:
    response = render_error(cls(), request_id="req_0123456789abcdef01234567")
    assert response.status == status
    expected_error = {"type": error_type, "message": cls.default_message}
    if cls in FIXED_CODE:
        expected_error["code"] = FIXED_CODE[cls]
    assert _json(response) == {
        "type": "error",
        "error": expected_error,
        "request_id": "req_0123456789abcdef01234567",
    }
    assert response.headers["request-id"] == "req_0123456789abcdef01234567"
    assert response.headers["content-type"] == "application/json"
    if should_retry is None:
        assert "x-should-retry" not in response.headers
    else:
        assert response.headers["x-should-retry"] == ("true" if should_retry else "false")


def test_envelope_carries_code_and_error_headers() -> None:
    err = RateLimitedError("Slow down.", retry_after=2.2, code="rpm", headers={"ratelimit": '"rpm";r=0;t=3'})
    response = render_error(err, request_id="req_1")
    assert response.status == 429
    assert _json(response)["error"] == {"type": "rate_limit_error", "message": "Slow down.", "code": "rpm"}
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-should-retry"] == "true"
    assert response.headers["ratelimit"] == '"rpm";r=0;t=3'


def test_budget_error_is_never_retried() -> None:
    response = render_error(BudgetExceededError(), request_id="req_2")
    assert (response.status, response.headers["x-should-retry"]) == (402, "false")
    assert _json(response)["error"]["type"] == "billing_error"


def test_problem_details() -> None:
    err = PermissionDeniedError("Model not allowed.", code="model")
    response = render_error(err, request_id="req_3", format="problem")
    assert response.status == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["request-id"] == "req_3"
    assert response.headers["x-should-retry"] == "false"
    assert _json(response) == {
        "type": "https://claude-guard.dev/errors/permission_error",
        "title": "permission error",
        "status": 403,
        "detail": "Model not allowed.",
        "request_id": "req_3",
        "code": "model",
    }


def test_problem_details_without_code_and_with_retry_after() -> None:
    response = render_error(RateLimitedError(retry_after=4), request_id="req_4", format="problem")
    body = _json(response)
    assert "code" not in body
    assert body["status"] == 429
    assert response.headers["retry-after"] == "4"


async def test_error_response_is_an_asgi_app() -> None:
    response = render_error(NotFoundError(), request_id="req_5")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("an error response reads nothing")

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await response({"type": "http"}, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 404
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(response.body)).encode()
    assert headers[b"request-id"] == b"req_5"
    assert sent[1] == {"type": "http.response.body", "body": response.body, "more_body": False}
