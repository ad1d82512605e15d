"""PII redaction with Presidio: structure-aware, reversible, streaming-safe, and off the event loop.

- `PIIEngine`: Presidio built offline (a blank spaCy pipeline with lemmas, or an installed NER model), in a
  bounded pool of its own with a time budget and a fail-closed or fail-open policy.
- `Redactor`: one analysis of a Messages request's joined text; operators per entity (``placeholder``,
  ``mask``, ``redact``, ``hash``, ``block``); the principal-scoped vault in the store.
- `PIIRedactionMiddleware` (ingress; `redact_route_body` for the `pii_redaction` route dependencies of
  `claude_guard.fastapi` and `claude_guard.litestar`), `PIIEgressHook` (the SDK path).
- `StreamRestorer`: placeholders restored in text split anywhere, with a hold-back shorter than a placeholder.
- `OutputScanner`, `TextScanner`, `SSEOutputScanner`: optional scanning of the model's output for PII it wrote
  itself (``PIIConfig.output_scan``), reported or redacted, with a bounded hold-back on streams.
"""

from __future__ import annotations

# The errors live in ``claude_guard.errors`` (and the top level); these imports keep the old paths working.
from ..errors import PIIBlockedError as PIIBlockedError
from ..errors import PIIUnavailableError as PIIUnavailableError
from ._config import NATIONAL_ID_ENTITIES, PIIConfig, PIIPattern
from ._egress import PIIEgressHook
from ._engine import PIIEngine
from ._middleware import PIIRedactionMiddleware
from ._redact import Redaction, Redactor
from ._restore import SSERestorer, StreamRestorer
from ._vault import PIIVault

__all__ = [
    "NATIONAL_ID_ENTITIES",
    "PIIConfig",
    "PIIEgressHook",
    "PIIEngine",
    "PIIPattern",
    "PIIRedactionMiddleware",
    "PIIVault",
    "Redaction",
    "Redactor",
    "SSERestorer",
    "StreamRestorer",
]
