"""Invisible characters removed before analysis, with the offset map back to the original text."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["INVISIBLE", "Canonical", "canonicalize"]

# Every Unicode format character (category Cf) plus variation selectors: none of them is visible, so a
# zero-width space inside an API key hides it from a pattern without changing what a human or a model reads.
INVISIBLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
    "]"
)


class Canonical:
    """A text without invisible characters, and where each of its characters sits in the original."""

    __slots__ = ("_keep", "text")

    def __init__(self, text: str, keep: Sequence[int] | None) -> None:
        self.text = text
        self._keep = keep

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the canonical span ``[start, end)``."""
        if self._keep is None or start >= end:
            return start, end
        return self._keep[start], self._keep[end - 1] + 1


def canonicalize(text: str, *, enabled: bool = True) -> Canonical:
    """Remove invisible characters from ``text``, keeping an offset map (identity when none are found).

    Example:
        >>> c = canonicalize("AK\\u200bIA")
        >>> c.text, c.span(0, 4)
        ('AKIA', (0, 5))
    """
    if not enabled or INVISIBLE.search(text) is None:
        return Canonical(text, None)
    keep = [i for i, ch in enumerate(text) if INVISIBLE.fullmatch(ch) is None]
    return Canonical("".join(text[i] for i in keep), keep)
