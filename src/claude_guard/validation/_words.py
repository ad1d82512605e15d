"""Where the words around a verb and its object change what a lexicon pair means: a complement after the
object, a negation or a third party's modal before the verb, a clause break between them; the lists are
each language's data (``[override] complements``, ``[context] negations``, ``modals``, ``addressees``).
"""

from __future__ import annotations

import bisect

__all__ = ["complemented", "crosses", "near", "negated", "stated"]


def complemented(text: str, end: int, complements: tuple[str, ...]) -> bool:
    """Whether a complement word follows the object ending at ``end`` ("instructions for the shelf")."""
    if not complements or text[end : end + 1] != " ":
        return False
    for word in complements:
        stop = end + 1 + len(word)
        if text.startswith(word, end + 1) and not text[stop : stop + 1].isalnum():
            return True
    return False


def negated(text: str, start: int, negations: tuple[str, ...]) -> bool:
    """Whether a negation word ends right before the verb starting at ``start`` ("may not disregard")."""
    if start < 2 or text[start - 1] != " ":
        return False
    before = text[max(0, start - 16) : start - 1]
    for word in negations:
        if before.endswith(word) and (len(before) == len(word) or not before[-len(word) - 1].isalnum()):
            return True
    return False


def stated(text: str, start: int, modals: tuple[str, ...], addressees: tuple[str, ...]) -> bool:
    """Whether a modal ends right before the verb at ``start`` after a word that is not an addressee
    ("the contractor shall disregard", not "you shall disregard")."""
    if start < 2 or text[start - 1] != " ":
        return False
    before = text[max(0, start - 40) : start - 1]
    for word in modals:
        if before.endswith(word) and (len(before) == len(word) or before[-len(word) - 1] == " "):
            subject = before[: -len(word) - 1].rsplit(" ", 1)[-1]
            return bool(subject) and subject.isalpha() and subject not in addressees
    return False


def crosses(breaks: list[int], first: int, last: int) -> bool:
    index = bisect.bisect_left(breaks, first)
    return index < len(breaks) and breaks[index] < last


def near(starts: list[int], low: int, high: int, taken: tuple[int, int]) -> bool:
    index = bisect.bisect_left(starts, low)
    while index < len(starts) and starts[index] <= high:
        if starts[index] not in taken:
            return True
        index += 1
    return False
