"""The placeholder vault over every store: principal scope, TTL, size bound, one redaction shared."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from claude_guard.pii import PIIConfig, PIIEngine, PIIVault, Redactor
from claude_guard.store import Store


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    e = PIIEngine(PIIConfig(hmac_key="vault-test", phone_regions=("US",), vault_max_entries=3))
    yield e
    e.close()


async def test_put_get_and_principal_scope(store: Store) -> None:
    vault = PIIVault(store, ttl=60, max_entries=10)
    assert await vault.put("alice", {"<EMAIL_ADDRESS_0000000001>": "alice@example.com"}) == set()
    assert await vault.get_many("alice", ["<EMAIL_ADDRESS_0000000001>", "<X_0000000000>"]) == {
        "<EMAIL_ADDRESS_0000000001>": "alice@example.com"
    }
    assert await vault.get_many("bob", ["<EMAIL_ADDRESS_0000000001>"]) == {}
    await vault.clear("alice")
    assert await vault.get_many("alice", ["<EMAIL_ADDRESS_0000000001>"]) == {}


async def test_size_bound(store: Store) -> None:
    vault = PIIVault(store, ttl=60, max_entries=2)
    entries = {f"<E_000000000{i}>": f"v{i}" for i in range(3)}
    rejected = await vault.put("alice", entries)
    assert rejected == {"<E_0000000002>"}
    # Known entries are kept and need no room.
    assert await vault.put("alice", {"<E_0000000000>": "v0"}) == set()


async def test_ttl(store: Store) -> None:
    vault = PIIVault(store, ttl=0.05, max_entries=2)
    await vault.put("alice", {"<E_0000000000>": "v0"})
    await asyncio.sleep(0.2)
    assert await vault.get_many("alice", ["<E_0000000000>"]) == {}


async def test_two_principals_never_share_placeholders_or_values(engine: PIIEngine, store: Store) -> None:
    redactor = Redactor(engine=engine, store=store)
    body = {"messages": [{"role": "user", "content": "I am ada@example.com"}]}
    alice, bob = await asyncio.gather(
        redactor.redact(body, principal="alice"), redactor.redact(body, principal="bob")
    )
    assert alice.mapping.keys().isdisjoint(bob.mapping.keys())
    (alice_placeholder,) = alice.mapping
    # Bob cannot restore Alice's placeholder, even when the model hands it to him.
    assert await redactor.restore_text(alice_placeholder, principal="bob") == alice_placeholder
    assert await redactor.restore_text(alice_placeholder, principal="alice") == "ada@example.com"
    again = await redactor.redact(body, principal="alice")
    assert again.body == alice.body  # deterministic: a resent conversation stays byte-identical


async def test_vault_full_degrades_to_irreversible_redaction(engine: PIIEngine, store: Store) -> None:
    redactor = Redactor(engine=engine, store=store)
    emails = [f"user{i}@example.com" for i in range(5)]
    body = {"messages": [{"role": "user", "content": " ".join(emails)}]}
    result = await redactor.redact(body, principal="carol")
    text = result.body["messages"][0]["content"]
    assert len(result.mapping) == 3 and text.count("<EMAIL_ADDRESS>") == 2
    assert not any(e in text for e in emails)


async def test_an_unreachable_store_fails_closed_as_pii_vault(engine: PIIEngine, key_prefix: str) -> None:
    # The vault's Redis calls go through RedisStore.run: StoreUnavailableError, and the redactor's 503.
    from _uvicorn import free_port
    from claude_guard.errors import PIIUnavailableError, StoreUnavailableError
    from claude_guard.store import StoreConfig, store_from_url

    store = store_from_url(f"redis://127.0.0.1:{free_port()}/0", config=StoreConfig(prefix=key_prefix))
    vault = PIIVault(store, ttl=60, max_entries=10)
    try:
        for step in (
            lambda: vault.put("alice", {"<EMAIL_ADDRESS_0000000001>": "alice@example.com"}),
            lambda: vault.get_many("alice", ["<EMAIL_ADDRESS_0000000001>"]),
            lambda: vault.clear("alice"),
        ):
            with pytest.raises(StoreUnavailableError):
                await step()
        redactor = Redactor(engine=engine, store=store)
        body = {"messages": [{"role": "user", "content": "I am ada@example.com"}]}
        with pytest.raises(PIIUnavailableError) as info:
            await redactor.redact(body, principal="alice")
        assert info.value.code == "pii_vault" and isinstance(info.value.__cause__, StoreUnavailableError)
    finally:
        await store.aclose()
