"""The intent lexicons as data: one TOML file per language in ``validation/lexicons`` (``en.toml`` documents
the format), parsed and checked here; `LexiconMatcher` (``_lexicon``) reads them.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from ..errors import ConfigurationError

__all__ = ["INTENT_RULE_IDS", "Lexicon", "available_languages", "load_lexicon"]

INTENT_RULE_IDS: Final[Mapping[str, str]] = {
    "override": "override.instructions",
    "extraction": "override.reveal_prompt",
    "persona": "override.persona",
    "mode_switch": "override.mode_switch",
    "exfil": "exfil.instruction",
}
"""Lexicon section → the rule id its findings carry."""

_ROLES: Final = (
    "verbs",
    "objects",
    "strong_objects",
    "qualifiers",
    "weak_qualifiers",
    "complements",
    "standalone",
)
_CONTEXTS: Final = (
    "translation",
    "education",
    "technical",
    "negations",
    "modals",
    "addressees",
    "determiners",
    "models",
    "notices",
    "reported",
    "questions",
    "inversions",
    "perfects",
)
_NEAR_VERB: Final = frozenset(
    {"negations", "modals", "addressees", "determiners", "questions", "inversions", "perfects"}
)
"""Context kinds read next to a verb only (`_words`), never in the matcher's main pass."""


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's lexicon (a parsed ``lexicons/<language>.toml``)."""

    language: str
    name: str
    word_boundaries: bool
    window: int
    intents: Mapping[str, Mapping[str, tuple[str, ...]]]
    context: Mapping[str, tuple[str, ...]]


def available_languages() -> tuple[str, ...]:
    """The languages shipped in ``validation/lexicons`` (file stems), sorted."""
    folder = resources.files("claude_guard.validation").joinpath("lexicons")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigurationError(f"{where} must be a list of non-empty strings")
    return tuple(value)


@functools.cache
def load_lexicon(language: str) -> Lexicon:
    """Parse ``lexicons/<language>.toml`` (raises ``ValueError`` naming what is wrong)."""
    path = resources.files("claude_guard.validation").joinpath("lexicons", f"{language}.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    intents: dict[str, dict[str, tuple[str, ...]]] = {}
    for section in INTENT_RULE_IDS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigurationError(f"{language}: [{section}] must be a table")
        unknown = set(table) - set(_ROLES)
        if unknown:
            raise ConfigurationError(f"{language}: [{section}] has unknown keys {sorted(unknown)}")
        intents[section] = {
            role: _strings(table.get(role, []), f"{language}.{section}.{role}") for role in _ROLES
        }
    context_table = data.get("context", {})
    context = {
        kind: _strings(context_table.get(kind, []), f"{language}.context.{kind}") for kind in _CONTEXTS
    }
    window = data.get("window", 40)
    if not isinstance(window, int) or not 4 <= window <= 200:
        raise ConfigurationError(f"{language}: window must be an integer from 4 to 200")
    return Lexicon(
        language=language,
        name=str(data.get("name", language)),
        word_boundaries=bool(data.get("word_boundaries", True)),
        window=window,
        intents=intents,
        context=context,
    )
