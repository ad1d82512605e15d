"""Prompt validation: schema, limits, least-privilege allow-lists and injection scoring over canonical text.

- `PromptValidator` is framework-free: ``validate(body, profile=...)`` returns a `ValidationResult` or raises
  a ``GuardError`` (400 ``SchemaError`` naming the field path, 400 ``PromptBlockedError`` naming the rule id,
  403 ``PermissionDeniedError`` naming the model or tool); ``validate_async`` also runs the user's detectors.
- Findings come from pattern rules (``_rules``), per-language intent lexicons (``_lexicon``, data files in
  ``lexicons/``), role markup and URLs (``_structure``) and user detectors, over the prompt and every layer
  the decoders (``_decoders``) reveal; they are scored and combined (``_scoring``).
- `PromptValidationMiddleware` is its ASGI face; `validate_route_body` is what the `validated_messages()`
  route dependencies of `claude_guard.fastapi` and `claude_guard.litestar` call.
- `validate_task_description` keeps the checklist's behaviour for task-style routes.

See docs/validation.md.
"""

from __future__ import annotations

# The errors live in ``claude_guard.errors`` (and the top level); these imports keep the old paths working.
from ..errors import PromptBlockedError as PromptBlockedError
from ..errors import UnsafePatternError as UnsafePatternError
from ._canonical import Canonical, strip_invisible
from ._config import DetectorRule, ScoringDetector, ValidationConfig, ValidationResult
from ._lexicon import available_languages
from ._middleware import DEFAULT_ROUTES, PromptValidationMiddleware
from ._rules import Rule, RuleMode, pattern_cost
from ._validator import PromptValidator, validate_task_description

__all__ = [
    "DEFAULT_ROUTES",
    "Canonical",
    "DetectorRule",
    "PromptValidationMiddleware",
    "PromptValidator",
    "Rule",
    "RuleMode",
    "ScoringDetector",
    "ValidationConfig",
    "ValidationResult",
    "available_languages",
    "pattern_cost",
    "strip_invisible",
    "validate_task_description",
]
