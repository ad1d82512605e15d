"""``Redactor``: one analysis of a Messages request's joined text, operators per entity, the vault."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..context import GuardContext
from ..errors import ConfigurationError, PIIBlockedError, PIIUnavailableError
from ..messages import TextSegment, iter_text_segments, replace_text_segments
from ..messages._segments import adjacent_pairs, joined_text
from ..messages._walker import UnknownContent
from ..store import MemoryStore, Store
from ._config import PIIConfig
from ._engine import WINDOW, AnalysisUnavailableError, Finding, PIIEngine, merge_findings
from ._output import OutputScanner
from ._restore import PLACEHOLDER, SSERestorer, StreamRestorer, restore_message, restore_text, restore_value
from ._vault import PIIVault, VaultCipher

__all__ = ["Redaction", "Redactor"]

_SEPARATOR = "\n\n"


@dataclass(slots=True, eq=False, kw_only=True)
class Redaction:
    """The outcome of redacting one request: the body to send, and what is needed to restore the answer.

    Its ``repr`` shows entity counts only, never values.
    """

    body: Any
    """The request body to send upstream (the input itself when nothing changed)."""
    principal: str
    """Whose vault the placeholders belong to."""
    changed: bool = False
    """Whether the body differs from the input."""
    mapping: dict[str, str] = field(default_factory=dict)
    """Placeholder → original value, for every placeholder the model is shown in this request."""
    counts: dict[str, int] = field(default_factory=dict)
    """Detected spans per entity type."""
    skipped: str | None = None
    """Why analysis was skipped under the fail-open policy (``timeout``, ``overloaded``, ``failed``)."""

    def __repr__(self) -> str:
        return f"Redaction(principal={self.principal!r}, changed={self.changed}, counts={self.counts})"

    def restore_text(self, text: str) -> str:
        """``text`` with this request's placeholders replaced by their values."""
        return restore_text(text, self.mapping)

    def restore(self, value: Any) -> Any:
        """A JSON value (a parsed Messages response, a tool input...) with placeholders restored."""
        if isinstance(value, dict) and value.get("type") == "message":
            return restore_message(value, self.mapping)
        return restore_value(value, self.mapping)

    def stream_restorer(self, *, json_escaped: bool = False) -> StreamRestorer:
        """A `StreamRestorer` for text of the answer that arrives in pieces."""
        return StreamRestorer(self.mapping, json_escaped=json_escaped)

    def sse_restorer(self) -> SSERestorer:
        """An `SSERestorer` for the answer's Messages event stream."""
        return SSERestorer(self.mapping)


class Redactor:
    """Finds PII and secrets in a Messages request and replaces them, reversibly where configured.

    One `PIIEngine` and one vault serve every face (middleware, dependency, egress hook); share the instance.

    Example:
        >>> import asyncio
        >>> redactor = Redactor(config=PIIConfig(hmac_key="k", phone_regions=("US",)))
        >>> body = {"messages": [{"role": "user", "content": "mail ada@example.com"}]}
        >>> result = asyncio.run(redactor.redact(body, principal="key_1"))
        >>> result.body["messages"][0]["content"]
        'mail <EMAIL_ADDRESS_d49fa5a118>'
        >>> result.restore_text("sent to <EMAIL_ADDRESS_d49fa5a118>")
        'sent to ada@example.com'
        >>> redactor.close()
    """

    def __init__(
        self,
        engine: PIIEngine | None = None,
        *,
        config: PIIConfig | None = None,
        store: Store | None = None,
        hmac_key: bytes | str | None = None,
        unknown_content: UnknownContent = "scan",
        cipher: VaultCipher | None = None,
    ) -> None:
        """``hmac_key`` overrides the config's, so one engine can serve redactors with different keys.
        ``unknown_content="forward"`` leaves content the request shape table does not know unread;
        ``cipher`` encrypts the vault's values."""
        self.unknown_content: UnknownContent = unknown_content
        if engine is not None and config is not None and engine.config is not config:
            raise ConfigurationError("pass either engine= or config=, not both")
        self.engine = engine if engine is not None else PIIEngine(config)
        self.config = self.engine.config
        key = hmac_key if hmac_key is not None else self.config.hmac_key
        if key is None:
            key = secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else bytes(key)
        self.vault = PIIVault(
            store if store is not None else MemoryStore(),
            ttl=self.config.vault_ttl,
            max_entries=self.config.vault_max_entries,
            cipher=cipher,
        )

    def __repr__(self) -> str:
        return f"Redactor(engine={self.engine!r}, store={self.vault.store!r})"

    def close(self) -> None:
        self.engine.close()

    def placeholder(self, principal: str, entity: str, value: str) -> str:
        """A value's placeholder: stable for one principal and value, different across principals."""
        digest = hmac.digest(self._key, f"{principal}\0{value}".encode(), "sha256")
        return f"<{entity}_{digest[:5].hex()}>"

    def _hash(self, entity: str, value: str) -> str:
        digest = hmac.new(self._key, f"hash\0{value}".encode(), hashlib.sha256).hexdigest()
        return f"<{entity}:{digest[:16]}>"

    def _mask(self, value: str) -> str:
        keep = self.config.mask_keep if len(value) > 2 * self.config.mask_keep else 0
        return self.config.mask_char * (len(value) - keep) + (value[len(value) - keep :] if keep else "")

    async def redact(
        self, body: Any, *, principal: str, ctx: GuardContext | None = None, shadow: bool = False
    ) -> Redaction:
        """Redact every text segment of a Messages request (every string the model reads and every URL, as
        ``iter_text_segments`` finds them) with one analysis of their joined text.

        Ids, signatures, thinking blocks, images and ``cache_control`` are never touched. Placeholders
        already in the text (a conversation resent) are kept and looked up in the vault, never redacted again.

        With ``shadow`` (``CLAUDE_GUARD_PII_MODE=shadow``) neither refusal happens: it is recorded as
        ``pii:would_refuse`` with its reason, blocked values are replaced by ``<ENTITY_TYPE>`` and an
        unavailable analysis lets the request pass unredacted, as ``on_failure="open"`` would.

        Raises:
            PIIBlockedError: an entity type with the ``block`` operator was found (400).
            PIIUnavailableError: analysis failed or ran out of time and the policy fails closed (503).
        """
        result = Redaction(body=body, principal=principal)
        if not isinstance(body, Mapping):
            return result
        # Every text and URL leaf of the request (the walker's classification); credentials
        # (mcp_servers[].authorization_token) are the caller's to send and are never read or logged here.
        segments = list(iter_text_segments(body, unknown=self.unknown_content))
        if not segments:
            return result
        joined, offsets = joined_text(segments, _SEPARATOR)
        pairs = adjacent_pairs(offsets)
        windows = [(offsets[i][1].text[-WINDOW:], offsets[i + 1][1].text[:WINDOW]) for i in pairs]
        try:
            if windows:
                # One time budget, and one hand-off to the pool, for the text and its block boundaries.
                findings, window_findings = await self.engine.analyze_with_windows(joined, windows)
            else:
                findings, window_findings = await self.engine.analyze(joined), []
        except AnalysisUnavailableError as exc:
            if ctx is not None:
                ctx.decide("pii", "unavailable", reason=exc.reason, policy=self.config.on_failure)
            if self.config.on_failure == "open" or shadow:
                if shadow and self.config.on_failure != "open" and ctx is not None:
                    ctx.decide("pii", "would_refuse", reason=f"pii_{exc.reason}")
                result.skipped = exc.reason
                return result
            raise PIIUnavailableError(code=f"pii_{exc.reason}") from None

        findings = [*findings, *_across(offsets, pairs, window_findings)]
        existing = {m.group(0) for m in PLACEHOLDER.finditer(joined)}
        starts = [start for start, _ in offsets]
        # Findings per segment, clipped to it; a finding that crosses a separator is split.
        spans: dict[int, list[Finding]] = {}
        for finding in merge_findings(findings):
            index = max(0, bisect_right(starts, finding.start) - 1)
            while index < len(offsets) and offsets[index][0] < finding.end:
                seg_start, segment = offsets[index]
                local_start = max(finding.start - seg_start, 0)
                local_end = min(finding.end - seg_start, len(segment.text))
                if local_end > local_start and not _inside_placeholder(segment.text, local_start, local_end):
                    spans.setdefault(index, []).append(finding._replace(start=local_start, end=local_end))
                index += 1
        counts = Counter(f.entity for found in spans.values() for f in found)
        blocked = sorted(e for e in counts if self.config.operator_for(e) == "block")
        if blocked and shadow:
            if ctx is not None:
                ctx.decide("pii", "would_refuse", reason="pii_blocked", categories=blocked)
        elif blocked:
            if ctx is not None:
                ctx.decide("pii", "blocked", entities=dict(counts))
            raise PIIBlockedError(
                "The request contains sensitive data that is not allowed: " + ", ".join(blocked) + ".",
                code="pii_blocked",
            )

        created: dict[str, str] = {}
        # Each value's placeholder, computed once (the replacement below reuses it).
        placeholders: dict[tuple[str, str], str] = {}
        for index, found in spans.items():
            text = offsets[index][1].text
            for f in found:
                if self.config.operator_for(f.entity) == "placeholder":
                    value = text[f.start : f.end]
                    key = (f.entity, value)
                    if key not in placeholders:
                        placeholders[key] = placeholder = self.placeholder(principal, f.entity, value)
                        created[placeholder] = value
        try:
            rejected = await self.vault.put(principal, created) if created else set()
            known = await self.vault.get_many(principal, existing - created.keys()) if existing else {}
        except Exception as exc:
            if ctx is not None:
                ctx.decide("pii", "unavailable", reason="vault", policy=self.config.on_failure)
            if self.config.on_failure == "open" and not spans:
                result.skipped = "vault"
                return result
            # In shadow too: a value that cannot be kept (or a vault that does not decrypt) is never
            # forwarded or restored from the wrong bytes.
            raise PIIUnavailableError(code="pii_vault") from exc

        replacements: dict[tuple[str | int, ...], str] = {}
        for index, found in spans.items():
            segment = offsets[index][1]
            parts: list[str] = []
            position = 0
            for f in found:
                value = segment.text[f.start : f.end]
                parts.append(segment.text[position : f.start])
                parts.append(self._replacement(principal, f.entity, value, rejected, placeholders))
                position = f.end
            parts.append(segment.text[position:])
            replacements[segment.path] = "".join(parts)

        result.counts = dict(counts)
        result.mapping = {**known, **{p: v for p, v in created.items() if p not in rejected}}
        if replacements:
            result.body = replace_text_segments(body, replacements)
            result.changed = True
        if ctx is not None and counts:
            ctx.decide("pii", "redacted", entities=dict(counts))
            if rejected:
                ctx.decide("pii", "vault_full", dropped=len(rejected))
        return result

    def _replacement(
        self,
        principal: str,
        entity: str,
        value: str,
        rejected: set[str],
        placeholders: Mapping[tuple[str, str], str],
    ) -> str:
        operator = self.config.operator_for(entity)
        if operator == "placeholder":
            placeholder = placeholders.get((entity, value)) or self.placeholder(principal, entity, value)
            return f"<{entity}>" if placeholder in rejected else placeholder
        if operator == "mask":
            return self._mask(value)
        if operator == "hash":
            return self._hash(entity, value)
        return f"<{entity}>"

    def output_scanner(self) -> OutputScanner | None:
        """A scanner for one response's output (``config.output_scan``), or ``None`` when it is off."""
        mode = self.config.output_scan
        return None if mode == "off" else OutputScanner(self.engine, mode=mode)

    async def scan_output(self, message: Any, *, ctx: GuardContext | None = None) -> Any:
        """A Messages response (parsed JSON) scanned for PII the model wrote itself, per
        ``config.output_scan``; call it before restoring placeholders. The decision goes to ``ctx``.

        Raises:
            PIIUnavailableError: analysis failed, output is redacted and the policy fails closed (503).
        """
        scanner = self.output_scanner()
        if scanner is None:
            return message
        try:
            return await scanner.scan_message(message)
        finally:
            scanner.record(ctx)

    async def restore_text(self, text: str, *, principal: str) -> str:
        """Restore placeholders in any text from the principal's vault (another request's answer, a log)."""
        found = {m.group(0) for m in PLACEHOLDER.finditer(text)}
        if not found:
            return text
        return restore_text(text, await self.vault.get_many(principal, found))


def _across(
    offsets: list[tuple[int, TextSegment]], pairs: list[int], window_findings: list[list[Finding]]
) -> list[Finding]:
    # Window findings that cross their block boundary, in joined-text coordinates (spanning the separator;
    # the caller clips them into each block).
    out = []
    for index, found in zip(pairs, window_findings, strict=True):
        a_start, a = offsets[index]
        b_start, _ = offsets[index + 1]
        tail = min(len(a.text), WINDOW)
        for f in found:
            if f.start < tail < f.end:
                start = a_start + len(a.text) - tail + f.start
                out.append(f._replace(start=start, end=b_start + f.end - tail))
    return out


def _inside_placeholder(text: str, start: int, end: int) -> bool:
    # A finding inside an existing placeholder (a resent conversation) is never redacted twice.
    window_start = max(0, start - 64)
    for match in PLACEHOLDER.finditer(text, window_start, min(len(text), end + 64)):
        if match.start() < end and start < match.end():
            return True
    return False
