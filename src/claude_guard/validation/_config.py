"""Value objects of prompt validation: configuration, hits, the verdict, the refusal and the work meter."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, runtime_checkable

from ..errors import ConfigurationError, PromptRejectedError
from ..messages._walker import UNKNOWN_CONTENT_POLICIES, UnknownContent
from ._rules import CODE_RULE_IDS, DEFAULT_RULES, Rule, RuleMode

__all__ = [
    "BUILTIN_RULE_IDS",
    "INVISIBLE_RULE_ID",
    "MODE_ENV",
    "Detector",
    "DetectorRule",
    "FailurePolicy",
    "RuleHit",
    "ScoringDetector",
    "ValidationConfig",
    "ValidationMode",
    "ValidationResult",
    "WorkMeter",
]

INVISIBLE_RULE_ID: Final = "invisible.characters"
"""The built-in rule finding invisible characters (zero-width, bidi controls, tags); sanitize by default."""

BUILTIN_RULE_IDS: Final = frozenset(
    {
        INVISIBLE_RULE_ID,
        # Intents matched with the per-language lexicons.
        "override.instructions",
        "override.reveal_prompt",
        "override.persona",
        "override.mode_switch",
        "exfil.instruction",
        # Structure: role markup that starts a turn, URLs that carry data.
        "markers.role_tag",
        "markers.role_header",
        "markers.turns",
        "exfil.markdown_image",
        "exfil.html_resource",
        "exfil.url_placeholder",
    }
)
"""Ids of the rules built into the validator besides the pattern rules of ``DEFAULT_RULES``."""

MODE_ENV: Final = "CLAUDE_GUARD_VALIDATION_MODE"
"""The environment variable read by ``ValidationConfig.from_env`` and ``GuardSettings.from_env``."""

ValidationMode = Literal["enforce", "shadow", "off"]
"""``enforce`` refuses; ``shadow`` decides, records ``would_refuse`` and forwards; ``off`` skips it all."""
FailurePolicy = Literal["closed", "open"]
"""What a timed-out or failing detector does: ``closed`` refuses (503), ``open`` lets the request go on."""


@runtime_checkable
class ScoringDetector(Protocol):
    """A detector of one's own: an object with an async ``score(text)`` returning a risk in ``[0, 1]``."""

    def score(self, text: str) -> Awaitable[float]: ...


Detector = ScoringDetector | Callable[[str], float | Awaitable[float]]
"""A `ScoringDetector`, or a function (plain or async) from text to a risk score in ``[0, 1]``."""

_RULE_ID: Final = re.compile(r"[a-z0-9_.\-]{1,64}")


def _detector_name(detector: object) -> str:
    name = getattr(detector, "id", None) or getattr(detector, "__name__", None) or type(detector).__name__
    cleaned = re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_") or "custom"
    return f"detector.{cleaned}"[:64]


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorRule:
    """A user's detector, with the rule id, threshold and mode its scores are judged by.

    Example:
        >>> rule = DetectorRule(id="acme.classifier", detector=lambda text: 0.0)
        >>> rule.threshold, rule.mode
        (0.5, <RuleMode.BLOCK: 'block'>)
    """

    id: str
    """Rule id shown in refusals and audit records."""
    detector: Detector
    """The detector: an object with an async ``score(text)``, or a plain or async function."""
    threshold: float = 0.5
    """Scores at or above it are hits (reported with the detector's score)."""
    mode: RuleMode = RuleMode.BLOCK
    """What a hit does; ``ValidationConfig.modes`` may override it."""

    def __post_init__(self) -> None:
        if not _RULE_ID.fullmatch(self.id):
            raise ConfigurationError("a detector id is 1-64 characters of a-z, 0-9, '_', '.' and '-'")
        if not 0 < self.threshold <= 1:
            raise ConfigurationError("a detector threshold is in (0, 1]")
        if not (isinstance(self.detector, ScoringDetector) or callable(self.detector)):
            raise ConfigurationError(
                f"detector {self.id}: give a callable or an object with an async score(text)"
            )

    async def run(self, text: str) -> float:
        """The detector's score for ``text``, awaited if need be, clamped to ``[0, 1]``."""
        detector = self.detector
        scorer: Callable[[str], Any] = detector.score if isinstance(detector, ScoringDetector) else detector
        value = scorer(text)
        if inspect.isawaitable(value):
            value = await value
        score = float(value)
        if score != score:  # NaN: a broken detector, not a verdict
            raise ConfigurationError("the detector returned NaN")
        return min(1.0, max(0.0, score))


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationConfig:
    """What prompt validation enforces on one route or for one profile.

    Example:
        >>> config = ValidationConfig(max_tokens_cap=4096, modes={"markers.turns": RuleMode.FLAG})
        >>> config.mode_for("markers.turns")
        <RuleMode.FLAG: 'flag'>
        >>> ValidationConfig.from_env({"CLAUDE_GUARD_VALIDATION_MODE": "shadow"}).mode
        'shadow'
    """

    mode: ValidationMode = "enforce"
    """``enforce`` refuses; ``shadow`` decides, records ``ctx.decide("validation", "would_refuse", …)`` in
    the audit record and span, and forwards anyway; ``off`` does not validate. Schema errors refuse in every
    mode but ``off`` (the other protections need a well-formed body)."""
    max_prompt_chars: int | None = 500_000
    """Most characters of prompt text (every segment the model reads, joined); ``None`` for no limit."""
    max_prompt_tokens: int | None = None
    """Most estimated prompt tokens (one per four characters, rounded up); ``None`` for no limit."""
    max_messages: int | None = 1_000
    """Most entries in ``messages``; ``None`` for no limit."""
    max_tokens_cap: int | None = None
    """Largest ``max_tokens`` a request may ask for; ``None`` for no cap."""
    allow_stream: bool = True
    """Whether ``"stream": true`` is accepted."""
    check_schema: bool = True
    """Check required fields and types (400 naming the field path)."""
    enforce_profile: bool = True
    """Refuse (403) models and tools the principal's profile does not allow."""
    rules: tuple[Rule, ...] = DEFAULT_RULES
    """The pattern rules (see ``DEFAULT_RULES``); the built-in intent and structure rules always run."""
    custom_rules: tuple[Rule, ...] = ()
    """Extra rules (a pattern or a callable with an id) run after ``rules``."""
    modes: Mapping[str, RuleMode] = field(default_factory=dict)
    """Mode per rule id, overriding the rule's own (e.g. ``{"markers.turns": RuleMode.FLAG}``)."""
    disabled_rules: frozenset[str] = frozenset()
    """Rule ids that do not run."""
    invisible_mode: RuleMode = RuleMode.SANITIZE
    """Mode of the built-in ``invisible.characters`` rule (``modes`` overrides it too)."""
    allow_code: bool = False
    """The route accepts code: the checklist's ``code.*`` rules (``eval(``, ``__import__``, ``os.system``)
    do not run."""
    decode_depth: int = 2
    """How many layers of encoding (base64, hex, percent, entities, escapes, ROT13, reversal, leetspeak,
    spaced letters, tag characters, bidi overrides, zero-width separators) are decoded and rescanned
    (0 turns decoding off)."""
    min_encoded_length: int = 16
    """Shortest encoded run worth decoding."""
    unknown_content: UnknownContent = "scan"
    """Content the request shape table does not know (a new block type or field): ``scan`` it like text,
    ``refuse`` the request (400, code ``unknown_content``), or ``forward`` it unread."""
    block_threshold: float = 0.7
    """A request whose risk score (over its block-mode hits) reaches this is refused."""
    report_threshold: float = 0.35
    """Findings scoring below this are not hits at all (not recorded, not refused)."""
    languages: tuple[str, ...] | None = None
    """Lexicon languages to match (file stems of ``validation/lexicons``); ``None`` for all of them."""
    detectors: tuple[DetectorRule | Detector, ...] = ()
    """Detectors of one's own, run on the same canonical texts as the rules (the prompt and each decoded
    layer) after them; a bare callable or scorer gets the id ``detector.<its name>``."""
    inline_chars: int = 16_384
    """A prompt of at most this many characters is scanned on the event loop by the async path (the
    middleware's, the FastAPI dependency's); a longer one on a worker thread (``asyncio.to_thread``), so
    that one long prompt (up to ``max_prompt_chars``: ~1 ms per KB for encoded text) does not hold up every
    other request. ``0`` sends every prompt to a thread. `PromptValidator.validate` always scans where it
    is called."""
    timeout: float = 1.0
    """Seconds the detectors of one request may take in all."""
    on_failure: FailurePolicy = "open"
    """A detector that times out or raises: ``open`` goes on without its score (the decision says so),
    ``closed`` refuses the request with a 503."""

    def __post_init__(self) -> None:
        if self.unknown_content not in UNKNOWN_CONTENT_POLICIES:
            raise ConfigurationError("unknown_content must be scan, refuse or forward")
        if self.mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError("mode must be 'enforce', 'shadow' or 'off'")
        if self.on_failure not in ("open", "closed"):
            raise ConfigurationError("on_failure must be 'open' or 'closed'")
        for name in ("max_prompt_chars", "max_prompt_tokens", "max_messages", "max_tokens_cap"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be positive or None")
        if not 0 <= self.decode_depth <= 8:
            raise ConfigurationError("decode_depth must be between 0 and 8")
        if self.min_encoded_length < 8:
            raise ConfigurationError("min_encoded_length must be at least 8")
        if not 0 < self.report_threshold <= self.block_threshold <= 1:
            raise ConfigurationError("thresholds must satisfy 0 < report_threshold <= block_threshold <= 1")
        if not self.timeout > 0:
            raise ConfigurationError("timeout must be positive")
        if self.inline_chars < 0:
            raise ConfigurationError("inline_chars must not be negative")
        ids = [rule.id for rule in (*self.rules, *self.custom_rules)]
        ids += [rule.id for rule in self.detector_rules()]
        if len(ids) != len(set(ids)) or BUILTIN_RULE_IDS & set(ids):
            raise ConfigurationError("rule ids must be unique (and the built-in ids are taken)")
        if self.languages is not None:
            from ._lexicon import available_languages

            unknown = set(self.languages) - set(available_languages())
            if unknown:
                raise ConfigurationError(f"no lexicon for language(s): {', '.join(sorted(unknown))}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ValidationConfig:
        """A config whose ``mode`` comes from ``CLAUDE_GUARD_VALIDATION_MODE`` (default ``enforce``)."""
        env = os.environ if environ is None else environ
        mode = env.get(MODE_ENV, "").strip().lower() or "enforce"
        if mode not in ("enforce", "shadow", "off"):
            raise ConfigurationError(f"{MODE_ENV} must be enforce, shadow or off")
        return cls(mode=mode, **overrides)  # type: ignore[arg-type]

    def mode_for(self, rule_id: str, default: RuleMode = RuleMode.BLOCK) -> RuleMode:
        """The mode of ``rule_id`` under this configuration."""
        return RuleMode(self.modes.get(rule_id, default))

    def active_rules(self) -> tuple[Rule, ...]:
        """The pattern rules that run, in order."""
        return tuple(
            rule
            for rule in (*self.rules, *self.custom_rules)
            if rule.id not in self.disabled_rules and not (self.allow_code and rule.id in CODE_RULE_IDS)
        )

    def detector_rules(self) -> tuple[DetectorRule, ...]:
        """``detectors``, each as a `DetectorRule`."""
        return tuple(
            item if isinstance(item, DetectorRule) else DetectorRule(id=_detector_name(item), detector=item)
            for item in self.detectors
        )


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that matched. Carries where and why, never what: no text of the prompt.

    Attributes:
        rule_id: The rule's id.
        mode: The mode it ran in.
        layer: ``"text"``, or the decoding chain that revealed it, e.g. ``"base64"`` or ``"base64>rot13"``.
        path: JSON path of the segment where the match (or the encoded run) starts.
        kind: That segment's channel (``system``, ``message``, ``tool_result``…).
        start: Offset of the match in that segment's original text.
        end: End offset in the segment where the match starts (clamped to it).
        score: The finding's risk in ``[0, 1]`` after context adjustments.
        reasons: Why, as labels (``"verb+object+qualifier"``, ``"lang:fr"``, ``"context:code×0.5"``).
    """

    rule_id: str
    mode: RuleMode
    layer: str
    path: tuple[str | int, ...]
    kind: str
    start: int
    end: int
    score: float = 1.0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdict on a request that was not refused.

    Attributes:
        hits: Every rule hit, in scan order (flagged and sanitized ones; blocked ones raise instead).
        body: The body to forward: the sanitized copy when a sanitize rule changed it, else the input.
        sanitized: Whether ``body`` differs from the input.
        score: The request's risk score in ``[0, 1]`` (over block-mode hits).
        would_refuse: In shadow mode, the refusal that was not enforced (else ``None``).
        detector_failures: Ids of detectors that timed out or failed (fail-open).
    """

    hits: tuple[RuleHit, ...]
    body: Mapping[str, Any]
    sanitized: bool
    score: float = 0.0
    would_refuse: PromptRejectedError | None = None
    detector_failures: tuple[str, ...] = ()

    @property
    def rule_ids(self) -> list[str]:
        """Distinct rule ids hit, in order."""
        return list(dict.fromkeys(hit.rule_id for hit in self.hits))

    @property
    def outcome(self) -> str:
        """``"pass"``, ``"flagged"``, ``"sanitized"`` or ``"would_refuse"`` (the audit decision's outcome)."""
        if self.would_refuse is not None:
            return "would_refuse"
        if self.sanitized:
            return "sanitized"
        return "flagged" if self.hits else "pass"


@dataclass(slots=True)
class WorkMeter:
    """Counts the work of one validation, to prove it linear without timing it.

    Attributes:
        regex_calls: Regular-expression searches per rule id (and per ``decode.*`` / ``lexicon.*`` finder).
        chars_scanned: Characters handed to those searches, per id.
        canonicalized_chars: Characters canonicalized (every layer).
        decoded_chars: Characters produced by decoding.
        layers: Texts scanned by every rule (the joined prompt plus each decoded run).
        word_layers: Readings scanned by the lexicon only (leetspeak).
        lexicon_matches: Lexicon entries found by the multi-pattern automaton (every layer).
        window_steps: Candidate pairs examined by the proximity windows.
    """

    regex_calls: dict[str, int] = field(default_factory=dict)
    chars_scanned: dict[str, int] = field(default_factory=dict)
    canonicalized_chars: int = 0
    decoded_chars: int = 0
    layers: int = 0
    word_layers: int = 0
    lexicon_matches: int = 0
    window_steps: int = 0

    def scan(self, name: str, length: int) -> None:
        self.regex_calls[name] = self.regex_calls.get(name, 0) + 1
        self.chars_scanned[name] = self.chars_scanned.get(name, 0) + length
