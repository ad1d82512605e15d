"""Detection on canonical text (invisible characters, full-width forms, percent and HTML escapes, base64)
with offsets mapped back to the original; values split across adjacent blocks; the PII gaps of issue 14."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_guard.pii import NATIONAL_ID_ENTITIES, PIIConfig, PIIEngine, Redactor
from claude_guard.pii._canonical import base64_runs, canonicalize
from claude_guard.pii._patterns import card_brand, luhn_valid


def github_token() -> str:
    from claude_guard._credentials import github_checksum

    body = "FAKE" * 7 + "AB"
    return "ghp_" + body + github_checksum(body)


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="canonical", phone_regions=("US",)))
    yield e
    e.close()


def found(engine: PIIEngine, text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in engine.analyze_sync(text)]


# -- The canonical text and its offset map ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ada\u200b@exa\u2060mple.com", "ada@example.com"),
        ("ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com"),
        ("ada%40example.com", "ada@example.com"),
        ("ada&#64;example.com ada&#x40;x.io ada&commat;y.io", "ada@example.com ada@x.io ada@y.io"),
        ("4111\u00a01111\u30001111 1111", "4111 1111 1111 1111"),
        ("１２３-４５-６７８９", "123-45-6789"),
        ("100%zz &nosuchentity; é 漢字", "100%zz &nosuchentity; é 漢字"),
        ("%0a%00 stays", "%0a%00 stays"),
        ("gh%E2%80%8Bp_ and caf%C3%A9 %41%42", "ghp_ and café AB"),
    ],
)
def test_canonical_forms(text: str, canonical: str) -> None:
    c = canonicalize(text)
    assert c.text == canonical
    assert c.span(0, len(c.text)) == (0, len(text))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["a", "Z", "@", "%40", "&#64;", "＠", "ｘ", "\u200b", "\ufeff", "%", "&", ";", " ", "é"]
        ),
        max_size=40,
    )
)
def test_every_canonical_character_maps_to_its_own_original_span(pieces: list[str]) -> None:
    text = "".join(pieces)
    c = canonicalize(text)
    # Canonicalizing each original span on its own gives the canonical characters mapped to it.
    position = 0
    for index in range(len(c.text)):
        start, end = c.span(index, index + 1)
        assert start >= position or c.span(index - 1, index) == (start, end)
        assert c.text[index] in canonicalize(text[start:end]).text
        position = start


def test_base64_runs_decode_text_only() -> None:
    secret = base64.b64encode(b"AWS_SECRET_ACCESS_KEY=FAKEabcdefghijklmnopqrstuvwxyz0123456789").decode()
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256))).decode()
    hexdigest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    runs = list(base64_runs(f"a {secret} b {image} c {hexdigest}"))
    assert [r[2] for r in runs] == ["AWS_SECRET_ACCESS_KEY=FAKEabcdefghijklmnopqrstuvwxyz0123456789"]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("key AK\u200bIAFAKEFAKEFAKEFAKE please", "AK\u200bIAFAKEFAKEFAKEFAKE", "AWS_ACCESS_KEY"),
        ("mail ｂｏ＠ｅｘａｍｐｌｅ．ｃｏｍ now", "ｂｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "EMAIL_ADDRESS"),
        ("mail bo%40example.com now", "bo%40example.com", "EMAIL_ADDRESS"),
        ("mail bo&#64;example.com now", "bo&#64;example.com", "EMAIL_ADDRESS"),
        ("card ４１１１ １１１１ １１１１ １１１１ ok", "４１１１ １１１１ １１１１ １１１１", "CREDIT_CARD"),
    ],
)
def test_findings_map_back_to_the_original_characters(
    engine: PIIEngine, text: str, value: str, entity: str
) -> None:
    assert (entity, value) in found(engine, text)


def test_a_base64_encoded_secret_is_replaced_whole(engine: PIIEngine) -> None:
    encoded = base64.b64encode(f"export GITHUB_TOKEN={github_token()}".encode()).decode()
    text = f"run: echo {encoded} | base64 -d > .env"
    assert ("GITHUB_TOKEN", encoded) in found(engine, text) or ("SECRET", encoded) in found(engine, text)


# -- Values split across adjacent blocks ------------------------------------------------------------------


def blocks_body(*texts: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in texts]}]}


@pytest.mark.parametrize(
    ("parts", "entity"),
    [
        (("my token is " + github_token()[:15], github_token()[15:] + " thanks"), "GITHUB_TOKEN"),
        (("write to ada.lovelace@exa", "mple.internal today"), "EMAIL_ADDRESS"),
        (("card 2221 0000 00", "00 0009 please"), "CREDIT_CARD"),
        (
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAFAKE" + "Ab1+" * 12,
                "Zz9/" * 16 + "\nq83==\n-----END RSA PRIVATE KEY-----",
            ),
            "PRIVATE_KEY",
        ),
        (("call me on +1 415-55", "5-0132 tonight"), "PHONE_NUMBER"),
    ],
)
def test_a_value_split_across_two_blocks_is_redacted_in_both(
    engine: PIIEngine, parts: tuple[str, str], entity: str
) -> None:
    redactor = Redactor(engine=engine)
    result = asyncio.run(redactor.redact(blocks_body(*parts), principal="split"))
    first, second = (b["text"] for b in result.body["messages"][0]["content"])  # type: ignore[index]
    assert f"<{entity}_" in first and f"<{entity}_" in second
    # Both halves come back exactly, each in its own block.
    assert result.restore_text(first) == parts[0] and result.restore_text(second) == parts[1]


def test_blocks_of_different_messages_are_not_joined(engine: PIIEngine) -> None:
    redactor = Redactor(engine=engine)
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "ticket ada@exa"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "mple.internal"}]},
        ]
    }
    result = asyncio.run(redactor.redact(body, principal="split"))
    assert not result.changed


# -- PII gaps: internal domains, SSNs without separators, every IIN range, national ids ----------------


@pytest.mark.parametrize(
    "email",
    ["ops@build.local", "ada@corp.internal", "b.chen+ci@acme.corp", "x_y@mail.example.co.uk", "a@b.io"],
)
def test_emails_on_any_domain(engine: PIIEngine, email: str) -> None:
    assert ("EMAIL_ADDRESS", email) in found(engine, f"send it to {email} today")


@pytest.mark.parametrize("text", ["icon@2x.png", "lodash@4.17.21", "git@github", "@decorator.name"])
def test_things_with_an_at_sign_that_are_not_emails(engine: PIIEngine, text: str) -> None:
    assert [e for e, _ in found(engine, f"see {text} here") if e == "EMAIL_ADDRESS"] == []


@pytest.mark.parametrize("text", ["SSN 536904399", "social security number: 536 90 4399", "ss# 536.90.4399"])
def test_ssns_without_dashes_next_to_a_context_word(engine: PIIEngine, text: str) -> None:
    assert {e for e, _ in found(engine, text)} == {"US_SSN"}


def test_nine_digits_without_context_are_not_an_ssn(engine: PIIEngine) -> None:
    assert [e for e, _ in found(engine, "order 536904399 shipped") if e == "US_SSN"] == []


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("2221000000000009", "mastercard"),
        ("2720999999999996", "mastercard"),
        ("5555555555554444", "mastercard"),
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),
        ("2200000000000004", "mir"),
    ],
)
def test_cards_of_every_iin_range(engine: PIIEngine, number: str, brand: str) -> None:
    assert luhn_valid(number) and card_brand(number) == brand
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    for text in (number, grouped):
        assert ("CREDIT_CARD", text) in found(engine, f"card {text} exp 12/29")


def test_card_look_alikes(engine: PIIEngine) -> None:
    assert not luhn_valid("2221000000000000")
    for text in ("2221000000000000", "1234567812345670", "4111-1111 1111-1111"):
        assert [e for e, _ in found(engine, f"card {text}") if e == "CREDIT_CARD"] == []


def test_national_ids_are_enabled_by_a_setting() -> None:
    assert "ES_NIF" not in PIIConfig().resolved_entities()
    assert set(NATIONAL_ID_ENTITIES) <= set(PIIConfig(national_ids=True).resolved_entities())
    national = PIIEngine(PIIConfig(phone_regions=("US",), national_ids=True, executor="thread"), warm=False)
    plain = PIIEngine(PIIConfig(phone_regions=("US",)), warm=False)
    try:
        for text, entity in (
            ("NIF 12345678Z", "ES_NIF"),
            ("PAN card ABCPE1234F", "IN_PAN"),
            ("PESEL 44051401359", "PL_PESEL"),
            ("codice fiscale RSSMRA85T10A562S", "IT_FISCAL_CODE"),
            ("national insurance number AB123456C", "UK_NINO"),
        ):
            assert entity in {f.entity for f in national.analyze_sync(text)}, text
            assert entity not in {f.entity for f in plain.analyze_sync(text)}
        # Each listed entity is served by one of Presidio's recognizers.
        analyzer = national._analyzer
        assert analyzer is not None
        served = {e for r in analyzer.analyzer.registry.recognizers for e in r.supported_entities}
        assert set(NATIONAL_ID_ENTITIES) <= served
    finally:
        national.close()
        plain.close()


def test_split_values_among_many_blocks_stay_in_their_own_pair(engine: PIIEngine) -> None:
    token = github_token()
    texts = [f"note {i}: nothing here" for i in range(300)]
    texts[150] = "the token is " + token[:20]
    texts[151] = token[20:] + " and done"
    texts[200] = "mail ada@exa"
    texts[201] = "mple.internal ok"
    result = asyncio.run(Redactor(engine=engine).redact(blocks_body(*texts), principal="many"))
    out = [b["text"] for b in result.body["messages"][0]["content"]]  # type: ignore[index]
    changed = [i for i, (a, b) in enumerate(zip(texts, out, strict=True)) if a != b]
    assert changed == [150, 151, 200, 201]
    assert [result.restore_text(out[i]) for i in changed] == [texts[i] for i in changed]
