"""The ASGI face of prompt validation, ``PromptValidationMiddleware``, and ``validate_route_body``, what the
``validated_messages()`` route dependencies of ``claude_guard.fastapi`` and ``claude_guard.litestar`` call.

Both run one ``PromptValidator`` (``validate_async``, so the user's detectors run too) and record
``ctx.decide("validation", …)`` with rule ids and scores only, never text. In shadow mode a request that
would have been refused goes on, recorded as ``ctx.decide("validation", "would_refuse", reason=<code>,
rule_ids=[...], score=...)`` and as a span event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from .._asgi import ASGIApp, Receive, Scope, Send, ensure_body, require_json, rewrite_body
from .._routes import RouteMap
from ..context import GuardContext
from ..errors import BadRequestError, GuardError, InvalidJSONError, PromptBlockedError
from ..middleware import GuardMiddleware
from ..responses import ErrorFormat
from ._config import ValidationConfig, ValidationResult
from ._validator import PromptValidator

__all__ = ["DEFAULT_ROUTES", "PromptValidationMiddleware", "validate_route_body"]

DEFAULT_ROUTES: Final = ("/v1/messages", "/v1/messages/count_tokens")
"""The Messages routes validated by default (route patterns: ``claude_guard._routes``)."""

_SPAN_EVENT: Final = "claude_guard.validation"


def _span_event(outcome: str, rule_ids: list[str], score: float) -> None:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - the otel extra is optional
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(
            _SPAN_EVENT,
            {
                "claude_guard.validation.outcome": outcome,
                "claude_guard.validation.rules": rule_ids,
                "claude_guard.validation.score": score,
            },
        )


def _record(
    ctx: GuardContext | None, outcome: str, rule_ids: list[str], score: float = 0.0, **detail: Any
) -> None:
    if ctx is not None:
        if outcome == "would_refuse":
            ctx.decide("validation", outcome, rule_ids=rule_ids, score=score, **detail)
        else:
            ctx.decide("validation", outcome, rules=rule_ids, **detail)
    if rule_ids or outcome == "would_refuse":
        _span_event(outcome, rule_ids, score)


async def _run(
    validator: PromptValidator, ctx: GuardContext | None, body: object, *, count_tokens: bool
) -> ValidationResult:
    if not isinstance(body, Mapping):
        _record(ctx, "refused", [], code="body")
        raise BadRequestError("The request body must be a JSON object.", code="body")
    try:
        result = await validator.validate_async(
            body, profile=ctx.profile if ctx else None, count_tokens=count_tokens
        )
    except PromptBlockedError as exc:
        _record(ctx, "blocked", exc.rule_ids)
        raise
    except GuardError as exc:
        _record(ctx, "refused", [], code=exc.code)
        raise
    detail: dict[str, Any] = {}
    if result.detector_failures:
        detail["detector_failures"] = list(result.detector_failures)
    if result.would_refuse is not None:
        _record(ctx, "would_refuse", result.rule_ids, result.score, reason=result.would_refuse.code, **detail)
    else:
        _record(ctx, result.outcome, result.rule_ids, result.score, **detail)
    return result


class PromptValidationMiddleware(GuardMiddleware):
    """Validates ``POST`` requests to Messages routes: schema, limits, allow-lists and rules.

    Configuration is chosen per request: the ``profiles`` entry for the principal's profile if there is
    one, else the config of the first ``routes`` pattern that matches the path (when ``routes`` is a
    mapping and its value is not ``None``), else ``config``. Put it after authentication (so
    ``ctx.profile`` is known) and before rate limits and metering (so a refused prompt costs nothing).

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarded = PromptValidationMiddleware(
        ...     app,
        ...     config=ValidationConfig(max_tokens_cap=4096),
        ...     routes={"/v1/messages": None, "/v1/messages/count_tokens": ValidationConfig()},
        ... )
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: ValidationConfig | None = None,
        routes: Iterable[str] | Mapping[str, ValidationConfig | None] = DEFAULT_ROUTES,
        profiles: Mapping[str, ValidationConfig] | None = None,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        self.validator = PromptValidator(config)
        if isinstance(routes, Mapping):
            self.routes: tuple[tuple[str, PromptValidator], ...] = tuple(
                (pattern, PromptValidator(route_config) if route_config is not None else self.validator)
                for pattern, route_config in routes.items()
            )
        else:
            self.routes = tuple((pattern, self.validator) for pattern in routes)
        self.profiles = {name: PromptValidator(c) for name, c in (profiles or {}).items()}
        self._routes = RouteMap(self.routes)

    def validator_for(self, path: str, profile_name: str | None) -> PromptValidator | None:
        """The validator for a request, or ``None`` when the path is not validated."""
        validator = self._routes.get(path)
        if validator is not None and profile_name is not None and profile_name in self.profiles:
            return self.profiles[profile_name]
        return validator

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        validator = None
        if ctx.method == "POST":
            validator = self.validator_for(ctx.path, ctx.profile.name if ctx.profile else None)
        if validator is None:
            await self.app(scope, receive, send)
            return
        require_json(scope)
        receive = await ensure_body(ctx, scope, receive)
        try:
            body = ctx.json()
        except InvalidJSONError as exc:
            _record(ctx, "refused", [], code=exc.code or "json")
            raise
        result = await _run(validator, ctx, body, count_tokens=ctx.path.endswith("/count_tokens"))
        if result.sanitized:
            scope = rewrite_body(ctx, scope, dict(result.body))
        await self.app(scope, receive, send)


async def validate_route_body(
    validator: PromptValidator, ctx: GuardContext | None, body: object, *, count_tokens: bool = False
) -> dict[str, Any]:
    """The framework-free part of the ``validated_messages()`` route dependencies: validate a route's parsed
    Messages body, record the decision on ``ctx``, keep a sanitized body on it, and return the body the route
    should use.

    Raises the validator's ``GuardError`` (400 naming the rule id or field, 403 naming the model or tool).

    Example:
        >>> import asyncio
        >>> ctx = GuardContext(method="POST", path="/chat")
        >>> body = {"model": "claude-haiku-4-5", "max_tokens": 8,
        ...         "messages": [{"role": "user", "content": "hi"}]}
        >>> asyncio.run(validate_route_body(PromptValidator(), ctx, body))["max_tokens"]
        8
        >>> [(d.protection, d.outcome) for d in ctx.decisions]
        [('validation', 'pass')]
    """
    result = await _run(validator, ctx, body, count_tokens=count_tokens)
    if result.sanitized and ctx is not None:
        ctx.set_json(dict(result.body))
    return dict(result.body)
