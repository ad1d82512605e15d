"""PII vault values at rest: AES-GCM ciphertext in the store, rotation by key id, a wrong key fails closed."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.errors import ConfigurationError, VaultDecryptionError
from claude_guard.keys._store import KeyStore
from claude_guard.pii import PIIConfig, PIIEngine, PIIVault, Redactor
from claude_guard.pii._vault import VaultCipher
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource, Secret
from claude_guard.store import Store, StoreConfig, store_from_url
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY
from conftest import REDIS_URL

EMAIL = "vault.canary.5521@example.org"
PLACEHOLDER = "<EMAIL_ADDRESS_0123456789>"


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _cipher(spec: str) -> VaultCipher:
    return VaultCipher.from_secret(Secret(spec))


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="vault-encryption-test"))
    yield e
    e.close()


async def _raw_values(store: Store, principal: str) -> list[str]:
    key = store.key("pii", "vault", tag=principal)
    if store.kind == "memory":
        return list((store.get(key) or {}).values())  # type: ignore[attr-defined]
    raw = await store.client.hgetall(key)  # type: ignore[attr-defined]
    return [v.decode() for v in raw.values()]


async def test_values_are_ciphertext_in_the_store(store: Store) -> None:
    vault = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k1:{_key()}"))
    await vault.put("alice", {PLACEHOLDER: EMAIL})
    stored = await _raw_values(store, "alice")
    assert len(stored) == 1
    assert EMAIL not in stored[0] and stored[0].startswith("cgv1:k1:")
    assert await vault.get_many("alice", [PLACEHOLDER]) == {PLACEHOLDER: EMAIL}


async def test_rotation_old_keys_decrypt_new_writes_use_the_current_key(store: Store) -> None:
    old, new = _key(), _key()
    before = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k1:{old}"))
    await before.put("alice", {PLACEHOLDER: EMAIL})
    after = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k2:{new},k1:{old}"))
    assert await after.get_many("alice", [PLACEHOLDER]) == {PLACEHOLDER: EMAIL}
    await after.put("alice", {"<PHONE_NUMBER_0123456789>": "+1 202 555 0143"})
    kinds = sorted(v.split(":")[1] for v in await _raw_values(store, "alice"))
    assert kinds == ["k1", "k2"]
    # Without k1 the old value no longer decrypts: it fails, it is never returned garbled.
    only_new = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k2:{new}"))
    with pytest.raises(VaultDecryptionError):
        await only_new.get_many("alice", [PLACEHOLDER])


@pytest.mark.parametrize(
    "tamper",
    ["wrong_key", "flipped_byte", "other_slot", "plaintext"],
)
async def test_a_value_that_does_not_decrypt_fails_closed(store: Store, tamper: str) -> None:
    key = _key()
    vault = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k1:{key}"))
    await vault.put("alice", {PLACEHOLDER: EMAIL})
    redis_key = store.key("pii", "vault", tag="alice")
    stored = (await _raw_values(store, "alice"))[0]
    reader = vault
    placeholder = PLACEHOLDER
    replacement: str | None = None
    if tamper == "wrong_key":
        reader = PIIVault(store, ttl=60, max_entries=10, cipher=_cipher(f"k1:{_key()}"))
    elif tamper == "flipped_byte":
        body = stored[len("cgv1:k1:") :]
        flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
        replacement = "cgv1:k1:" + flipped
    elif tamper == "other_slot":
        # The same ciphertext moved to another placeholder does not decrypt (bound by associated data).
        placeholder = "<EMAIL_ADDRESS_9999999999>"
        await _set(store, redis_key, placeholder, stored)
    else:
        replacement = EMAIL
    if replacement is not None:
        await _set(store, redis_key, PLACEHOLDER, replacement)
    with pytest.raises(VaultDecryptionError):
        await reader.get_many("alice", [placeholder])


async def _set(store: Store, key: str, field: str, value: str) -> None:
    if store.kind == "memory":
        data = dict(store.get(key) or {})  # type: ignore[attr-defined]
        data[field] = value
        store.set(key, data, ttl=60)  # type: ignore[attr-defined]
    else:
        await store.client.hset(key, field, value)  # type: ignore[attr-defined]


def test_bad_key_settings_name_the_variable_never_the_key() -> None:
    for spec in ("k1:short", "k1:" + _key() + ",k1:" + _key(), "bad id!:" + _key(), " , "):
        with pytest.raises(ConfigurationError, match="CLAUDE_GUARD_VAULT_KEY") as info:
            GuardSettings.from_env({"CLAUDE_GUARD_VAULT_KEY": spec}, require_api_key=False)
        assert spec.split(":")[-1].strip() not in info.value.message or not spec.split(":")[-1].strip()


def test_the_key_may_come_from_a_file(tmp_path: Any) -> None:
    path = tmp_path / "vault.key"
    path.write_text(f"k7:{_key()}\n")
    settings = GuardSettings.from_env({"CLAUDE_GUARD_VAULT_KEY_FILE": str(path)}, require_api_key=False)
    assert settings.vault_key is not None
    assert VaultCipher.from_secret(settings.vault_key).current == "k7"
    assert "k7" not in repr(settings)


async def test_gateway_with_a_wrong_vault_key_answers_503_and_leaks_nothing(key_prefix: str) -> None:
    """Two replicas share Redis; one has the wrong vault key. A resent conversation that needs a stored
    value gets 503 from it, and neither the upstream nor the caller sees the value."""
    fake = FakeClaude(api_key=CANARY_API_KEY)
    right, wrong = f"k1:{_key()}", f"k1:{_key()}"
    with serve(fake) as upstream:

        def guard(vault_key: str) -> ClaudeGuard:
            return ClaudeGuard(
                settings=GuardSettings(
                    api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
                    api_url=upstream.url,
                    storage_url=REDIS_URL,
                    storage_prefix=key_prefix,
                    pii="on",
                    pii_key=Secret("shared-placeholder-key"),
                    vault_key=Secret(vault_key),
                )
            )

        good, bad = guard(right), guard(wrong)
        # The servers run on loops of their own (and close their guards in their lifespans): this test's
        # loop uses its own connection.
        store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
        keys = KeyStore(store)
        with serve(create_app(good)) as one, serve(create_app(bad)) as two:
            issued = await keys.create(profile="analysis", environment="development")
            key = issued.key
            first = anthropic.AsyncAnthropic(base_url=one.url, api_key=key, max_retries=0)
            reply = await first.messages.create(
                model="claude-haiku-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": f"mail {EMAIL}"}],
            )
            assert EMAIL in reply.content[0].text  # restored for the caller
            forwarded = fake.messages_requests[-1].json["messages"][0]["content"]
            placeholder = forwarded.split()[-1]
            assert EMAIL not in forwarded and placeholder.startswith("<EMAIL_ADDRESS_")
            stored = await _raw_values(store, issued.key_id)
            assert stored and all(EMAIL not in v and v.startswith("cgv1:k1:") for v in stored)
            second = anthropic.AsyncAnthropic(base_url=two.url, api_key=key, max_retries=0)
            calls = len(fake.messages_requests)
            with pytest.raises(anthropic.APIStatusError) as info:
                await second.messages.create(
                    model="claude-haiku-4-5",
                    max_tokens=64,
                    messages=[{"role": "user", "content": f"what did I say? {placeholder}"}],
                )
            assert info.value.status_code == 503
            assert EMAIL not in str(info.value.body)
            assert len(fake.messages_requests) == calls
        client = store.client  # type: ignore[attr-defined]
        leftovers = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
        if leftovers:
            await client.delete(*leftovers)
        await store.aclose()


async def test_redactor_restores_through_an_encrypted_vault(engine: PIIEngine, store: Store) -> None:
    redactor = Redactor(engine=engine, store=store, cipher=_cipher(f"k1:{_key()}"))
    body = {"messages": [{"role": "user", "content": f"I am {EMAIL}"}]}
    first = await redactor.redact(body, principal="alice")
    placeholder = next(iter(first.mapping))
    again = await redactor.redact(
        {"messages": [{"role": "user", "content": f"repeat {placeholder}"}]}, principal="alice"
    )
    assert again.mapping == {placeholder: EMAIL}
    assert all(EMAIL not in v for v in await _raw_values(store, "alice"))
