"""Prompt validation: schema, limits, least-privilege allow-lists and injection rules over canonical text.

- `PromptValidator` is framework-free: ``validate(body, profile=...)`` returns a `ValidationResult` or raises
  a ``GuardError`` (400 ``SchemaError`` naming the field path, 400 ``PromptBlockedError`` naming the rule id,
  403 ``PermissionDeniedError`` naming the model or tool).
- `PromptValidationMiddleware` and `validated_messages` are its ASGI and FastAPI faces.
- `validate_task_description` keeps the checklist's behaviour for task-style routes.

See docs/validation.md.
"""

from __future__ import annotations

from ._canonical import Canonical, canonicalize, strip_invisible
from ._middleware import DEFAULT_ROUTES, PromptValidationMiddleware, validate_route_body, validated_messages
from ._rules import DEFAULT_RULES, Rule, RuleMode, UnsafePatternError, pattern_cost
from ._validator import (
    INVISIBLE_RULE_ID,
    PromptBlockedError,
    PromptValidator,
    RuleHit,
    ValidationConfig,
    ValidationResult,
    WorkMeter,
    validate_task_description,
)

__all__ = [
    "DEFAULT_ROUTES",
    "DEFAULT_RULES",
    "INVISIBLE_RULE_ID",
    "Canonical",
    "PromptBlockedError",
    "PromptValidationMiddleware",
    "PromptValidator",
    "Rule",
    "RuleHit",
    "RuleMode",
    "UnsafePatternError",
    "ValidationConfig",
    "ValidationResult",
    "WorkMeter",
    "canonicalize",
    "pattern_cost",
    "strip_invisible",
    "validate_route_body",
    "validate_task_description",
    "validated_messages",
]
