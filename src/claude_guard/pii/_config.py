"""``PIIConfig``: everything PII redaction reads from configuration, as one frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .._credentials import CREDENTIAL_ENTITIES
from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_ENTITIES",
    "NATIONAL_ID_ENTITIES",
    "NER_ENTITIES",
    "SECRET_ENTITIES",
    "FailurePolicy",
    "Operator",
    "OutputScan",
    "PIIConfig",
    "PIIPattern",
]

Operator = Literal["placeholder", "mask", "redact", "hash", "block"]
FailurePolicy = Literal["closed", "open"]
OutputScan = Literal["off", "report", "redact"]

SECRET_ENTITIES: tuple[str, ...] = CREDENTIAL_ENTITIES
"""Secrets pasted into prompts, found by the credential table (`claude_guard._credentials.CREDENTIALS`)."""

DEFAULT_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "UK_NHS",
    "IP_ADDRESS",
    "CRYPTO",
    *SECRET_ENTITIES,
)
"""Entities found by patterns alone (no NER model needed)."""

NATIONAL_ID_ENTITIES: tuple[str, ...] = (
    "AU_TFN",
    "AU_MEDICARE",
    "CA_SIN",
    "DE_ID_CARD",
    "DE_PASSPORT",
    "DE_SOCIAL_SECURITY",
    "DE_TAX_ID",
    "ES_NIE",
    "ES_NIF",
    "FI_PERSONAL_IDENTITY_CODE",
    "IN_AADHAAR",
    "IN_PAN",
    "IN_PASSPORT",
    "IN_VOTER",
    "IT_FISCAL_CODE",
    "IT_IDENTITY_CARD",
    "IT_PASSPORT",
    "KR_RRN",
    "NG_NIN",
    "PH_TIN",
    "PL_PESEL",
    "SE_PERSONNUMMER",
    "SG_NRIC_FIN",
    "TH_TNIN",
    "TR_NATIONAL_ID",
    "UK_NINO",
    "ZA_ID_NUMBER",
)
"""National identity numbers Presidio ships recognizers for; added by ``PIIConfig(national_ids=True)`` (or
listed one by one in ``entities``)."""

NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")
"""Entities that need a NER model (``PIIConfig.ner_model``); added to the defaults when a model is set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PIIPattern:
    """A custom pattern recognizer: a regular expression (Python ``regex`` syntax) for one entity type."""

    entity: str
    """The entity type it reports, e.g. ``"EMPLOYEE_ID"`` (upper case, digits and ``_``)."""
    regex: str
    """The pattern; its whole match is the detected span."""
    score: float = 0.8
    """Confidence given to a match (0 to 1)."""
    context: tuple[str, ...] = ()
    """Words that raise the score when they appear near a match."""
    case_sensitive: bool = True
    """Match case-sensitively (Presidio's own patterns ignore case)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PIIConfig:
    """How PII and secrets are found, replaced, kept and restored.

    Example:
        >>> config = PIIConfig(phone_regions=("US",), operators={"CREDIT_CARD": "block"})
        >>> config.operator_for("CREDIT_CARD"), config.operator_for("EMAIL_ADDRESS")
        ('block', 'placeholder')
    """

    entities: tuple[str, ...] | None = None
    """Entity types to find; ``None`` means `DEFAULT_ENTITIES` (plus PERSON and LOCATION with a NER model)
    and every custom pattern or deny-list entity."""
    score_threshold: float = 0.4
    """Lowest score kept, for entities without their own threshold (Presidio's phone matches score 0.4)."""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per-entity lowest scores, e.g. ``{"US_BANK_NUMBER": 0.6}``."""
    phone_regions: tuple[str, ...] = ("US", "GB")
    """Regions whose phone formats are parsed; each region costs time on every analysis."""
    language: str = "en"
    """Language of the analysis (the blank spaCy pipeline is built for it)."""
    ner_model: str | None = None
    """A spaCy model name or path for PERSON and LOCATION (e.g. ``"en_core_web_sm"``); ``None`` keeps the
    blank pipeline, with pattern recognizers only. Never downloaded: it must be installed."""
    patterns: tuple[PIIPattern, ...] = ()
    """Custom pattern recognizers."""
    deny_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Words always reported as an entity type, e.g. ``{"PROJECT": ("Bluebird",)}``."""
    allow_list: tuple[str, ...] = ()
    """Exact values never reported (a support address, the company's own phone number)."""
    operators: Mapping[str, Operator] = field(default_factory=dict)
    """Operator per entity type; others use `default_operator`."""
    default_operator: Operator = "placeholder"
    """``placeholder`` (reversible), ``mask``, ``redact``, ``hash`` (keyed, stable) or ``block`` (400)."""
    mask_char: str = "*"
    """Character used by the ``mask`` operator."""
    mask_keep: int = 4
    """Trailing characters the ``mask`` operator leaves visible."""
    hmac_key: bytes | str | None = field(default=None, repr=False)
    """Key for placeholders and the ``hash`` operator. Set it (the same on every replica) so placeholders
    stay stable across processes and restarts; ``None`` draws a random key per process."""
    strip_invisible: bool = True
    """Analyse the canonical copy: without zero-width, bidi, tag and variation-selector characters, with
    full-width forms, percent escapes and HTML character references decoded, so a secret written that way is
    still found (offsets are mapped back to the original, which is what the vault keeps)."""
    decode_base64: bool = True
    """Also analyse the decoded text of base64 runs (24 to 8192 characters, at most 32 per text); a run whose
    decoded text holds a secret or PII is replaced whole."""
    national_ids: bool = False
    """Add `NATIONAL_ID_ENTITIES` (Presidio's country-specific recognizers) to the default entities."""
    vault_ttl: float = 24 * 3600.0
    """Seconds a principal's placeholder vault lives after its last write."""
    vault_max_entries: int = 10_000
    """Most placeholders kept per principal; past it new values are redacted irreversibly."""
    executor: Literal["thread", "process"] = "process"
    """Where analysis that needs Presidio runs: a process pool (no GIL contention with the event loop; each
    worker builds its own engine at start-up; a dead worker's pool is replaced) or a thread pool (shares
    the GIL: a large analysis delays the event loop)."""
    workers: int = 2
    """Threads or processes in the analysis pool (a pool of claude_guard's own)."""
    inline_chars: int = 4096
    """A text of at most this many characters in which Presidio has nothing to find (the prefilter proves
    it) is analysed at once by claude_guard's own rows on the calling thread, without the pool's hand-off;
    ``0`` sends every text to the pool."""
    max_pending: int = 64
    """Analyses admitted at once (running or queued); past it a request gets the failure policy."""
    timeout: float = 2.0
    """Seconds one request's analysis may take, queueing included."""
    on_failure: FailurePolicy = "closed"
    """``closed``: a timed-out, overloaded or failed analysis refuses the request (503); ``open``: the
    request goes on unredacted and the decision says so."""
    output_scan: OutputScan = "off"
    """Scan what the model writes (text, tool input; JSON and streamed) for PII and secrets that were not
    placeholders of the request: ``report`` records their counts (``ctx.decide("pii", "output_found")``)
    and changes nothing; ``redact`` also replaces each with ``<ENTITY_TYPE>`` (irreversible, no vault
    entry) before the caller sees it."""
    output_hold: int = 128
    """Streamed output scanning: characters of each content block kept back behind the model so an entity
    is seen whole before it is released. Text is analysed in windows of about twice this, cut at whitespace;
    with ``redact``, the caller lags the model by ``output_hold`` to ``2 × output_hold`` characters plus one
    analysis (``8 × output_hold`` in a run without whitespace)."""

    def __post_init__(self) -> None:
        if self.workers <= 0 or self.max_pending <= 0:
            raise ConfigurationError("workers and max_pending must be positive")
        if self.inline_chars < 0:
            raise ConfigurationError("inline_chars must not be negative")
        if self.timeout <= 0 or self.vault_ttl <= 0 or self.vault_max_entries <= 0:
            raise ConfigurationError("timeout, vault_ttl and vault_max_entries must be positive")
        if self.executor not in ("thread", "process"):
            raise ConfigurationError("executor must be 'thread' or 'process'")
        if self.output_scan not in ("off", "report", "redact"):
            raise ConfigurationError("output_scan must be 'off', 'report' or 'redact'")
        if self.output_hold < 16:
            raise ConfigurationError("output_hold must be at least 16 characters")
        if not 0 <= self.score_threshold <= 1:
            raise ConfigurationError("score_threshold must be between 0 and 1")
        if len(self.mask_char) != 1 or self.mask_keep < 0:
            raise ConfigurationError("mask_char must be one character and mask_keep not negative")
        for name in self.resolved_entities():
            if not name or not all(c.isupper() or c.isdigit() or c == "_" for c in name):
                raise ConfigurationError(f"entity names are upper case, digits and _: {name!r}")

    def resolved_entities(self) -> tuple[str, ...]:
        """The entity types analysed."""
        if self.entities is not None:
            base = list(self.entities)
        else:
            base = list(DEFAULT_ENTITIES)
            if self.ner_model:
                base.extend(NER_ENTITIES)
            if self.national_ids:
                base.extend(e for e in NATIONAL_ID_ENTITIES if e not in base)
        for extra in (*(p.entity for p in self.patterns), *self.deny_lists):
            if extra not in base:
                base.append(extra)
        return tuple(base)

    def operator_for(self, entity: str) -> Operator:
        """The operator applied to an entity type."""
        return self.operators.get(entity, self.default_operator)

    def threshold_for(self, entity: str) -> float:
        """The lowest score kept for an entity type."""
        return self.thresholds.get(entity, self.score_threshold)
