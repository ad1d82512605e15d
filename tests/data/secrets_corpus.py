# ruff: noqa: E501  (generators and templates are kept one per line)
"""The project's secrets and PII corpus: every credential format of the table and every PII type, as
realistic, format-valid and obviously fake values, in every place users paste them; plus look-alike
non-secrets.

Values are generated at run time from a seeded generator (a literal key in the repository would trip every
scanner, and would be a real-looking key): letters-and-digits formats carry ``FAKE``/``EXAMPLE`` markers,
checksummed formats get a correct checksum (GitHub and npm CRC32, Luhn, IBAN mod 97, BIP-39, base58check).
Each value appears in prose, code, a config file, a log line, a JSON tool result, split across two text
blocks, with zero-width characters inside, and base64-encoded; PII also in full-width and escaped spellings.

The split into development and held-out is by a fixed seed over values (every placement of a value goes
to the same part), so nothing tuned on development has seen a held-out value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from claude_guard._credentials import bip39_words, github_checksum
from claude_guard.pii._patterns import luhn_valid

SEED = 14
HELD_OUT_SEED = 1414
VALUES_PER_TYPE = 10

B62 = string.ascii_letters + string.digits
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "_-"


@dataclass(frozen=True)
class Value:
    """One generated value: ``carrier`` is how it is naturally written (with its variable name when the
    format needs one) and contains ``value`` exactly once."""

    kind: str
    """The credential row id or the PII entity type."""
    family: str
    """``credential`` or ``pii``."""
    value: str
    carrier: str


@dataclass(frozen=True)
class Sample:
    """One text (or two adjacent blocks) with the spans of the values it holds."""

    kind: str
    family: str
    placement: str
    blocks: tuple[str, ...]
    spans: tuple[tuple[int, int, int], ...]
    """(block index, start, end) of each piece of the value."""
    value: str


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _fake(rng: random.Random, alphabet: str, n: int, marker: str = "FAKE") -> str:
    # An obviously fake random part: starts with the marker when the alphabet allows it.
    if all(c in alphabet for c in marker) and n > len(marker) + 4:
        return marker + _r(rng, alphabet, n - len(marker))
    return _r(rng, alphabet, n)


def _crc_token(prefix: str, rng: random.Random) -> str:
    body = _fake(rng, B62, 30)
    return prefix + body + github_checksum(body)


def _b58encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = B58[digit] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def _b58check(payload: bytes) -> str:
    return _b58encode(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def seed_phrase(rng: random.Random, words: int = 12) -> str:
    table = sorted(bip39_words(), key=bip39_words().__getitem__)
    entropy = rng.randbytes(words * 4 // 3)
    bits = "".join(format(b, "08b") for b in entropy)
    bits += format(hashlib.sha256(entropy).digest()[0], "08b")[: words // 3]
    return " ".join(table[int(bits[i : i + 11], 2)] for i in range(0, len(bits), 11))


def _pem(rng: random.Random, kind: str, *, partial: bool, escaped: bool = False) -> str:
    header = {
        "rsa": "RSA PRIVATE KEY",
        "pkcs8": "PRIVATE KEY",
        "ec": "EC PRIVATE KEY",
        "openssh": "OPENSSH PRIVATE KEY",
        "pgp": "PGP PRIVATE KEY BLOCK",
        "encrypted": "ENCRYPTED PRIVATE KEY",
    }[kind]
    lines = [f"-----BEGIN {header}-----"]
    if kind == "pgp":
        lines += ["Version: FakePG 2.4 (EXAMPLE)", ""]
    start = {"rsa": "MIIEowIBAAKCAQEA", "openssh": "b3BlbnNzaC1rZXktdjEAAAAA", "ec": "MHcCAQEEI"}.get(
        kind, "MIIEvQIBADANBgkq"
    )
    body = start + "FAKEKEYFORTESTS" + _r(rng, B64, 64 * rng.randint(3, 6))
    lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    if kind == "pgp":
        lines.append("=" + _r(rng, B64, 4))
    if not partial:
        lines.append(f"-----END {header}-----")
    return ("\\n" if escaped else "\n").join(lines)


# -- credential formats: row id -> generator of (value, carrier) -------------------------------------------

Gen = Callable[[random.Random], tuple[str, str]]


def _bare(make: Callable[[random.Random], str]) -> Gen:
    def gen(rng: random.Random) -> tuple[str, str]:
        value = make(rng)
        return value, value

    return gen


def _named(names: tuple[str, ...], make: Callable[[random.Random], str], *, quote: bool = True) -> Gen:
    def gen(rng: random.Random) -> tuple[str, str]:
        value = make(rng)
        name = rng.choice(names)
        sep = rng.choice([" = ", "=", ": "])
        q = rng.choice(['"', "'", ""]) if quote else ""
        return value, f"{name}{sep}{q}{value}{q}"

    return gen


def _azure_conn(rng: random.Random) -> tuple[str, str]:
    key = _r(rng, B64, 86) + "=="
    account = "fakeacct" + _r(rng, string.ascii_lowercase + string.digits, 6)
    carrier = f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};EndpointSuffix=core.windows.net"
    return key, carrier


def _azure_sas(rng: random.Random) -> tuple[str, str]:
    sig = _r(rng, B64, 43) + "="
    url = (
        f"https://fakeacct.blob.core.windows.net/backups/db.bak?sv=2024-08-04&ss=b&srt=sco&sp=rl"
        f"&se=2026-12-31T00:00:00Z&spr=https&sig={sig}"
    )
    return sig, url


def _azure_bus(rng: random.Random) -> tuple[str, str]:
    key = _r(rng, B64, 43) + "="
    carrier = (
        "Endpoint=sb://fake-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={key}"
    )
    return key, carrier


def _gcp(rng: random.Random) -> tuple[str, str]:
    key_id = _r(rng, HEX, 40)
    carrier = (
        '{"type": "service_account", "project_id": "fake-project-123", '
        f'"private_key_id": "{key_id}", "token_uri": "https://oauth2.googleapis.com/token"}}'
    )
    return key_id, carrier


def _slack_webhook(rng: random.Random) -> str:
    return (
        f"https://hooks.slack.com/services/T{_r(rng, string.ascii_uppercase + string.digits, 8)}/"
        f"B{_r(rng, string.ascii_uppercase + string.digits, 10)}/{_fake(rng, B62, 24)}"
    )


def _discord_bot(rng: random.Random) -> str:
    user = str(rng.randint(10**17, 10**18 - 1)).encode()
    first = base64.b64encode(user).decode().rstrip("=")
    return f"{first}.{_r(rng, URLSAFE, 6)}.FAKE{_r(rng, URLSAFE, 34)}"


def _url_password(rng: random.Random) -> tuple[str, str]:
    password = "Fake" + _r(rng, B62, 10) + rng.choice("!$^*~") + _r(rng, B62, 3)
    scheme = rng.choice(["postgresql", "mysql", "redis", "mongodb+srv", "amqp", "https"])
    host = rng.choice(["db.internal.example", "pg-primary", "cache.example.com", "mq.fake.local"])
    user = rng.choice(["app", "admin", "svc_reporting", "deploy"])
    return password, f"{scheme}://{user}:{password}@{host}:5432/app"


def _dsn_password(rng: random.Random) -> tuple[str, str]:
    password = "Fake" + _r(rng, B62, 12)
    return password, (
        f"Server=tcp:fake-sql.database.windows.net,1433;Database=orders;User ID=app;Password={password};"
        "Encrypt=true"
    )


def _assignment(rng: random.Random) -> tuple[str, str]:
    value = "FAKE" + _r(rng, B62 + "!@#%^*-_", 20)
    name = rng.choice(
        [
            "DJANGO_SECRET_KEY",
            "webhook_secret",
            "JWT_SIGNING_KEY",
            "db_password",
            "SESSION_TOKEN",
            "client_secret",
            "ENCRYPTION_KEY",
            "smtp_passwd",
        ]
    )
    q = rng.choice(['"', "'"])
    return value, f"{name} = {q}{value}{q}"


def _jwt(rng: random.Random) -> str:
    header = _b64url({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    payload = _b64url({"sub": f"fake-user-{rng.randint(1, 9999)}", "iat": 1764547200, "name": "EXAMPLE"})
    return f"{header}.{payload}.{_r(rng, URLSAFE, 43)}"


CREDENTIAL_GENERATORS: dict[str, Gen] = {
    "aws_access_key_id": _bare(lambda r: "AKIA" + _fake(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    "aws_secret_access_key": _named(
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
        lambda r: "FAKE" + _r(r, B62 + "/+", 36),
    ),
    "gcp_service_account_key_id": _gcp,
    "google_api_key": _bare(lambda r: "AIzaSy" + _fake(r, B62 + "_-", 33)),
    "google_oauth_client_secret": _bare(lambda r: "GOCSPX-" + _fake(r, B62 + "_-", 28)),
    "google_oauth_access_token": _bare(lambda r: "ya29.a0" + _fake(r, B62 + "_-", 60)),
    "azure_storage_account_key": _azure_conn,
    "azure_shared_access_key": _azure_bus,
    "azure_sas_signature": _azure_sas,
    "github_classic_pat": _bare(lambda r: _crc_token("ghp_", r)),
    "github_oauth_token": _bare(lambda r: _crc_token("gho_", r)),
    "github_user_to_server_token": _bare(lambda r: _crc_token("ghu_", r)),
    "github_server_to_server_token": _bare(lambda r: _crc_token("ghs_", r)),
    "github_refresh_token": _bare(lambda r: _crc_token("ghr_", r)),
    "github_fine_grained_pat": _bare(lambda r: f"github_pat_11{_fake(r, B62, 20)}_{_r(r, B62, 59)}"),
    "gitlab_pat": _bare(lambda r: "glpat-" + _fake(r, B62 + "_-", 20)),
    "gitlab_other_token": _bare(lambda r: r.choice(["gldt-", "glrt-", "glptt-"]) + _fake(r, B62, 20)),
    "bitbucket_app_password": _bare(lambda r: "ATBB" + _fake(r, B62, 24) + _r(r, HEX.upper(), 8)),
    "bitbucket_access_token": _bare(
        lambda r: "ATCTT3xFfGN0" + _fake(r, B62 + "_-", 180) + "=" + _r(r, HEX, 8)
    ),
    "slack_bot_token": _bare(
        lambda r: f"xoxb-{r.randint(10**10, 10**11)}-{r.randint(10**12, 10**13 - 1)}-{_fake(r, B62, 24)}"
    ),
    "slack_user_token": _bare(
        lambda r: (
            f"xoxp-{r.randint(10**10, 10**11)}-{r.randint(10**10, 10**11)}-"
            f"{r.randint(10**12, 10**13 - 1)}-{_r(r, HEX, 32)}"
        )
    ),
    "slack_app_token": _bare(
        lambda r: (
            f"xapp-1-A{_r(r, string.ascii_uppercase + string.digits, 10)}-{r.randint(10**12, 10**13 - 1)}-"
            f"{_r(r, HEX, 64)}"
        )
    ),
    "slack_other_token": _bare(lambda r: "xoxe.xoxp-1-" + _fake(r, B62, 60)),
    "slack_webhook": _bare(_slack_webhook),
    "discord_bot_token": _bare(_discord_bot),
    "discord_webhook": _bare(
        lambda r: f"https://discord.com/api/webhooks/{r.randint(10**17, 10**18)}/FAKE{_r(r, URLSAFE, 64)}"
    ),
    "twilio_api_key": _bare(lambda r: "SK" + "dead" + _r(r, HEX, 28)),
    "twilio_auth_token": _named(
        ("TWILIO_AUTH_TOKEN", "twilio_token", "twilioAuthToken"), lambda r: _r(r, HEX, 32)
    ),
    "sendgrid_api_key": _bare(lambda r: f"SG.{_fake(r, B62 + '_-', 22)}.{_r(r, B62 + '_-', 43)}"),
    "mailgun_api_key": _bare(lambda r: "key-" + "dead" + _r(r, HEX, 28)),
    "mailgun_private_key": _bare(lambda r: f"{_r(r, HEX, 32)}-{_r(r, HEX, 8)}-{_r(r, HEX, 8)}"),
    "stripe_secret_key": _bare(lambda r: "sk_" + r.choice(["live", "test"]) + "_" + _fake(r, B62, 99)),
    "stripe_restricted_key": _bare(lambda r: "rk_" + r.choice(["live", "test"]) + "_" + _fake(r, B62, 99)),
    "stripe_webhook_secret": _bare(lambda r: "whsec_" + _fake(r, B62, 32)),
    "shopify_token": _bare(lambda r: r.choice(["shpat_", "shpss_", "shpca_"]) + "dead" + _r(r, HEX, 28)),
    "atlassian_api_token": _bare(
        lambda r: "ATATT3xFfGF0" + _fake(r, B62 + "_-", 170) + "=" + _r(r, HEX.upper(), 8)
    ),
    "notion_token": _bare(
        lambda r: r.choice(
            ["secret_FAKE" + _r(r, B62, 39), f"ntn_{r.randint(10**10, 10**11 - 1)}FAKE{_r(r, B62, 31)}"]
        )
    ),
    "linear_api_key": _bare(lambda r: "lin_api_" + _fake(r, B62, 40)),
    "anthropic_api_key": _bare(lambda r: "sk-ant-api03-" + _fake(r, B62 + "_-", 93) + "AA"),
    "openai_project_key": _bare(lambda r: "sk-proj-" + _fake(r, B62 + "_-", 156)),
    "openai_legacy_key": _bare(lambda r: "sk-" + _fake(r, B62, 20) + "T3BlbkFJ" + _r(r, B62, 20)),
    "huggingface_token": _bare(lambda r: "hf_" + _fake(r, string.ascii_letters, 34)),
    "cohere_api_key": _named(("COHERE_API_KEY", "cohere_key", "co_api_key"), lambda r: _fake(r, B62, 40)),
    "mistral_api_key": _named(("MISTRAL_API_KEY", "mistral_key"), lambda r: _fake(r, B62, 32)),
    "groq_api_key": _bare(lambda r: "gsk_" + _fake(r, B62, 52)),
    "npm_token": _bare(lambda r: _crc_token("npm_", r)),
    "pypi_token": _bare(lambda r: "pypi-AgEIcHlwaS5vcmc" + _fake(r, URLSAFE, 120)),
    "dockerhub_token": _bare(lambda r: "dckr_pat_" + _fake(r, URLSAFE, 27)),
    "bitcoin_wif_private_key": _bare(
        lambda r: _b58check(b"\x80" + r.randbytes(32) + r.choice([b"", b"\x01"]))
    ),
    "bip32_extended_private_key": _bare(
        lambda r: _b58check(bytes.fromhex("0488ade4") + b"\0" * 9 + r.randbytes(32) + b"\0" + r.randbytes(32))
    ),
    "ethereum_private_key": _named(
        ("ETH_PRIVATE_KEY", "wallet_key", "privateKey"), lambda r: "0x" + "dead" + _r(r, HEX, 60)
    ),
    "bip39_seed_phrase": _bare(lambda r: seed_phrase(r, r.choice([12, 24]))),
    "private_key_block": _bare(
        lambda r: _pem(
            r, r.choice(["rsa", "pkcs8", "ec", "openssh", "pgp", "encrypted"]), partial=r.random() < 0.4
        )
    ),
    "jwt": _bare(_jwt),
    "claude_guard_client_key": _bare(lambda r: "cg_live_" + _fake(r, B62, 32)),
    "bearer_token": lambda r: (v := _fake(r, B62 + "-._~", 40), f"Authorization: Bearer {v}"),
    "url_password": _url_password,
    "dsn_password": _dsn_password,
    "secret_assignment": _assignment,
}


# -- PII types --------------------------------------------------------------------------------------------


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _r(rng, string.digits, length - len(prefix) - 1)
    return next(body + d for d in string.digits if luhn_valid(body + d))


CARD_PREFIXES = (
    ("4", 16),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("2500", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 16),
    ("644", 16),
    ("36", 14),
    ("3528", 16),
    ("3589", 19),
    ("62", 16),
    ("2200", 16),
    ("60", 16),
    ("508", 16),
)


def _card(rng: random.Random) -> tuple[str, str]:
    prefix, length = rng.choice(CARD_PREFIXES)
    number = _luhn_complete(prefix, length, rng)
    style = rng.choice(["groups", "dashes", "plain"])
    if style == "plain" or length not in (15, 16):
        text = number
    elif length == 15:
        text = f"{number[:4]} {number[4:10]} {number[10:]}"
    else:
        sep = " " if style == "groups" else "-"
        text = sep.join(number[i : i + 4] for i in range(0, 16, 4))
    return text, f"card {text}"


def _email(rng: random.Random) -> tuple[str, str]:
    local = rng.choice(["ada.lovelace", "b.chen", "ops-oncall", "dara+billing", "j_smith"]) + str(
        rng.randint(1, 99)
    )
    domain = rng.choice(
        ["example.com", "corp.internal", "build.local", "acme.corp", "mail.example.co.uk", "eu.example.org"]
    )
    value = f"{local}@{domain}"
    encoding = rng.choice(["plain", "plain", "fullwidth", "percent", "entity"])
    if encoding == "fullwidth":
        value = value.replace("@", "＠")
    elif encoding == "percent":
        value = value.replace("@", "%40")
    elif encoding == "entity":
        value = value.replace("@", rng.choice(["&#64;", "&#x40;", "&commat;"]))
    return value, value


def _ssn_digits(rng: random.Random) -> tuple[int, int, int]:
    area = rng.choice([n for n in range(101, 899) if n != 666])
    return area, rng.randint(10, 99), rng.randint(1000, 9999)


def _ssn(rng: random.Random) -> tuple[str, str]:
    area, group, serial = _ssn_digits(rng)
    if rng.random() < 0.5:
        value = f"{area}-{group}-{serial}"
        return value, f"SSN {value}"
    value = f"{area}{group}{serial}"
    return value, rng.choice([f"ssn: {value}", f"Social Security Number {value}", f"SSN#{value}"])


def _iban(rng: random.Random) -> tuple[str, str]:
    country, bban = rng.choice(
        [
            ("GB", "WEST" + _r(rng, string.digits, 14)),
            ("DE", _r(rng, string.digits, 18)),
            ("FR", _r(rng, string.digits, 23)),
        ]
    )
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    return value, f"IBAN {value}"


def _phone(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(100, 199)
    value = rng.choice([f"+1 415-555-0{n}", f"(212) 555-0{n}", f"+1 (646) 555 0{n}"])
    return value, f"call {value}"


def _ip(rng: random.Random) -> tuple[str, str]:
    value = rng.choice(
        [
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"203.0.113.{rng.randint(1, 254)}",
        ]
    )
    return value, f"host {value}"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _card_fullwidth(rng: random.Random) -> tuple[str, str]:
    value, _ = _card(rng)
    wide = _fullwidth(value)
    return wide, f"card {wide}"


PII_GENERATORS: dict[str, Gen] = {
    "EMAIL_ADDRESS": _email,
    "CREDIT_CARD": lambda r: _card_fullwidth(r) if r.random() < 0.2 else _card(r),
    "US_SSN": _ssn,
    "IBAN_CODE": _iban,
    "PHONE_NUMBER": _phone,
    "IP_ADDRESS": _ip,
}


# -- placements -------------------------------------------------------------------------------------------

PROSE = (
    "Hi! Our deploy started failing this morning. Here is what I have: {c} Can you tell me what is wrong?",
    "I pasted this from the wiki, {c}, and the integration still answers 401. What should I check next?",
    "Quick question about the migration plan. The old setup used {c} and I am not sure it still applies.",
)
CODE = (
    "import os\n\nimport requests\n\n\ndef fetch():\n    {c}\n    return requests.get(URL, timeout=10)\n",
    "// config loader\nconst settings = {{\n  region: 'eu-west-1',\n  {c}\n}};\nexport default settings;\n",
    "func main() {{\n\tclient := NewClient()\n\t// {c}\n\tclient.Run()\n}}\n",
)
CONFIG = (
    "[default]\nregion = eu-west-1\noutput = json\n{c}\n",
    "services:\n  api:\n    image: registry.example.com/api:1.42.0\n    environment:\n      - {c}\n",
    "# .env (do not commit)\nLOG_LEVEL=debug\nPORT=8080\n{c}\n",
)
LOG = (
    "2026-11-30T08:14:03.512Z ERROR worker-3 request failed: {c} (attempt 3/5)",
    "Nov 30 08:14:03 build-runner[2211]: step 4/9 using {c}",
    "[2026-11-30 08:14:03,512] WARNING app.client: retrying with {c}",
)


def _plain(kind: str, family: str, placement: str, template: str, v: Value) -> Sample:
    text = template.format(c=v.carrier)
    start = text.index(v.carrier) + v.carrier.index(v.value)
    return Sample(kind, family, placement, (text,), ((0, start, start + len(v.value)),), v.value)


def _json_result(kind: str, family: str, v: Value) -> Sample:
    payload = {"status": "ok", "source": "vault-export", "items": [{"name": "primary", "data": v.carrier}]}
    text = json.dumps(payload, ensure_ascii=False)
    escaped = json.dumps(v.value, ensure_ascii=False)[1:-1]
    carrier = json.dumps(v.carrier, ensure_ascii=False)[1:-1]
    start = text.index(carrier) + carrier.index(escaped)
    return Sample(kind, family, "json_tool_result", (text,), ((0, start, start + len(escaped)),), v.value)


def _split(kind: str, family: str, v: Value, rng: random.Random) -> Sample:
    text = f"Here it is: {v.carrier} - does it look right?"
    start = text.index(v.carrier) + v.carrier.index(v.value)
    cut = start + rng.randint(2, max(2, len(v.value) - 2))
    first, second = text[:cut], text[cut:]
    end = start + len(v.value)
    return Sample(
        kind, family, "split_blocks", (first, second), ((0, start, cut), (1, 0, end - cut)), v.value
    )


def _invisible(kind: str, family: str, v: Value, rng: random.Random) -> Sample:
    at = rng.randint(1, len(v.value) - 1)
    hidden = v.value[:at] + rng.choice(["\u200b", "\u200d", "\u2060", "\ufeff"]) + v.value[at:]
    carrier = v.carrier.replace(v.value, hidden)
    return _plain(kind, family, "invisible_char", PROSE[0], Value(kind, family, hidden, carrier))


def _encoded(kind: str, family: str, v: Value) -> Sample:
    encoded = base64.b64encode(v.carrier.encode()).decode()
    text = f"The CI secret is stored base64-encoded: {encoded} (decode it with base64 -d)."
    start = text.index(encoded)
    return Sample(kind, family, "base64", (text,), ((0, start, start + len(encoded)),), v.value)


def placements(v: Value, rng: random.Random) -> list[Sample]:
    out = [
        _plain(v.kind, v.family, "prose", rng.choice(PROSE), v),
        _plain(v.kind, v.family, "code", rng.choice(CODE), v),
        _plain(v.kind, v.family, "config", rng.choice(CONFIG), v),
        _plain(v.kind, v.family, "log", rng.choice(LOG), v),
        _json_result(v.kind, v.family, v),
        _split(v.kind, v.family, v, rng),
    ]
    if v.family == "credential":
        if len(v.value) > 2 and "\n" not in v.value and "\\n" not in v.value:
            out.append(_invisible(v.kind, v.family, v, rng))
        out.append(_encoded(v.kind, v.family, v))
    return out


# -- look-alikes ------------------------------------------------------------------------------------------


def _png_base64(rng: random.Random) -> str:
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(rng.randint(60, 300))
    return base64.b64encode(raw).decode()


LOOKALIKE_GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "uuid": lambda r: str(uuid.UUID(bytes=r.randbytes(16), version=4)),
    "sha256": lambda r: hashlib.sha256(r.randbytes(16)).hexdigest(),
    "sha1": lambda r: hashlib.sha1(r.randbytes(16)).hexdigest(),
    "git_sha": lambda r: f"commit {hashlib.sha1(r.randbytes(8)).hexdigest()}",
    "short_sha": lambda r: f"fixed in {_r(r, HEX, 7)}",
    "md5": lambda r: hashlib.md5(r.randbytes(8)).hexdigest(),
    "docker_digest": lambda r: f"image@sha256:{hashlib.sha256(r.randbytes(8)).hexdigest()}",
    "npm_integrity": lambda r: "sha512-" + base64.b64encode(r.randbytes(64)).decode(),
    "base64_image": lambda r: f"data:image/png;base64,{_png_base64(r)}",
    "version": lambda r: r.choice(
        [
            f"v{r.randint(0, 9)}.{r.randint(0, 40)}.{r.randint(0, 99)}",
            f"{r.randint(1, 3)}.{r.randint(0, 20)}.0-rc.{r.randint(1, 9)}",
            f"python 3.{r.randint(8, 13)}.{r.randint(0, 12)}",
            f"build 10.0.{r.randint(10000, 26000)}.{r.randint(1, 999)}",
        ]
    ),
    "order_number": lambda r: r.choice(
        [
            f"order #{r.randint(100000, 999999)}",
            f"ORD-{r.randint(2020, 2026)}-{r.randint(100000, 999999)}",
            f"invoice INV-{r.randint(10000, 99999)}",
            f"ticket JIRA-{r.randint(100, 9999)}",
        ]
    ),
    "request_id": lambda r: "req_011C" + _r(r, B62, 20),
    "message_id": lambda r: "msg_01" + _r(r, B62, 22),
    "tool_use_id": lambda r: "toolu_01" + _r(r, B62, 22),
    "stripe_publishable": lambda r: "pk_test_" + _r(r, B62, 24),
    "timestamp": lambda r: r.choice(
        [
            f"{r.randint(1_600_000_000, 1_800_000_000)}",
            f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T10:00:00Z",
        ]
    ),
    "hex_color": lambda r: f"#{_r(r, HEX, 6)}",
    "tracking": lambda r: f"1Z{_r(r, string.ascii_uppercase + string.digits, 16)}",
    "isbn": lambda r: (
        f"ISBN 978-{r.randint(0, 9)}-{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(0, 9)}"
    ),
    "env_reference": lambda r: r.choice(
        [
            "password = os.environ['DB_PASSWORD']",
            "token: ${{ secrets.GITHUB_TOKEN }}",
            "api_key = settings.API_KEY",
            "secret_key = get_secret('django')",
            "AWS_SECRET_ACCESS_KEY=$AWS_SECRET",
            'password: "<your-password>"',
            "password=changeme",
            "token_count = 4096",
            "max_tokens: 1024",
            "auth_method = oauth2_client_credentials",
        ]
    ),
    "prose_words": lambda r: r.choice(
        [
            "the bearer of this letter is welcome",
            "token based authentication is explained below",
            "rotate the secret every ninety days",
            "the password policy requires twelve characters",
            "please keep this word list about animals: cat dog horse zebra lion tiger camel eagle shark whale mouse",
        ]
    ),
    "url_without_password": lambda r: (
        f"https://{r.choice(['docs', 'api', 'status'])}.example.com:{r.choice([443, 8443])}/v{r.randint(1, 3)}/items?page={r.randint(1, 9)}"
    ),
    "ssh_public_key": lambda r: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _r(r, B64, 43) + " dev@laptop",
    "file_at": lambda r: f"icon@{r.randint(2, 3)}x.png",
    "pkg_at": lambda r: f"lodash@{r.randint(3, 4)}.{r.randint(0, 17)}.{r.randint(0, 21)}",
}


def _lookalike_placement(text: str, rng: random.Random) -> str:
    template = rng.choice([*PROSE, *LOG, *CONFIG])
    return template.format(c=text)


@dataclass(frozen=True)
class Corpus:
    samples: tuple[Sample, ...]
    lookalikes: tuple[tuple[str, str], ...]
    """(kind, text) of texts holding no secret and no PII."""


@cache
def corpus(part: str) -> Corpus:
    """The ``development`` or ``held_out`` part of the corpus (deterministic)."""
    if part not in ("development", "held_out"):
        raise ValueError(part)
    rng = random.Random(SEED)
    samples: list[Sample] = []
    for family, generators in (("credential", CREDENTIAL_GENERATORS), ("pii", PII_GENERATORS)):
        for kind, gen in generators.items():
            values = []
            for _ in range(VALUES_PER_TYPE):
                value, carrier = gen(rng)
                values.append(Value(kind, family, value, carrier))
            order = list(range(VALUES_PER_TYPE))
            random.Random(f"{HELD_OUT_SEED}:{kind}").shuffle(order)
            chosen = order[: VALUES_PER_TYPE // 2] if part == "held_out" else order[VALUES_PER_TYPE // 2 :]
            for index in sorted(chosen):
                samples.extend(placements(values[index], random.Random(f"{SEED}:{kind}:{index}")))
    look_rng = random.Random(f"{SEED}:lookalikes:{part}")
    lookalikes = []
    for kind, gen in LOOKALIKE_GENERATORS.items():
        for _ in range(12):
            lookalikes.append((kind, _lookalike_placement(gen(look_rng), look_rng)))
    return Corpus(tuple(samples), tuple(lookalikes))


# -- evaluation ------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_[0-9a-f]{10}>")


def body_of(blocks: tuple[str, ...]) -> dict[str, Any]:
    """A Messages request whose last user message holds ``blocks`` as adjacent text blocks."""
    content = [{"type": "text", "text": block} for block in blocks]
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": content}],
    }


def redacted_spans(original: str, redacted: str, mapping: dict[str, str]) -> list[tuple[str, int, int]]:
    """Where the redacted text's placeholders sit in the original: ``(entity, start, end)``."""
    spans = []
    position = 0
    last = 0
    for match in PLACEHOLDER.finditer(redacted):
        position += match.start() - last
        value = mapping[match.group(0)]
        spans.append((match.group(1), position, position + len(value)))
        position += len(value)
        last = match.end()
    assert original[position:] == redacted[last:] or not spans
    return spans


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Evaluation:
    recall: dict[str, Score]
    """Per kind: values fully covered (tp) or not (fn)."""
    false_positives: dict[str, int]
    """Per entity type: findings that touch no labeled value."""
    true_positives: int
    """Findings that touch a labeled value."""
    missed: list[Sample]

    @property
    def precision(self) -> float:
        fp = sum(self.false_positives.values())
        return self.true_positives / (self.true_positives + fp) if self.true_positives + fp else 1.0

    def family_recall(self, family: str, samples: tuple[Sample, ...]) -> float:
        kinds = {s.kind for s in samples if s.family == family}
        tp = sum(self.recall[k].tp for k in kinds)
        fn = sum(self.recall[k].fn for k in kinds)
        return tp / (tp + fn) if tp + fn else 1.0


async def evaluate(redactor: Any, part: Corpus) -> Evaluation:
    """Redact every sample and look-alike with ``redactor`` (a `claude_guard.pii.Redactor`) and score it."""
    recall: dict[str, Score] = {}
    false_positives: dict[str, int] = {}
    true_positives = 0
    missed = []
    texts: list[tuple[Sample | None, tuple[str, ...]]] = [(s, s.blocks) for s in part.samples]
    texts += [(None, (text,)) for _, text in part.lookalikes]
    for sample, blocks in texts:
        result = await redactor.redact(body_of(blocks), principal="corpus")
        content = result.body["messages"][0]["content"]
        found = [
            (i, *span)
            for i, block in enumerate(blocks)
            for span in redacted_spans(block, content[i]["text"], result.mapping)
        ]
        labels = sample.spans if sample is not None else ()
        for i, entity, start, end in found:
            if any(b == i and s < end and start < e for b, s, e in labels):
                true_positives += 1
            else:
                false_positives[entity] = false_positives.get(entity, 0) + 1
        if sample is not None:
            score = recall.setdefault(sample.kind, Score())
            covered = all(
                all(any(b == i and s <= x < e for i, _, s, e in found) for x in range(start, end))
                for b, start, end in labels
            )
            if covered:
                score.tp += 1
            else:
                score.fn += 1
                missed.append(sample)
    return Evaluation(recall, false_positives, true_positives, missed)


def crc_ok(token: str) -> bool:
    """The GitHub/npm checksum of a generated token (used by tests of the generator itself)."""
    body = token.split("_", 1)[1]
    return github_checksum(body[:-6]) == body[-6:] and binascii.crc32(body[:-6].encode()) > 0
