"""Compliance at rest: what the audit hash chain and the PII vault's encryption cost beside their plain forms.

Run: ``.venv/bin/python bench/bench_operations.py`` — prints a markdown section: building an audit record's
link (HMAC-SHA256 over its canonical JSON) beside serialising the record at all (``to_json``, which every
sink pays), and a vault put plus get of four placeholders with and without AES-GCM, on the memory store
(so the store's own cost does not hide the cipher's). Interleaved rounds, the median of each.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from claude_guard.audit import AuditRecord
from claude_guard.audit._chain import AuditChain
from claude_guard.pii import PIIVault
from claude_guard.pii._vault import VaultCipher
from claude_guard.secrets import Secret
from claude_guard.store import MemoryStore

RECORD = AuditRecord(
    time=time.time(),
    request_id="req_" + "a" * 24,
    route="/v1/messages",
    outcome="allowed",
    key_id="abcdefghijkl",
    profile="analysis",
    environment="production",
    model="claude-sonnet-4-6",
    status=200,
    input_tokens=1234,
    output_tokens=321,
    decisions=("auth:allowed", "rate_limit:allowed", "validation:pass", "budget:reserved", "budget:settled"),
    latency_ms=812.5,
    guard_ms=1.9,
)
ENTRIES = {
    "<EMAIL_ADDRESS_0123456789>": "ada.lovelace@example.org",
    "<PHONE_NUMBER_0123456789>": "+1 202 555 0143",
    "<PERSON_0123456789>": "Ada Lovelace",
    "<CREDIT_CARD_0123456789>": "4111 1111 1111 1111",
}


def per_call(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def rounds(cases: dict[str, Callable[[], Any]], n: int, repeat: int = 7) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            samples[name].append(per_call(fn, n))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    chain = AuditChain(os.urandom(32))
    audit = rounds(
        {"to_json": RECORD.to_json, "link": lambda: chain.link(RECORD.to_dict())},
        n=5000,
    )
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    plain = PIIVault(MemoryStore(), ttl=600, max_entries=1000)
    sealed = PIIVault(
        MemoryStore(), ttl=600, max_entries=1000, cipher=VaultCipher.from_secret(Secret(f"k1:{key}"))
    )
    loop = asyncio.new_event_loop()

    def cycle(vault: PIIVault) -> Callable[[], Any]:
        async def once() -> None:
            await vault.put("key_1", ENTRIES)
            await vault.get_many("key_1", list(ENTRIES))

        return lambda: loop.run_until_complete(once())

    vault = rounds({"plain": cycle(plain), "aes-gcm": cycle(sealed)}, n=2000)
    loop.close()
    print("## Compliance at rest: audit chain and vault encryption\n")
    print("| operation | plain | protected | added |")
    print("|---|---|---|---|")
    print(
        "| one audit record: serialised / serialised and linked (HMAC-SHA256) "
        f"| {audit['to_json'] * 1e6:.1f} µs | {(audit['to_json'] + audit['link']) * 1e6:.1f} µs "
        f"| {audit['link'] * 1e6:.1f} µs |"
    )
    print(
        f"| vault put + get of 4 placeholders: clear / AES-GCM | {vault['plain'] * 1e6:.1f} µs "
        f"| {vault['aes-gcm'] * 1e6:.1f} µs | {(vault['aes-gcm'] - vault['plain']) * 1e6:.1f} µs |"
    )
    print(
        "\nThe link is paid once per request, when its record is queued; the cipher once per placeholder "
        "written or restored. Compare them with the guard's own time per request in the gateway section. "
        "Measured while seven other builds shared the machine's two cores: read the ratios, not the "
        "absolute figures."
    )


if __name__ == "__main__":
    main()
