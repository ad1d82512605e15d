"""PII recognizers of claude_guard's own, rows of the same shape as the credential table
(`claude_guard._credentials.Credential`), for what Presidio's own recognizers miss:

- e-mail addresses on any syntactically valid domain (``.internal``, ``.local``, ``.corp``): Presidio
  validates the top-level domain against the public suffix list, so internal domains never match;
- card numbers of every current IIN range (Visa, Mastercard 51–55 and 2221–2720, Amex, Discover, Diners,
  JCB, UnionPay, Maestro, Mir, RuPay, Verve), 12 to 19 digits, Luhn-checked, with consistent separators;
- US social security numbers written without separators (or with spaces or dots) next to a context word.

They run on the canonical text (`claude_guard.pii._canonical`), so full-width digits, ``＠``, ``%40`` and
``&#64;`` are covered by the same rows.
"""

from __future__ import annotations

import re
from typing import Final

from .._credentials import CharClasses, Credential

__all__ = ["PII_PATTERNS", "card_brand", "luhn_valid"]

# Extensions that follow an "@" in file names ("icon@2x.png"), never top-level domains of mail.
_FILE_SUFFIXES: Final = frozenset(
    {
        *("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "js", "mjs", "ts", "tsx"),
        *("jsx", "css", "scss", "py", "rb", "go", "rs", "java", "kt", "json", "yaml", "yml", "toml", "txt"),
        *("md", "html", "htm", "xml", "csv", "lock", "map", "wasm"),
    }
)


def _email(value: str) -> bool:
    domain = value.rsplit("@", 1)[1].lower()
    return domain.rsplit(".", 1)[1] not in _FILE_SUFFIXES


def luhn_valid(number: str) -> bool:
    """Whether a digit string passes the Luhn check.

    Example:
        >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
        (True, False)
    """
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


# (first digits low, high, lengths, brand); the prefix of the number is compared as an integer of the
# same width as the bounds. Sources: the card networks' published IIN tables (ISO/IEC 7812 ranges).
_IIN_RANGES: Final[tuple[tuple[int, int, tuple[int, ...], str], ...]] = (
    (4, 4, (13, 16, 19), "visa"),
    (51, 55, (16,), "mastercard"),
    (2221, 2720, (16,), "mastercard"),
    (34, 34, (15,), "amex"),
    (37, 37, (15,), "amex"),
    (6011, 6011, (16, 17, 18, 19), "discover"),
    (644, 649, (16, 17, 18, 19), "discover"),
    (65, 65, (16, 17, 18, 19), "discover"),
    (622126, 622925, (16, 17, 18, 19), "discover"),
    (300, 305, (14, 15, 16, 17, 18, 19), "diners"),
    (36, 36, (14, 15, 16, 17, 18, 19), "diners"),
    (38, 39, (14, 15, 16, 17, 18, 19), "diners"),
    (3528, 3589, (16, 17, 18, 19), "jcb"),
    (62, 62, (16, 17, 18, 19), "unionpay"),
    (2200, 2204, (16, 17, 18, 19), "mir"),
    (60, 60, (16,), "rupay"),
    (81, 82, (16,), "rupay"),
    (508, 508, (16,), "rupay"),
    (506099, 506198, (16, 19), "verve"),
    (650002, 650027, (16, 19), "verve"),
    (50, 50, (12, 13, 14, 15, 16, 17, 18, 19), "maestro"),
    (56, 69, (12, 13, 14, 15, 16, 17, 18, 19), "maestro"),
)


def card_brand(number: str) -> str | None:
    """The network of a card number by its IIN range and length (``None``: no current range).

    Example:
        >>> card_brand("2221000000000009"), card_brand("4111111111111111"), card_brand("1234567812345670")
        ('mastercard', 'visa', None)
    """
    for low, high, lengths, brand in _IIN_RANGES:
        width = len(str(low))
        if len(number) in lengths and low <= int(number[:width]) <= high:
            return brand
    return None


_GROUPED: Final = re.compile(r"\d+(?:(?P<sep>[ \-])\d+(?:(?P=sep)\d+)*)?")


def _card(value: str) -> float | bool:
    if not _GROUPED.fullmatch(value):
        return False  # mixed separators: two numbers side by side
    digits = value.replace(" ", "").replace("-", "")
    brand = card_brand(digits)
    if brand is None or not luhn_valid(digits):
        return False
    # Maestro's ranges are wide: a bare Luhn-valid number there is as likely an order number.
    return 0.6 if brand == "maestro" and value.isdigit() else True


# What `within` finds for a card (a digit, then eleven digits, spaces or hyphens), searched on an ASCII text's
# class copy, where it starts with a literal: re tries the character class at every position of prose.
_CARD_CLASSES: Final = CharClasses({"0": re.compile(r"\d").fullmatch, "s": re.compile(r"[ \-]").fullmatch})
_CARD_RUN: Final = re.compile(rb"0[0s]{11}")


def _card_run(text: str) -> bool:
    copy = _CARD_CLASSES.copy(text)
    return copy is None or _CARD_RUN.search(copy) is not None


def _ssn(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return 0 < area < 900 and area != 666 and group != 0 and serial != 0 and digits != "123456789"


PII_PATTERNS: Final[tuple[Credential, ...]] = (
    Credential(
        id="email_address",
        entity="EMAIL_ADDRESS",
        pattern=(
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9\-]{1,62}\b"
        ),
        anchors=("@",),
        validator=_email,
        score=0.95,
    ),
    Credential(
        id="card_number",
        entity="CREDIT_CARD",
        pattern=r"(?<![\d\-])\d(?:[ \-]?\d){11,18}(?![\d])",
        anchors=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
        validator=_card,
        score=0.95,
        # A card is 12+ characters of digits, spaces and hyphens: only such runs are worth the pattern.
        within=r"\d[\d \-]{11,}",
        gate=_card_run,
    ),
    Credential(
        id="ssn_with_context",
        entity="US_SSN",
        pattern=(
            r"(?:\bssn|social[ \t]+security(?:[ \t]+(?:number|no\.?|num|#))?|\bss#|\bsoc\.?[ \t]*sec)"
            r"[^0-9\n]{0,24}?(?<!\d)(?P<value>\d{3}[ .]?\d{2}[ .]?\d{4})(?!\d)"
        ),
        anchors=("ssn", "social security", "ss#", "soc"),
        validator=_ssn,
        score=0.85,
        lower=True,
    ),
)
"""PII rows matched by claude_guard itself (Presidio's email and card recognizers are replaced by these)."""
