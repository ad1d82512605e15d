"""The one table of credential formats, shared by the log scrubber (`claude_guard.secrets.scrub`) and PII
redaction (`claude_guard.pii`): a new format is one `Credential` row.

Each row has an id, the entity type it reports, a regular expression (Python ``re``; its ``value`` group, or
the whole match, is the secret's span), an optional validator (a checksum, a decoding, an entropy floor)
and *anchors*: lower-case substrings one of which must occur in the lower-cased text before the pattern
runs at all. Anchors are the cheap prefilter: most text holds none of them, and ``str.__contains__`` is a C
loop, so a clean 10 KB prompt costs a few dozen substring searches instead of fifty regular expressions.

The patterns follow the formats the issuers publish (GitHub's ``ghp_`` + 30 + a base62 CRC32, Slack's
``xoxb-``, Stripe's ``sk_live_``…). Formats without a prefix (an AWS secret access key, Cohere and Mistral
keys, Twilio auth tokens, Ethereum private keys) are only reported next to a variable or field name that
says what they are. This is our own code, not a library's, because no maintained Python library offers
span-accurate, validated matches (``detect-secrets`` reports lines, and needs files).

Size: most of this file (about 460 of its lines) is the ``CREDENTIALS`` table, one row per format with its
pattern, anchors and validator side by side. It stays Python, not a data file, because rows are built from
shared pattern pieces (``_named``, the PEM parts) and point at validator functions; splitting a row's pattern
from its validator would make each format harder to review.

Example:
    >>> [(m.id, m.entity) for m in find_credentials("SLACK=xoxb-" + "1234567890-" * 2 + "FAKE" * 6)]
    [('slack_bot_token', 'SLACK_TOKEN')]
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Final, NamedTuple

import ahocorasick_rs

__all__ = [
    "CREDENTIALS",
    "CREDENTIAL_ENTITIES",
    "CharClasses",
    "Credential",
    "CredentialMatch",
    "bip39_words",
    "find_credentials",
    "github_checksum",
    "shannon_entropy",
]

Validator = Callable[[str], "float | bool | tuple[int, int]"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """One credential format: a row of `CREDENTIALS`."""

    id: str
    """Stable name of the format, e.g. ``"github_classic_pat"``."""
    entity: str
    """Entity type reported (the placeholder's name), e.g. ``"GITHUB_TOKEN"``."""
    pattern: str
    """Regular expression; the group named ``value`` (else the whole match) is the secret."""
    anchors: tuple[str, ...]
    """Lower-case substrings, one of which the lower-cased text must hold for the pattern to run."""
    validator: Validator | None = None
    """Checks a candidate value: ``False`` rejects it, ``True`` keeps `score`, a float is the score, a pair
    ``(start, end)`` narrows the span to that part of the value."""
    score: float = 0.9
    """Confidence of a match that passes the validator."""
    within: str | None = None
    """A cheap pattern (one character class, a C loop) whose matches are the only regions the pattern is
    tried in, for patterns that would otherwise start an attempt at every word."""
    min_run: int = 0
    """Every match holds no whitespace and is at least this long: a text whose longest whitespace-free run
    is shorter skips the row (for rows whose anchors are common letters, which select almost every text)."""
    lower: bool = False
    """The pattern is written in lower case and runs on the lower-cased text (a case-insensitive match
    without ``re.IGNORECASE``, which would cost a per-position check); the value is read from the original."""
    gate: Callable[[str], bool] | None = None
    """A necessary condition on the whole text, cheaper than the pattern: ``False`` proves the row finds
    nothing there (its validator included), so neither ``within`` nor the pattern runs."""


class CharClasses:
    """A copy of an ASCII text with each character replaced by the byte of its class: one byte per
    character, so offsets are the text's own.

    Python's ``re`` finds a pattern that starts with a literal by a fast scan, but tries one that starts with
    a character class at every position (a few nanoseconds each, a dozen microseconds per KB of prose): on
    the copy, the class is a literal, and a pattern written over class bytes makes exactly the same choices
    as the original over characters. ``classes`` maps a class byte to a test of one character (the first
    that holds wins); every other character becomes ``NUL``. A text that is not ASCII has no copy.

    Example:
        >>> classes = CharClasses({"0": str.isdigit, "a": str.isalpha})
        >>> classes.copy("at 09:12"), classes.copy("café")
        (b'aa\\x0000\\x0000', None)
    """

    __slots__ = ("table",)

    def __init__(self, classes: dict[str, Callable[[str], object]]) -> None:
        table = bytearray(256)
        for code in range(128):
            for name, test in classes.items():
                if test(chr(code)):
                    table[code] = ord(name)
                    break
        self.table = bytes(table)

    def copy(self, text: str) -> bytes | None:
        """The class copy of ``text``, or ``None`` when it is not ASCII (``str.isascii`` is a flag read)."""
        return text.encode("ascii").translate(self.table) if text.isascii() else None


class CredentialMatch(NamedTuple):
    """One credential found: the row's id and entity, the value's span, the score."""

    id: str
    entity: str
    start: int
    end: int
    score: float


# --- validators -------------------------------------------------------------------------------------------

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def github_checksum(random_part: str) -> str:
    """The six base62 characters GitHub (and npm) append to a token: the CRC32 of its random part.

    Example:
        >>> github_checksum("FAKE" * 7 + "AB")
        '0kXMw0'
    """
    value = binascii.crc32(random_part.encode())
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = _BASE62[digit] + out
    return out.rjust(6, "0")


def _crc32_token(token: str) -> float:
    # Prefix (ghp_, npm_...) + 30 random + 6 checksum. A wrong checksum is still a token-shaped string
    # nobody writes by accident: reported, with a lower score.
    body = token.split("_", 1)[1]
    return 1.0 if github_checksum(body[:-6]) == body[-6:] else 0.75


def _b64url_json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def _jwt(token: str) -> bool:
    try:
        header = _b64url_json(token.split(".", 1)[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and ("alg" in header or "typ" in header)


def _base58check(value: str, *, version: bytes | None = None) -> bool:
    number = 0
    for char in value:
        index = _BASE58.find(char)
        if index < 0:
            return False
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\0" * (len(value) - len(value.lstrip("1"))) + raw
    if len(raw) < 5:
        return False
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return False
    return version is None or payload.startswith(version)


def _wif(value: str) -> bool:
    return _base58check(value, version=b"\x80")


def _xprv(value: str) -> bool:
    return _base58check(value)


@functools.cache
def bip39_words() -> dict[str, int]:
    """The BIP-39 English word list (packaged as ``claude_guard/data/bip39_english.txt``), word → index."""
    text = resources.files("claude_guard").joinpath("data/bip39_english.txt").read_text(encoding="utf-8")
    return {word: index for index, word in enumerate(text.split())}


def bip39_valid(words: list[str]) -> bool:
    """Whether ``words`` (12 to 24, a multiple of 3) is a BIP-39 mnemonic with a correct checksum.

    Example:
        >>> bip39_valid(["abandon"] * 11 + ["about"]), bip39_valid(["abandon"] * 12)
        (True, False)
    """
    table = bip39_words()
    if len(words) not in (12, 15, 18, 21, 24) or any(w not in table for w in words):
        return False
    bits = "".join(format(table[w], "011b") for w in words)
    checksum_bits = len(words) // 3
    entropy_bits = bits[:-checksum_bits]
    entropy = int(entropy_bits, 2).to_bytes(len(entropy_bits) // 8, "big")
    digest = format(hashlib.sha256(entropy).digest()[0], "08b")
    return digest[:checksum_bits] == bits[-checksum_bits:]


_WORD: Final = re.compile(r"(?<!\\)[a-z]+")
"""A word of a seed phrase: a run of lower-case letters, less the ``n`` of a JSON-escaped line break
(``\\n``, which the row's pattern takes as a separator: "words:\\nabandon" holds "abandon")."""
_LOWER_ONLY: Final = bytes(code if 97 <= code <= 122 else 32 for code in range(256))


@functools.cache
def _bip39_bytes() -> frozenset[bytes]:
    return frozenset(word.encode() for word in bip39_words())


def _twelve_listed_words(text: str) -> bool:
    # Necessary for a seed phrase: twelve words in a row on the BIP-39 list, a text's words being its
    # [a-z]+ runs (`_WORD`: an escaped line break's "n" is none). The validator reads a match's words the
    # same way, and they are runs of the text too (a match starts and ends at a word boundary), so twelve it
    # accepts are twelve in a row here. An ASCII text's runs are found by C loops (one translation, one
    # split), not by a regular expression.
    words: Iterable[object]
    listed: frozenset[bytes] | dict[str, int]
    if text.isascii():
        data = text.encode()
        if b"\\n" in data:
            data = data.replace(b"\\n", b"  ")
        words, listed = data.translate(_LOWER_ONLY).split(), _bip39_bytes()
    else:
        words, listed = _WORD.findall(text), bip39_words()
    return b"\x01" * 12 in bytes(map(listed.__contains__, words))


def _seed_phrase(run: str) -> tuple[int, int] | bool:
    # The run holds 12+ short lower-case words; the longest window of 12..24 of them that is a valid
    # mnemonic is the span (the words before and after it are prose); of two of one size, the first.
    #
    # One pass per size slides the window a word at a time, keeping the window's 11-bit word indexes as one
    # integer, its unlisted words and its distinct words as counts: each step is a few integer operations
    # and, for a window of listed words, one SHA-256 of its entropy. Checking each window afresh (joining
    # its words' bits as text, as `bip39_valid` does) cost ~18 µs a window, ~2.5 ms per KB of listed words:
    # fifty times the cost of prose, from any text of dictionary words. A test holds the two ways to the
    # same answers (its `_seed_phrase_windows` is the window-by-window statement).
    spans = [m.span() for m in _WORD.finditer(run)]
    table = bip39_words()
    indexes = [table.get(run[a:b], -1) for a, b in spans]
    count = len(indexes)
    for size in (24, 21, 18, 15, 12):
        if count < size:
            continue
        checksum_bits = size // 3
        entropy_bytes = (11 * size - checksum_bits) // 8
        mask, shift, keep = (1 << checksum_bits) - 1, 8 - checksum_bits, (1 << 11 * size) - 1
        # Random entropy rarely repeats a word; "word word word..." is prose that passed the checksum.
        distinct_floor = size * 3
        value = unlisted = 0
        seen: dict[int, int] = {}
        for end, index in enumerate(indexes):
            value = ((value << 11) | (index if index >= 0 else 0)) & keep
            if index < 0:
                unlisted += 1
            else:
                seen[index] = seen.get(index, 0) + 1
            if end >= size:
                leaving = indexes[end - size]
                if leaving < 0:
                    unlisted -= 1
                elif seen[leaving] == 1:
                    del seen[leaving]
                else:
                    seen[leaving] -= 1
            if end < size - 1 or unlisted or len(seen) * 4 < distinct_floor:
                continue
            digest = hashlib.sha256((value >> checksum_bits).to_bytes(entropy_bytes, "big")).digest()
            if digest[0] >> shift == value & mask:
                return spans[end - size + 1][0], spans[end][1]
    return False


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution.

    Example:
        >>> round(shannon_entropy("aaaa"), 2), round(shannon_entropy("abcd"), 2)
        (0.0, 2.0)
    """
    if not value:
        return 0.0
    counts = Counter(value)
    size = len(value)
    return abs(sum(n / size * math.log2(n / size) for n in counts.values()))


_PLACEHOLDER_VALUE: Final = re.compile(
    r"^(?:\$\{?[A-Za-z_]\w*\}?|\{\{.*\}\}|<[^>]*>|%\(\w+\)s|\*+|x+|X+|\.{3,}|(?i:none|null|nil|true|false|"
    r"undefined|changeme|change_me|pass|password|passwd|pwd|secret|redacted|example|your[_-]?\w*|my[_-]?\w*))$"
)
_IDENTIFIER_VALUE: Final = re.compile(r"^(?:[a-z]+(?:[_.\-][a-z0-9]+)*|[A-Z]+(?:_[A-Z0-9]+)*|\d+(?:\.\d+)*)$")
_CODE_VALUE: Final = re.compile(r"(?:\(|\)|\[|\]|^(?:os|process|env|self|this|settings|config)\.)")


def _secret_value(value: str) -> bool:
    """An assignment's value looks like a real secret: no template, no identifier, no code, enough entropy."""
    if _PLACEHOLDER_VALUE.match(value) or _IDENTIFIER_VALUE.match(value) or _CODE_VALUE.search(value):
        return False
    floor = 3.0 if len(value) >= 12 else 2.5
    return shannon_entropy(value) >= floor


def _url_password(value: str) -> bool:
    return not (_PLACEHOLDER_VALUE.match(value) or _CODE_VALUE.search(value))


def _bearer(value: str) -> bool:
    # "Bearer authentication" is prose; a token has a digit or token punctuation, or is long.
    return len(value) >= 24 or any(c.isdigit() or c in "-._~+/=" for c in value)


# --- the table --------------------------------------------------------------------------------------------

_END: Final = r"(?![A-Za-z0-9_\-])"
_B62: Final = "A-Za-z0-9"
# A variable or field name followed by an assignment: = := : => or a quoted JSON key.
_ASSIGN: Final = r"""\\?["']?\s*(?:=|:=|:|=>|\s)\s*\\?["'`]?"""


def _named(name: str, value: str) -> str:
    """A value right after a variable or key whose name matches ``name`` (case-insensitive)."""
    return rf"{name}[\w\-]*{_ASSIGN}(?P<value>{value})(?![a-z0-9+/=_\-])"


_PEM_BEGIN: Final = r"-----BEGIN[ A-Z0-9]{0,40} PRIVATE KEY(?: BLOCK)?-----"
_PEM_END: Final = r"-----END[ A-Z0-9]{0,40} PRIVATE KEY(?: BLOCK)?-----"
# A private key block, line by line: one or more line breaks (real, or JSON-escaped) between lines, each a
# base64 run, a short last chunk, a PGP checksum or a header (Proc-Type, DEK-Info, Version, Comment).
_PEM_SEP: Final = r"(?:[ \t]*(?:\r?\n|(?:\\r)?\\n))+[ \t]*"
_PEM_LINE: Final = (
    r"(?:[A-Za-z0-9+/=]{16,}(?=[\s\\,.;:)\"'<]|$|-----)"
    r"|[A-Za-z0-9+/]{1,15}={0,2}(?=[ \t]*(?:\r?\n|(?:\\r)?\\n|$|-----|\"))"
    r"|=[A-Za-z0-9+/]{4}(?![A-Za-z0-9+/=])"
    r"|[A-Z][A-Za-z\-]*: [^\r\n\\]*(?=\r?\n|(?:\\r)?\\n))"
)
# A block pasted on one line: up to its END, or to the end of the line when it was cut.
_PEM_ONE_LINE: Final = rf"[ \t]+[^\r\n]*?(?:{_PEM_END}|(?=\r?\n)|$)"

# Names of variables, not a password.
_SECRET_NAMES: Final = (
    r"(?:secret|token|passw(?:or)?d|passphrase|pwd|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key|"  # noqa: S105
    r"private[_\-]?key|auth[_\-]?key|client[_\-]?secret|credentials?|signing[_\-]?key|encryption[_\-]?key)"
)

CREDENTIALS: Final[tuple[Credential, ...]] = (
    # Cloud: AWS, Google Cloud, Azure.
    Credential(
        id="aws_access_key_id",
        entity="AWS_ACCESS_KEY",
        pattern=r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
        anchors=("akia", "asia", "abia", "acca", "a3t"),
    ),
    Credential(
        id="aws_secret_access_key",
        entity="AWS_SECRET_KEY",
        pattern=_named(
            r"(?:aws_?secret(?:_?access)?_?key|secret_?access_?key|aws_?secret)", r"[a-z0-9/+]{40}"
        ),
        anchors=("aws_secret", "awssecret", "secret_access", "secretaccess"),
        score=0.95,
        lower=True,
    ),
    Credential(
        id="gcp_service_account_key_id",
        entity="GCP_SERVICE_ACCOUNT",
        pattern=r"private_key_id\\?\"\s*:\s*\\?\"(?P<value>[0-9a-f]{40})\b",
        anchors=("private_key_id",),
    ),
    Credential(
        id="google_api_key",
        entity="GOOGLE_API_KEY",
        pattern=rf"\bAIza[0-9A-Za-z_\-]{{35}}{_END}",
        anchors=("aiza",),
        score=0.95,
    ),
    Credential(
        id="google_oauth_client_secret",
        entity="GOOGLE_OAUTH_SECRET",
        pattern=rf"\bGOCSPX-[A-Za-z0-9_\-]{{28}}{_END}",
        anchors=("gocspx-",),
        score=0.95,
    ),
    Credential(
        id="google_oauth_access_token",
        entity="GOOGLE_OAUTH_SECRET",
        pattern=rf"\bya29\.[A-Za-z0-9_\-]{{30,}}{_END}",
        anchors=("ya29.",),
    ),
    Credential(
        id="azure_storage_account_key",
        entity="AZURE_STORAGE_KEY",
        pattern=_named(
            r"(?:accountkey|account_key|azure_?storage_?key|storage_?account_?key)", r"[a-z0-9+/]{86}=="
        ),
        anchors=("accountkey", "account_key", "storagekey", "storage_key"),
        score=0.95,
        lower=True,
    ),
    Credential(
        id="azure_shared_access_key",
        entity="AZURE_CONNECTION_STRING",
        pattern=r"(?i:SharedAccessKey)\s*=\s*(?P<value>[A-Za-z0-9+/]{42,44}=?)(?![A-Za-z0-9+/=])",
        anchors=("sharedaccesskey",),
        score=0.95,
    ),
    Credential(
        id="azure_sas_signature",
        entity="AZURE_SAS_TOKEN",
        pattern=r"\bsv=\d{4}-\d{2}-\d{2}[^\s\"'<>]{0,300}?[?&]sig=(?P<value>[A-Za-z0-9+/]{40,}={0,2})",
        anchors=("sig=",),
        score=0.95,
    ),
    # Source hosts.
    Credential(
        id="github_classic_pat",
        entity="GITHUB_TOKEN",
        pattern=rf"\bghp_[{_B62}]{{36}}{_END}",
        anchors=("ghp_",),
        validator=_crc32_token,
    ),
    Credential(
        id="github_oauth_token",
        entity="GITHUB_TOKEN",
        pattern=rf"\bgho_[{_B62}]{{36}}{_END}",
        anchors=("gho_",),
        validator=_crc32_token,
    ),
    Credential(
        id="github_user_to_server_token",
        entity="GITHUB_TOKEN",
        pattern=rf"\bghu_[{_B62}]{{36}}{_END}",
        anchors=("ghu_",),
        validator=_crc32_token,
    ),
    Credential(
        id="github_server_to_server_token",
        entity="GITHUB_TOKEN",
        pattern=rf"\bghs_[{_B62}]{{36}}{_END}",
        anchors=("ghs_",),
        validator=_crc32_token,
    ),
    Credential(
        id="github_refresh_token",
        entity="GITHUB_TOKEN",
        pattern=rf"\bghr_[{_B62}]{{36}}{_END}",
        anchors=("ghr_",),
        validator=_crc32_token,
    ),
    Credential(
        id="github_fine_grained_pat",
        entity="GITHUB_TOKEN",
        pattern=rf"\bgithub_pat_[{_B62}]{{22}}_[{_B62}]{{59}}{_END}",
        anchors=("github_pat_",),
        score=1.0,
    ),
    Credential(
        id="gitlab_pat",
        entity="GITLAB_TOKEN",
        pattern=r"\bglpat-[A-Za-z0-9_\-]{20}(?:[A-Za-z0-9_\-]{7,60}\.[0-9a-z]{2}\.[0-9a-z]{9})?(?![A-Za-z0-9_\-])",
        anchors=("glpat-",),
        score=0.95,
    ),
    Credential(
        id="gitlab_other_token",
        entity="GITLAB_TOKEN",
        pattern=r"\b(?:gldt|glrt|glptt|gloas|glft|glimt|glagent|glsoat|glcbt)-[A-Za-z0-9_\-]{20,64}(?![A-Za-z0-9_\-])",
        anchors=("gldt-", "glrt-", "glptt-", "gloas-", "glft-", "glimt-", "glagent-", "glsoat-", "glcbt-"),
    ),
    Credential(
        id="bitbucket_app_password",
        entity="BITBUCKET_TOKEN",
        pattern=r"\bATBB[A-Za-z0-9_=.\-]{28,}(?![A-Za-z0-9_=.\-])",
        anchors=("atbb",),
    ),
    Credential(
        id="bitbucket_access_token",
        entity="BITBUCKET_TOKEN",
        pattern=r"\bATCTT3xFfGN0[A-Za-z0-9_=\-]{100,}(?![A-Za-z0-9_=\-])",
        anchors=("atctt3xffgn0",),
    ),
    # Chat and SaaS.
    Credential(
        id="slack_bot_token",
        entity="SLACK_TOKEN",
        pattern=r"\bxoxb-\d{10,13}-\d{10,13}-[A-Za-z0-9]{24}(?![A-Za-z0-9])",
        anchors=("xoxb-",),
        score=0.95,
    ),
    Credential(
        id="slack_user_token",
        entity="SLACK_TOKEN",
        pattern=r"\bxoxp-\d{10,13}-\d{10,13}-\d{10,13}-[a-f0-9]{32}(?![A-Za-z0-9])",
        anchors=("xoxp-",),
        score=0.95,
    ),
    Credential(
        id="slack_app_token",
        entity="SLACK_TOKEN",
        pattern=r"\bxapp-\d-[A-Z0-9]{9,12}-\d{10,13}-[a-f0-9]{64}(?![A-Za-z0-9])",
        anchors=("xapp-",),
        score=0.95,
    ),
    Credential(
        id="slack_other_token",
        entity="SLACK_TOKEN",
        pattern=r"\b(?:xox[aores]|xoxe\.xox[bp])-[0-9A-Za-z\-]{20,}(?![A-Za-z0-9\-])",
        anchors=("xoxa-", "xoxo-", "xoxr-", "xoxe", "xoxs-"),
    ),
    Credential(
        id="slack_webhook",
        entity="SLACK_WEBHOOK",
        pattern=r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{8,12}/[A-Z0-9]{8,12}/[A-Za-z0-9]{20,}",
        anchors=("hooks.slack.com",),
        score=0.95,
    ),
    Credential(
        id="discord_bot_token",
        entity="DISCORD_TOKEN",
        pattern=r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}(?![A-Za-z0-9_\-])",
        anchors=("m", "n", "o"),
        min_run=59,
        validator=lambda token: any(c.isdigit() for c in token) and any(c.isupper() for c in token[1:]),
        score=0.85,
    ),
    Credential(
        id="discord_webhook",
        entity="DISCORD_WEBHOOK",
        pattern=r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,72}",
        anchors=("/api/webhooks/",),
        score=0.95,
    ),
    Credential(
        id="twilio_api_key",
        entity="TWILIO_KEY",
        pattern=r"\bSK[0-9a-f]{32}\b",
        anchors=("sk",),
        validator=lambda key: shannon_entropy(key[2:]) >= 3.0,
        score=0.85,
    ),
    Credential(
        id="twilio_auth_token",
        entity="TWILIO_KEY",
        pattern=_named(r"twilio[\w\-]*(?:auth[_\-]?)?token", r"[0-9a-f]{32}"),
        anchors=("twilio",),
        score=0.9,
        lower=True,
    ),
    Credential(
        id="sendgrid_api_key",
        entity="SENDGRID_KEY",
        pattern=r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])",
        anchors=("sg.",),
        score=0.95,
    ),
    Credential(
        id="mailgun_api_key",
        entity="MAILGUN_KEY",
        pattern=r"\bkey-[0-9a-f]{32}\b",
        anchors=("key-",),
    ),
    Credential(
        id="mailgun_private_key",
        entity="MAILGUN_KEY",
        pattern=r"\b[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}\b",
        anchors=("-",),
        min_run=50,
        validator=lambda key: shannon_entropy(key) >= 3.2,
        score=0.8,
    ),
    Credential(
        id="stripe_secret_key",
        entity="STRIPE_KEY",
        pattern=r"\bsk_(?:live|test)_[0-9A-Za-z]{24,99}(?![A-Za-z0-9])",
        anchors=("sk_live_", "sk_test_"),
        score=0.95,
    ),
    Credential(
        id="stripe_restricted_key",
        entity="STRIPE_KEY",
        pattern=r"\brk_(?:live|test)_[0-9A-Za-z]{24,99}(?![A-Za-z0-9])",
        anchors=("rk_live_", "rk_test_"),
        score=0.95,
    ),
    Credential(
        id="stripe_webhook_secret",
        entity="STRIPE_KEY",
        pattern=r"\bwhsec_[0-9A-Za-z+/]{32,64}(?![A-Za-z0-9])",
        anchors=("whsec_",),
    ),
    Credential(
        id="shopify_token",
        entity="SHOPIFY_TOKEN",
        pattern=r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
        anchors=("shpat_", "shpca_", "shppa_", "shpss_"),
        score=0.95,
    ),
    Credential(
        id="atlassian_api_token",
        entity="ATLASSIAN_TOKEN",
        pattern=r"\bATATT3[A-Za-z0-9_\-=]{150,}(?![A-Za-z0-9_\-=])",
        anchors=("atatt3",),
        score=0.95,
    ),
    Credential(
        id="notion_token",
        entity="NOTION_TOKEN",
        pattern=r"\b(?:secret_[A-Za-z0-9]{43}|ntn_\d{11}[A-Za-z0-9]{32,35})(?![A-Za-z0-9])",
        anchors=("secret_", "ntn_"),
        validator=lambda token: any(c.isdigit() for c in token) and any(c.isupper() for c in token),
    ),
    Credential(
        id="linear_api_key",
        entity="LINEAR_KEY",
        pattern=r"\blin_(?:api_[A-Za-z0-9]{40}|oauth_[a-f0-9]{64})\b",
        anchors=("lin_api_", "lin_oauth_"),
        score=0.95,
    ),
    # AI providers.
    Credential(
        id="anthropic_api_key",
        entity="ANTHROPIC_API_KEY",
        pattern=r"\bsk-ant-[A-Za-z0-9]+-[A-Za-z0-9_\-]{8,}",
        anchors=("sk-ant-",),
        score=0.95,
    ),
    Credential(
        id="openai_project_key",
        entity="OPENAI_API_KEY",
        pattern=r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{16,}",
        anchors=("sk-proj-", "sk-svcacct-", "sk-admin-"),
        score=0.95,
    ),
    Credential(
        id="openai_legacy_key",
        entity="OPENAI_API_KEY",
        pattern=r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
        anchors=("t3blbkfj",),
        score=0.95,
    ),
    Credential(
        id="huggingface_token",
        entity="HUGGINGFACE_TOKEN",
        pattern=r"\b(?:hf_|api_org_)[A-Za-z0-9]{34}\b",
        anchors=("hf_", "api_org_"),
        validator=lambda token: any(c.isupper() for c in token) and any(c.islower() for c in token[3:]),
    ),
    Credential(
        id="cohere_api_key",
        entity="COHERE_KEY",
        pattern=_named(r"(?:cohere|co)[_\-]?(?:api[_\-]?)?key", r"[a-z0-9]{40}"),
        anchors=("cohere", "co_api", "co_key", "co-api"),
        lower=True,
    ),
    Credential(
        id="mistral_api_key",
        entity="MISTRAL_KEY",
        pattern=_named(r"mistral[_\-]?(?:api[_\-]?)?key", r"[a-z0-9]{32}"),
        anchors=("mistral",),
        lower=True,
    ),
    Credential(
        id="groq_api_key",
        entity="GROQ_KEY",
        pattern=r"\bgsk_[A-Za-z0-9]{52}\b",
        anchors=("gsk_",),
        score=0.95,
    ),
    # Package registries.
    Credential(
        id="npm_token",
        entity="NPM_TOKEN",
        pattern=rf"\bnpm_[{_B62}]{{36}}{_END}",
        anchors=("npm_",),
        validator=_crc32_token,
    ),
    Credential(
        id="pypi_token",
        entity="PYPI_TOKEN",
        pattern=r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,}",
        anchors=("pypi-age",),
        score=1.0,
    ),
    Credential(
        id="dockerhub_token",
        entity="DOCKERHUB_TOKEN",
        pattern=r"\bdckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,}(?![A-Za-z0-9_\-])",
        anchors=("dckr_",),
        score=0.95,
    ),
    # Crypto wallets.
    Credential(
        id="bitcoin_wif_private_key",
        entity="CRYPTO_PRIVATE_KEY",
        pattern=r"\b[5KL][1-9A-HJ-NP-Za-km-z]{50,51}\b",
        anchors=("5", "k", "l"),
        min_run=51,
        validator=_wif,
        score=0.95,
    ),
    Credential(
        id="bip32_extended_private_key",
        entity="CRYPTO_PRIVATE_KEY",
        pattern=r"\b[xyzt]prv[1-9A-HJ-NP-Za-km-z]{100,112}\b",
        anchors=("prv",),
        validator=_xprv,
        score=1.0,
    ),
    Credential(
        id="ethereum_private_key",
        entity="CRYPTO_PRIVATE_KEY",
        pattern=_named(r"(?:priv(?:ate)?[_\-]?key|wallet[_\-]?key|eth[\w\-]*key)", r"(?:0x)?[0-9a-f]{64}"),
        anchors=("privkey", "priv_key", "private_key", "privatekey", "private-key", "wallet", "eth"),
        score=0.9,
        lower=True,
    ),
    Credential(
        id="bip39_seed_phrase",
        entity="SEED_PHRASE",
        # The first word starts at a word boundary not right after a backslash, or right after an escaped
        # line break ("words:\\nabandon…": its "n" is no letter of the phrase).
        pattern=r"(?:(?<=\\n)|(?<!\\)\b)"
        r"(?:[a-z]{3,8}(?:[ \t]+|[ \t]*(?:\r?\n|\\n)[ \t]*)){11,63}[a-z]{3,8}\b",
        anchors=(" ", "\n", "\t", "\\n"),  # every separator the pattern takes: one word a line is common
        validator=_seed_phrase,
        score=0.95,
        within=r"[a-z \t\r\n\\]{47,}",
        gate=_twelve_listed_words,  # prose has regions of lower-case words; it rarely has twelve listed ones
    ),
    # Private key blocks, whole or cut short.
    Credential(
        id="private_key_block",
        entity="PRIVATE_KEY",
        pattern=rf"{_PEM_BEGIN}(?:{_PEM_ONE_LINE}|(?:{_PEM_SEP}{_PEM_LINE})*(?:{_PEM_SEP}?{_PEM_END})?)",
        anchors=("private key",),
        score=1.0,
    ),
    # Tokens with a structure of their own.
    Credential(
        id="jwt",
        entity="JWT",
        pattern=r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.(?:[A-Za-z0-9_\-]{8,})?",
        anchors=("eyj",),
        validator=_jwt,
        score=0.95,
    ),
    Credential(
        id="claude_guard_client_key",
        entity="CLAUDE_GUARD_KEY",
        pattern=r"\bcg_[a-z]+_[A-Za-z0-9_\-]{16,}",
        anchors=("cg_",),
    ),
    Credential(
        id="bearer_token",
        entity="BEARER_TOKEN",
        pattern=r"\b[Bb]earer[ \t]{1,4}(?P<value>[A-Za-z0-9\-._~+/]{7,}[A-Za-z0-9\-_~+/]=*)",
        anchors=("bearer",),
        validator=_bearer,
        score=0.85,
    ),
    # Passwords where a URL or a DSN carries them, and secret-named assignments.
    Credential(
        id="url_password",
        entity="URL_PASSWORD",
        pattern=(
            r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"'<>]{0,64}:(?P<value>[^\s/\"'<>]{1,128})"
            r"@[A-Za-z0-9.\-\[\]]+"
        ),
        anchors=("://",),
        validator=_url_password,
        score=0.96,  # above the e-mail row, which sees "password@host.example" too
    ),
    Credential(
        id="dsn_password",
        entity="URL_PASSWORD",
        pattern=r"(?:^|[;\s\"'])(?:password|pwd)\s*=\s*(?P<value>[^;\"'\s]{3,127}[^;\"'\s,.])(?=[;,.]|$|[\"'\s])",
        anchors=("password=", "pwd=", "password =", "pwd ="),
        validator=_url_password,
        score=0.85,
        lower=True,
    ),
    Credential(
        id="secret_assignment",
        entity="SECRET",
        pattern=(
            rf"{_SECRET_NAMES}\b\\?[\"']?(?:\s*(?:=|:=|:|=>)\s*|\s+)(?:\\?[\"'`](?P<quoted>[^\"'`\s\\]{{8,200}})"
            r"\\?[\"'`]|(?P<value>[^\s\"'`,;\\]{8,200}))"
        ),
        anchors=(
            "secret",
            "token",
            "passw",
            "pwd",
            "api_key",
            "api-key",
            "apikey",
            "access_key",
            "accesskey",
            "private_key",
            "auth_key",
            "signing_key",
            "encryption_key",
            "credential",
            "passphrase",
        ),
        validator=_secret_value,
        score=0.7,
        lower=True,
    ),
)
"""Every credential format claude_guard recognizes."""

CREDENTIAL_ENTITIES: Final[tuple[str, ...]] = tuple(dict.fromkeys(row.entity for row in CREDENTIALS))
"""The entity types of `CREDENTIALS`, in table order."""


class _Compiled(NamedTuple):
    row: Credential
    regex: re.Pattern[str]
    folded: re.Pattern[str]
    within: re.Pattern[str] | None
    group: str | int


@functools.cache
def _compiled(rows: tuple[Credential, ...]) -> tuple[_Compiled, ...]:
    out = []
    for row in rows:
        regex = re.compile(row.pattern, re.MULTILINE)
        folded = re.compile(row.pattern, re.MULTILINE | re.IGNORECASE) if row.lower else regex
        group: str | int = "value" if "value" in regex.groupindex else 0
        within = re.compile(row.within) if row.within else None
        out.append(_Compiled(row, regex, folded, within, group))
    return tuple(out)


_by_identity: dict[int, tuple[tuple[Credential, ...], tuple[_Compiled, ...]]] = {}


def _compiled_for(rows: tuple[Credential, ...]) -> tuple[_Compiled, ...]:
    # Tables are looked up by identity first: hashing every row for the cache on each call cost more than
    # the search of a short text.
    hit = _by_identity.get(id(rows))
    if hit is None or hit[0] is not rows:
        if len(_by_identity) >= 64:
            _by_identity.clear()
        hit = _by_identity[id(rows)] = (rows, _compiled(rows))
    return hit[1]


class _Anchors(NamedTuple):
    automaton: ahocorasick_rs.AhoCorasick | None
    rows_of: tuple[tuple[int, ...], ...]  # the rows each of the automaton's anchors belongs to
    single: tuple[tuple[str, tuple[int, ...]], ...]  # one-character anchors: a plain ``in`` is faster


@functools.cache
def _anchors(rows: tuple[Credential, ...]) -> _Anchors:
    multi: dict[str, list[int]] = {}
    single: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        for anchor in row.anchors:
            (single if len(anchor) == 1 else multi).setdefault(anchor, []).append(index)
    keys = list(multi)
    return _Anchors(
        ahocorasick_rs.AhoCorasick(keys) if keys else None,
        tuple(tuple(multi[k]) for k in keys),
        tuple((k, tuple(v)) for k, v in single.items()),
    )


def _anchored_rows(rows: tuple[Credential, ...], lowered: str) -> set[int]:
    """The rows with an anchor in ``lowered``: one Aho-Corasick pass for every anchor of the table
    (``ahocorasick_rs``, as the prompt validator's lexicons use), instead of a substring search per anchor
    (121 of them: they were a third of the table's time on a 1 KB prompt with no credential)."""
    index = _by_identity_anchors.get(id(rows))
    if index is None or index[0] is not rows:
        if len(_by_identity_anchors) >= 64:
            _by_identity_anchors.clear()
        index = _by_identity_anchors[id(rows)] = (rows, _anchors(rows))
    anchors = index[1]
    out: set[int] = set()
    for char, owners in anchors.single:
        if char in lowered:
            out.update(owners)
    if anchors.automaton is not None:
        rows_of = anchors.rows_of
        try:
            found_anchors = anchors.automaton.find_matches_as_indexes(lowered, overlapping=True)
        except UnicodeEncodeError:  # a lone surrogate (valid JSON, not UTF-8): it is no anchor's letter
            found_anchors = anchors.automaton.find_matches_as_indexes(
                _SURROGATE.sub("\ufffd", lowered), overlapping=True
            )
        for found, _, _ in found_anchors:
            out.update(rows_of[found])
    return out


_by_identity_anchors: dict[int, tuple[tuple[Credential, ...], _Anchors]] = {}
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SOLID: Final = CharClasses({"x": lambda char: not char.isspace()})  # str.split's whitespace is isspace()


def find_credentials(text: str, *, rows: tuple[Credential, ...] | None = None) -> list[CredentialMatch]:
    """Every match of the table's rows in ``text`` (possibly overlapping; callers merge).

    Args:
        text: The text to search.
        rows: Rows to match, `CREDENTIALS` (the default) or any other table of `Credential` rows.
    """
    lowered = text.lower()
    # Lower-casing keeps offsets except for a few characters (İ becomes two); then the slower folded match.
    same_offsets = len(lowered) == len(text)
    found: list[CredentialMatch] = []
    table = CREDENTIALS if rows is None else rows
    anchored = _anchored_rows(table, lowered)
    # Whitespace-free characters as a class copy (a run of n is b"x" * n), or for a text that is not ASCII
    # the longest run; made when a row with min_run first asks.
    solid: bytes | int | None = None
    for index, compiled in enumerate(_compiled_for(table)):
        if index not in anchored:
            continue
        row = compiled.row
        if row.min_run:
            if solid is None:
                solid = _SOLID.copy(text)
                if solid is None:
                    solid = max(map(len, text.split()), default=0)
            if solid < row.min_run if isinstance(solid, int) else b"x" * row.min_run not in solid:
                continue
        if row.gate is not None and not row.gate(text):
            continue
        matches: Iterable[re.Match[str]]
        if compiled.within is not None:
            matches = [
                m
                for region in compiled.within.finditer(text)
                for m in compiled.regex.finditer(text, region.start(), region.end())
            ]
        elif not row.lower:
            matches = compiled.regex.finditer(text)
        elif same_offsets:
            matches = compiled.regex.finditer(lowered)
        else:
            matches = compiled.folded.finditer(text)
        for match in matches:
            group: str | int = compiled.group
            if match.groupdict().get("quoted") is not None:
                group = "quoted"
            start, end = match.span(group)
            if start < 0 or end <= start:
                continue
            score = row.score
            if row.validator is not None:
                verdict = row.validator(text[start:end])
                if verdict is False or verdict == 0:
                    continue
                if isinstance(verdict, tuple):
                    start, end = start + verdict[0], start + verdict[1]
                elif not isinstance(verdict, bool):
                    score = float(verdict)
            found.append(CredentialMatch(row.id, row.entity, start, end, score))
    return found
