"""The credential table: its shape, each format's own values, checksums, the BIP-39 word list, and the log
scrubber and PII reading the same rows."""

from __future__ import annotations

import hashlib
import random
import re
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_guard import _credentials
from claude_guard._credentials import (
    CREDENTIAL_ENTITIES,
    CREDENTIALS,
    Credential,
    bip39_valid,
    bip39_words,
    find_credentials,
    github_checksum,
    shannon_entropy,
)
from claude_guard.pii._config import DEFAULT_ENTITIES, SECRET_ENTITIES
from claude_guard.secrets import scrub
from data.secrets_corpus import (
    CREDENTIAL_GENERATORS,
    LOOKALIKE_GENERATORS,
    _lookalike_placement,
    corpus,
    seed_phrase,
)

IDS = [row.id for row in CREDENTIALS]


def test_one_table_of_at_least_forty_formats() -> None:
    assert len(CREDENTIALS) >= 40
    assert len(set(IDS)) == len(IDS)
    for row in CREDENTIALS:
        assert re.fullmatch(r"[a-z0-9_]+", row.id)
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", row.entity)
        assert row.anchors and all(a == a.lower() and a for a in row.anchors), row.id
        assert 0 < row.score <= 1
        re.compile(row.pattern)
    # PII and the scrubber read the same table: its entity types are the secret entities, all on by default.
    assert SECRET_ENTITIES == CREDENTIAL_ENTITIES
    assert set(CREDENTIAL_ENTITIES) <= set(DEFAULT_ENTITIES)


def test_every_format_has_corpus_values() -> None:
    assert set(CREDENTIAL_GENERATORS) == set(IDS)
    for part in ("development", "held_out"):
        kinds = {s.kind for s in corpus(part).samples}
        assert set(IDS) <= kinds


@pytest.mark.parametrize("row_id", IDS)
def test_each_format_finds_its_own_values(row_id: str) -> None:
    rng = random.Random(f"own:{row_id}")
    for _ in range(8):
        value, carrier = CREDENTIAL_GENERATORS[row_id](rng)
        text = f"see {carrier} above"
        start = text.index(value)
        hits = [m for m in find_credentials(text) if m.start <= start and start + len(value) <= m.end]
        assert any(m.id == row_id for m in hits), (row_id, text)


@pytest.mark.parametrize("row_id", IDS)
def test_the_scrubber_masks_every_format(row_id: str) -> None:
    rng = random.Random(f"scrub:{row_id}")
    for _ in range(3):
        value, carrier = CREDENTIAL_GENERATORS[row_id](rng)
        line = f"upstream call failed with {carrier} (status 401)"
        scrubbed = scrub(line)
        assert value not in scrubbed
        assert "**********" in scrubbed and scrubbed.endswith("(status 401)")


def test_look_alikes_are_not_credentials() -> None:
    rng = random.Random(99)
    for kind, gen in LOOKALIKE_GENERATORS.items():
        for _ in range(20):
            text = _lookalike_placement(gen(rng), rng)
            assert find_credentials(text) == [], (kind, text)
            assert scrub(text) == text


def test_github_checksum_scores_a_valid_token_above_a_tampered_one() -> None:
    body = "FAKE" + "x1Y2z3" * 4 + "ab"
    token = "ghp_" + body + github_checksum(body)
    tampered = "ghp_" + body + ("A" if github_checksum(body)[0] != "A" else "B") + github_checksum(body)[1:]
    (good,) = [m for m in find_credentials(token) if m.id == "github_classic_pat"]
    (bad,) = [m for m in find_credentials(tampered) if m.id == "github_classic_pat"]
    assert good.score == 1.0 and bad.score < good.score
    assert len(github_checksum("")) == 6


def test_bip39_word_list_is_the_standard_one() -> None:
    mnemonic = pytest.importorskip("mnemonic")
    packaged = resources.files("claude_guard").joinpath("data/bip39_english.txt").read_bytes()
    # The published SHA-256 of BIP-39's english.txt, and the list the `mnemonic` package carries.
    assert hashlib.sha256(packaged).hexdigest() == (
        "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
    )
    assert list(bip39_words()) == mnemonic.Mnemonic("english").wordlist


def test_seed_phrases_need_their_checksum() -> None:
    m = pytest.importorskip("mnemonic").Mnemonic("english")
    rng = random.Random(5)
    for words in (12, 15, 18, 21, 24):
        phrase = m.to_mnemonic(rng.randbytes(words * 4 // 3))
        assert bip39_valid(phrase.split())
        text = f"my wallet words are: {phrase}. keep safe"
        (hit,) = [f for f in find_credentials(text) if f.entity == "SEED_PHRASE"]
        assert text[hit.start : hit.end] == phrase
    phrase = seed_phrase(rng).split()
    broken = [*phrase[:-1], next(w for w in bip39_words() if not bip39_valid([*phrase[:-1], w]))]
    assert not [f for f in find_credentials(" ".join(broken)) if f.entity == "SEED_PHRASE"]
    # Prose made of list words, even one whose checksum happens to pass, is not a phrase.
    assert not find_credentials("word " * 12)


def _listed_runs(rng: random.Random) -> str:
    # Seed phrases of every size, listed words at random (a window of them passes a checksum one time in
    # 2**(size/3)), unlisted words, and one word repeated, joined by the separators the row's pattern takes.
    listed = list(bip39_words())
    parts = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.3:
            parts.append(seed_phrase(rng, rng.choice([12, 15, 18, 21, 24])))
        elif kind < 0.6:
            parts.append(" ".join(rng.choice(listed) for _ in range(rng.randint(1, 30))))
        elif kind < 0.8:
            parts.append(" ".join(rng.choice(["the", "zzz", "qwerty", rng.choice(listed)]) for _ in range(9)))
        else:
            parts.append(" ".join([rng.choice(listed)] * rng.randint(1, 20)))
    return rng.choice([" ", "\n", " \\n ", "\t"]).join(parts)


def _seed_phrase_windows(run: str) -> tuple[int, int] | bool:
    """`_seed_phrase` window by window through `bip39_valid`: the plain statement of what it finds."""
    spans = [m.span() for m in _credentials._WORD.finditer(run)]
    words = [run[a:b] for a, b in spans]
    for size in (24, 21, 18, 15, 12):
        for start in range(len(words) - size + 1):
            window = words[start : start + size]
            if len(set(window)) * 4 >= size * 3 and bip39_valid(window):
                return spans[start][0], spans[start + size - 1][1]
    return False


def test_the_sliding_seed_phrase_check_finds_what_the_window_by_window_check_finds() -> None:
    # `_seed_phrase` keeps a rolling window; `_seed_phrase_windows` checks every window with `bip39_valid`.
    rng = random.Random(11)
    runs = [_listed_runs(rng) for _ in range(1500)]
    answers = [_credentials._seed_phrase(run) for run in runs]
    assert answers == [_seed_phrase_windows(run) for run in runs]
    assert 0.5 < sum(answer is not False for answer in answers) / len(runs) < 1.0  # both outcomes are read


def test_a_run_of_listed_words_costs_one_hash_per_window_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted, not timed: a 64-word run of listed words (the row's longest) has at most 5 * 53 windows of
    # 12..24 words, each hashed once; a text made only of list words is read run by run at that cost.
    hashes = 0
    real = hashlib.sha256

    def counted(data: bytes) -> hashlib._Hash:
        nonlocal hashes
        hashes += 1
        return real(data)

    monkeypatch.setattr(hashlib, "sha256", counted)  # the module `_credentials` calls it through
    rng = random.Random(3)
    listed = list(bip39_words())
    for _ in range(50):
        run = " ".join(rng.choice(listed) for _ in range(64))
        hashes = 0
        _credentials._seed_phrase(run)
        assert 0 < hashes <= sum(64 - size + 1 for size in (24, 21, 18, 15, 12))
    words = 150 * 64  # ~64 KB of list words: at most one hash per word and window size
    hashes = 0
    assert find_credentials(" ".join(rng.choice(listed) for _ in range(words)))
    assert 0 < hashes <= 5 * words


@pytest.mark.parametrize(
    "armor",
    ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK"],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\\n", " "], ids=["lf", "crlf", "json", "one-line"])
@pytest.mark.parametrize("partial", [False, True], ids=["whole", "no-end"])
def test_private_key_blocks_whole_or_cut(armor: str, newline: str, partial: bool) -> None:
    lines = [f"-----BEGIN {armor}-----", "Proc-Type: 4,ENCRYPTED", "MIIEowIBAAKCAQEAFAKE" + "Ab1+" * 11]
    lines += ["Zz9/" * 16, "q83=="]
    if not partial:
        lines.append(f"-----END {armor}-----")
    block = newline.join(lines)
    text = f"key:{newline}{block}{newline}Thanks, that was it."
    (hit,) = [m for m in find_credentials(text) if m.entity == "PRIVATE_KEY"]
    found = text[hit.start : hit.end]
    if partial and newline == " ":
        # Cut short on one line: nothing tells where it ends, so the rest of the line goes with it.
        assert found == text[text.index("-----BEGIN") :]
    else:
        assert found.rstrip() == block


def test_assignments_need_a_secret_name_and_entropy() -> None:
    def values(text: str) -> list[str]:
        return [text[m.start : m.end] for m in find_credentials(text) if m.entity == "SECRET"]

    assert values('DB_PASSWORD = "Fq8#zL2!pW9x"') == ["Fq8#zL2!pW9x"]
    assert values('{"client_secret": "FAKE9f8e7d6c5b4a3928"}') == ["FAKE9f8e7d6c5b4a3928"]
    assert values("export GITHUB_TOKEN=FAKEq1w2e3r4t5y6u7") == ["FAKEq1w2e3r4t5y6u7"]
    for benign in (
        "max_tokens = 100000",
        "password = os.environ['DB_PASSWORD']",
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "secret_key = get_secret('x')",
        "password=changeme",
        "auth_method = oauth2_client_credentials",
        "api_key = aaaaaaaaaaaa",
        "the token expired yesterday",
    ):
        assert values(benign) == [], benign
    assert shannon_entropy("") == 0.0


def test_passwords_in_urls_and_dsns() -> None:
    def values(text: str) -> list[str]:
        return [text[m.start : m.end] for m in find_credentials(text) if m.entity == "URL_PASSWORD"]

    assert values("postgresql://app:Fake-p@ss%21@db.internal:5432/app") == ["Fake-p@ss%21"]
    assert values("redis://:FakeRedisPw123@cache:6379/0") == ["FakeRedisPw123"]
    assert values("Server=tcp:x,1433;User ID=app;Password=FakeSqlPw99;Encrypt=true") == ["FakeSqlPw99"]
    assert values("https://docs.example.com:443/v1/items") == []
    assert values("postgresql://user:password@localhost/db") == []


def _anchored_by_substring(rows: tuple[Credential, ...], lowered: str) -> set[int]:
    return {i for i, row in enumerate(rows) if any(anchor in lowered for anchor in row.anchors)}


_PIECES = [*sorted({a for row in CREDENTIALS for a in row.anchors}), "x", "İ", "\n", "e", "_"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))  # anchors glued, overlapping, split
def test_one_pass_anchor_search_picks_the_rows_substring_search_picks(text: str) -> None:
    from claude_guard._credentials import _anchored_rows

    lowered = text.lower()
    assert _anchored_rows(CREDENTIALS, lowered) == _anchored_by_substring(CREDENTIALS, lowered)


def test_one_pass_anchor_search_over_the_corpus() -> None:
    from claude_guard._credentials import _anchored_rows

    texts = [
        block for part in ("development", "held_out") for s in corpus(part).samples for block in s.blocks
    ]
    texts += [text for part in ("development", "held_out") for _, text in corpus(part).lookalikes]
    for text in texts:
        lowered = text.lower()
        assert _anchored_rows(CREDENTIALS, lowered) == _anchored_by_substring(CREDENTIALS, lowered)
    # Every row is reachable: each of its anchors alone selects it.
    for index, row in enumerate(CREDENTIALS):
        for anchor in row.anchors:
            assert index in _anchored_rows(CREDENTIALS, anchor)


WHITESPACE = (" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000")


@pytest.mark.parametrize("row", [r for r in CREDENTIALS if r.min_run], ids=lambda r: r.id)
def test_min_run_is_a_necessary_condition(row: Credential) -> None:
    # No match is shorter than min_run (the parser's own width) and none holds whitespace: a real value
    # with a whitespace character put anywhere in it is never matched across that character.
    import re._parser as sre_parse  # type: ignore[import-not-found]  # the stdlib's parser, untyped

    assert sre_parse.parse(row.pattern).getwidth()[0] >= row.min_run
    values = [
        s.blocks[b][start:end]
        for part in ("development", "held_out")
        for s in corpus(part).samples
        if s.kind == row.id and s.placement == "prose"
        for b, start, end in s.spans
    ]
    assert values
    pattern = re.compile(row.pattern)
    for value in values:
        assert pattern.search(value)
        for i in range(1, len(value)):
            for space in WHITESPACE:
                broken = value[:i] + space + value[i:]
                assert all(space not in m.group() for m in pattern.finditer(broken))
