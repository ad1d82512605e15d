"""A curated confusables table: characters that look like Latin letters, mapped to those letters.

Scope (deliberately small, reviewed by hand, no network): the lower-case forms (the canonicalizer casefolds
before the lookup, except for the capitals listed at the end, which are looked up first) of

- Cyrillic letters that look like Latin ones (``а е о р с у х і ј ѕ ԁ ԛ ԝ ҽ ӏ``…), including the
  upper-case-only look-alikes whose lower-case form differs in shape (``Н``→``н``→h, ``В``→``в``→b, ``М``,
  ``Т``, ``К``);
- Greek letters that look like Latin ones (``α ο ρ ν ι κ τ υ χ``…);
- Armenian and Cherokee letters commonly used as homoglyphs (``օ ս ց``, ``Ꭺ``…);
- Latin small capitals and IPA letters (``ɪ ɢ ɴ ᴏ ʀ ᴇ``…), which NFKC leaves alone;
- a few punctuation look-alikes that matter to the rules (fraction slash, modifier colon, one-dot leader).

Mathematical alphanumerics, fullwidth forms, circled and parenthesised letters and ligatures need no entry:
NFKC already maps them to ASCII before this table is consulted. Digits are never mapped (``0``/``o``,
``1``/``l``): base64 and hex detection and ordinary numbers depend on them. The full Unicode confusables data
(UTS #39) maps thousands more characters; add entries here when a corpus case needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONFUSABLES"]

_PAIRS: Final = (
    # Cyrillic (lower-case forms).
    ("а", "a"), ("в", "b"), ("с", "c"), ("ԁ", "d"), ("е", "e"), ("ё", "e"), ("ҽ", "e"), ("һ", "h"),
    ("н", "h"), ("і", "i"), ("ї", "i"), ("ј", "j"), ("к", "k"), ("ӏ", "l"), ("м", "m"), ("п", "n"),
    ("о", "o"), ("р", "p"), ("ԛ", "q"), ("г", "r"), ("ѕ", "s"), ("т", "t"), ("ц", "u"), ("у", "y"),
    ("ѵ", "v"), ("ԝ", "w"), ("х", "x"), ("ү", "y"), ("ӡ", "z"), ("ɡ", "g"), ("ԍ", "g"), ("ѡ", "w"),
    # Greek (lower-case forms).
    ("α", "a"), ("β", "b"), ("ε", "e"), ("η", "n"), ("ι", "i"), ("κ", "k"), ("ν", "v"), ("ο", "o"),
    ("ρ", "p"), ("τ", "t"), ("υ", "u"), ("χ", "x"), ("γ", "y"), ("ζ", "z"), ("ω", "w"), ("μ", "u"),
    ("ϲ", "c"), ("ϳ", "j"), ("ς", "s"),
    # Armenian and Cherokee.
    ("օ", "o"), ("ս", "u"), ("ց", "g"), ("հ", "h"), ("ո", "n"), ("ք", "p"), ("զ", "q"),
    ("ꭺ", "a"), ("ꮯ", "c"), ("ꭼ", "e"), ("ꮋ", "h"), ("ꭵ", "i"), ("ꮃ", "w"), ("ꮪ", "s"), ("ꮓ", "z"),
    # Latin small capitals and IPA letters.
    ("ᴀ", "a"), ("ʙ", "b"), ("ᴄ", "c"), ("ᴅ", "d"), ("ᴇ", "e"), ("ꜰ", "f"), ("ɢ", "g"), ("ʜ", "h"),
    ("ɪ", "i"), ("ᴊ", "j"), ("ᴋ", "k"), ("ʟ", "l"), ("ᴍ", "m"), ("ɴ", "n"), ("ᴏ", "o"), ("ᴘ", "p"),
    ("ʀ", "r"), ("ꜱ", "s"), ("ᴛ", "t"), ("ᴜ", "u"), ("ᴠ", "v"), ("ᴡ", "w"), ("ʏ", "y"), ("ᴢ", "z"),
    ("ı", "i"), ("ȷ", "j"), ("ɑ", "a"), ("ɩ", "i"), ("ɵ", "o"), ("ʋ", "u"),
    # Capitals whose lower-case form looks different (looked up before casefolding).
    ("Α", "a"), ("Β", "b"), ("Ε", "e"), ("Ζ", "z"), ("Η", "h"), ("Ι", "i"), ("Κ", "k"), ("Μ", "m"),
    ("Ν", "n"), ("Ο", "o"), ("Ρ", "p"), ("Τ", "t"), ("Υ", "y"), ("Χ", "x"),
    ("А", "a"), ("В", "b"), ("Е", "e"), ("Н", "h"), ("І", "i"), ("Ј", "j"), ("К", "k"), ("М", "m"),
    ("О", "o"), ("Р", "p"), ("С", "c"), ("Ѕ", "s"), ("Т", "t"), ("У", "y"), ("Х", "x"),
    # Punctuation that the rules read.
    ("⁄", "/"), ("∕", "/"), ("꞉", ":"), ("∶", ":"), ("․", "."), ("‚", ","), ("ǀ", "|"), ("∣", "|"),
    ("‹", "<"), ("›", ">"), ("˂", "<"), ("˃", ">"), ("‐", "-"), ("‑", "-"), ("‒", "-"), ("–", "-"),
)  # fmt: skip

CONFUSABLES: Final[Mapping[str, str]] = dict(_PAIRS)
"""Look-alike character (as it is after NFKC and casefold) → the Latin/ASCII character it imitates."""
