"""Storage URLs, and every protection's state on a Redis Cluster, a Sentinel set, TLS and ACL users."""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _redis_topologies import TLSRedis, redis_cli
from claude_guard.audit import AuditRecord
from claude_guard.audit._sinks import RedisAuditSink
from claude_guard.errors import ConfigurationError, StoreUnavailableError
from claude_guard.keys._keys import parse_key
from claude_guard.keys._store import KeyStore
from claude_guard.ledger import Ledger
from claude_guard.ledger._ledger import BudgetScope
from claude_guard.pii._vault import PIIVault
from claude_guard.profiles import Budgets
from claude_guard.ratelimit import RateLimiter
from claude_guard.ratelimit._engine import ConcurrencyCheck, LimitCheck
from claude_guard.settings import GuardSettings
from claude_guard.store import Store, StoreConfig, redact_url, store_from_url
from claude_guard.store._url import parse_redis_url
from conftest import REDIS_URL, TOPOLOGIES, delete_prefix, topology_url

pytestmark = [pytest.mark.redis]

# obviously fake, built at run time
PASSWORD = "FAKE-" + "pw" * 4


# -- URL forms ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis://127.0.0.1:6380/3",
            {"topology": "single", "tls": False, "nodes": (("127.0.0.1", 6380),), "db": 3},
        ),
        ("valkey://cache", {"topology": "single", "nodes": (("cache", 6379),), "db": 0}),
        ("valkeys://cache:6390/1", {"topology": "single", "tls": True, "db": 1}),
        (
            f"rediss://app:{PASSWORD}@cache:6380/0?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/c.key",
            {
                "tls": True,
                "username": "app",
                "password": PASSWORD,
                "ssl_ca_certs": "/ca.pem",
                "ssl_certfile": "/c.pem",
                "ssl_keyfile": "/c.key",
            },
        ),
        (
            "redis+cluster://a:7000,b:7001,[::1]:7002",
            {
                "topology": "cluster",
                "nodes": (("a", 7000), ("b", 7001), ("::1", 7002)),
                "wait_replicas": None,
            },
        ),
        ("valkeys+cluster://a?wait_replicas=0", {"topology": "cluster", "tls": True, "wait_replicas": 0}),
        (
            f"redis+sentinel://s1,s2:26380/main/4?sentinel_password={PASSWORD}",
            {
                "topology": "sentinel",
                "nodes": (("s1", 26379), ("s2", 26380)),
                "service": "main",
                "db": 4,
                "sentinel_password": PASSWORD,
            },
        ),
        (f"redis://:{PASSWORD}@h/0", {"username": None, "password": PASSWORD}),
    ],
    ids=["db", "valkey", "valkeys", "tls-acl", "cluster", "cluster-tls", "sentinel", "password-only"],
)
def test_url_forms(url: str, expected: dict[str, Any]) -> None:
    target = parse_redis_url(url)
    for name, value in expected.items():
        assert getattr(target, name) == value, name
    assert PASSWORD not in repr(target)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"redis://u:{PASSWORD}@a,b/0", "several hosts"),
        (f"redis+sentinel://u:{PASSWORD}@s1:26379", "names its service"),
        (f"redis+cluster://u:{PASSWORD}@a:7000/2", "only database 0"),
        (f"redis://u:{PASSWORD}@a/x", "must be a number"),
        (f"redis://u:{PASSWORD}@a:99999/0", "bad port"),
        (f"redis://u:{PASSWORD}@a/0?ssl_ca_certs=/ca.pem", "need rediss"),
        (f"rediss://u:{PASSWORD}@a/0?ssl_verify=no", "unknown option"),
        (f"redis://a/0?sentinel_password={PASSWORD}", "sentinel_. options apply"),
        (f"rediss://u:{PASSWORD}@a/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
        (f"redis+cluster://u:{PASSWORD}@a?wait_replicas=-1", "wait_replicas"),
    ],
    ids=[
        "hosts",
        "service",
        "cluster-db",
        "db",
        "port",
        "tls-option",
        "unknown",
        "sentinel-option",
        "reqs",
        "wait",
    ],
)
def test_malformed_urls_name_the_problem_never_the_password(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        parse_redis_url(url)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ConfigurationError) as configured:
        GuardSettings(storage_url=url)
    assert re.search(problem, str(configured.value))
    assert PASSWORD not in str(configured.value)


def test_unknown_schemes_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="unknown storage scheme") as info:
        store_from_url(f"memcached://u:{PASSWORD}@h:11211")
    assert PASSWORD not in str(info.value)
    with pytest.raises(ConfigurationError):
        GuardSettings(storage_url="redis+proxy://h")
    GuardSettings(storage_url="valkey+sentinel://s1/main")


@pytest.mark.parametrize(
    "url",
    [
        f"redis://u:{PASSWORD}@h:1/0",
        f"redis://{PASSWORD}@h:1/0",
        f"redis+sentinel://s:1/m?sentinel_password={PASSWORD}&wait_timeout=1",
        f"rediss+cluster://u:{PASSWORD}@a:1,b:2",
    ],
)
def test_passwords_are_redacted_in_urls_and_reprs(url: str) -> None:
    assert PASSWORD not in redact_url(url)
    assert "***" in redact_url(url)
    store = store_from_url(url)
    assert PASSWORD not in repr(store)
    assert PASSWORD not in store.describe()  # type: ignore[attr-defined]


async def test_valkey_is_an_alias_of_redis(key_prefix: str) -> None:
    store = store_from_url(REDIS_URL.replace("redis://", "valkey://"), config=StoreConfig(prefix=key_prefix))
    try:
        limiter = RateLimiter(store)
        check = LimitCheck(key=store.key("v"), amount=1, window=60, strategy="moving_window", policy="v")
        assert [(await limiter.admit([check])).allowed for _ in range(2)] == [True, False]
    finally:
        await delete_prefix(store, key_prefix)
        await store.aclose()


# -- every protection's state on every topology ----------------------------------------------------------


@pytest.fixture(params=TOPOLOGIES)
async def topology_store(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Store]:
    store = store_from_url(topology_url(request, request.param), config=StoreConfig(prefix=key_prefix))
    try:
        yield store
    finally:
        await delete_prefix(store, key_prefix)
        await store.aclose()


async def test_every_protection_keeps_its_state_on_each_topology(topology_store: Store) -> None:
    store = topology_store
    # client keys: a record and its index are written together
    keys = KeyStore(store)
    issued = await keys.create(profile="default", environment="development", name="topology")
    assert (await keys.get(issued.record.key_id)) == issued.record
    assert [r.key_id for r in await keys.list()] == [issued.record.key_id]
    # budgets: reserve, refuse past the budget, settle
    ledger = Ledger(store)
    scope = BudgetScope(name="key:topology", budgets=Budgets(usd_per_day=Decimal("1")))
    held = await ledger.reserve([scope], usd=Decimal("0.6"), input_tokens=10, output_tokens=10)
    with pytest.raises(Exception, match="spent"):
        await ledger.reserve([scope], usd=Decimal("0.6"), input_tokens=10, output_tokens=10)
    await ledger.settle(held, usd=Decimal("0.25"), input_tokens=10, output_tokens=10)
    assert (await ledger.usage("key:topology")).used["usd_day"] == Decimal("0.25")
    assert await ledger.outstanding() == 0
    # the PII vault of a principal
    vault = PIIVault(store, ttl=60, max_entries=10)
    await vault.put("key:topology", {"<EMAIL_1>": "ada@example.com"})
    assert await vault.get_many("key:topology", ["<EMAIL_1>", "<EMAIL_2>"]) == {
        "<EMAIL_1>": "ada@example.com"
    }
    # the audit stream
    sink = RedisAuditSink.from_store(store)
    now = time.time()
    await sink.write(
        [AuditRecord(time=now, request_id="req_topology", route="/v1/messages", outcome="allowed")]
    )
    assert [r.request_id for r in await sink.query(since=now - 1)] == ["req_topology"]
    # rate limits: one per key, one global, a concurrency cap, all in one admission
    limiter = RateLimiter(store)
    per_key = LimitCheck(
        key=store.key("rl", "k", tag="key:topology"),
        amount=3,
        window=60,
        strategy="moving_window",
        policy="k",
    )
    everyone = LimitCheck(
        key=store.key("rl", "g", tag="global"), amount=1, window=60, strategy="moving_window", policy="g"
    )
    cap = ConcurrencyCheck(key=store.key("cc", "k", tag="key:topology"), cap=1, policy="cap")
    first = await limiter.admit([per_key, everyone], [cap])
    assert first.allowed and first.in_use == (1,)
    second = await limiter.admit([per_key, everyone])
    assert not second.allowed and second.denied_by == "g"
    assert [s.remaining for s in second.limits] == [2, 0]
    # the denial counted nothing, also on a cluster where the two limits live on different masters
    alone = await limiter.admit([per_key])
    assert alone.allowed and alone.limits[0].remaining == 1
    assert not (await limiter.admit([per_key], [cap])).allowed  # the lease is held
    await limiter.release(first)
    assert (await limiter.admit([per_key], [cap])).allowed


async def test_cluster_keys_of_one_script_share_a_slot(redis_cluster: Any, key_prefix: str) -> None:
    store = store_from_url(redis_cluster.url, config=StoreConfig(prefix=key_prefix))
    try:
        client = store.client  # type: ignore[attr-defined]
        await client.initialize()
        ledger = Ledger(store)
        slots = {
            client.keyslot(k) for k in (ledger._index, ledger._record_key("r1"), ledger._config_key("key:a"))
        }
        assert len(slots) == 1
        keys = KeyStore(store)
        assert client.keyslot(keys._rkey("abc")) == client.keyslot(keys._rindex())
        # one principal's rate-limit keys are on one slot; another principal may be elsewhere
        assert client.keyslot(store.key("rl", "a", tag="key:x")) == client.keyslot(
            store.key("cc", "a", tag="key:x")
        )
        # a cross-slot script is refused by Redis: the tags are what makes the scripts above work
        with pytest.raises(Exception, match=r"(?i)slot"):
            await client.eval("return 1", 2, f"{key_prefix}:a", f"{key_prefix}:b")
    finally:
        await delete_prefix(store, key_prefix)
        await store.aclose()


# -- TLS and ACL -----------------------------------------------------------------------------------------


async def _admits(url: str, prefix: str) -> bool:
    store = store_from_url(url, config=StoreConfig(prefix=prefix))
    try:
        limiter = RateLimiter(store, store_timeout=5)
        check = LimitCheck(
            key=store.key("tls", tag="t"), amount=5, window=60, strategy="moving_window", policy="t"
        )
        return (await limiter.admit([check])).allowed
    finally:
        await store.aclose()


async def test_tls_with_the_test_ca_and_a_client_certificate(tls_redis: TLSRedis, key_prefix: str) -> None:
    assert await _admits(tls_redis.url(), key_prefix)
    store = store_from_url(tls_redis.url())
    try:
        assert await store.ping()
        assert abs(await store.now() - time.time()) < 60
    finally:
        await store.aclose()


async def test_tls_refuses_a_client_without_certificate_or_trusting_another_ca(
    tls_redis: TLSRedis, key_prefix: str, tmp_path: Path
) -> None:
    import trustme

    with pytest.raises(StoreUnavailableError):
        await _admits(tls_redis.url(client_cert=False), key_prefix)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(StoreUnavailableError):
        await _admits(tls_redis.url().replace(str(tls_redis.ca_file), str(other)), key_prefix)
    # and a plain-text client cannot talk to a TLS-only server
    with pytest.raises(StoreUnavailableError):
        await _admits(f"redis://127.0.0.1:{tls_redis.tls_port}/0", key_prefix)


async def test_acl_user_over_tls_reaches_its_keys_only_and_never_logs_its_password(
    tls_redis: TLSRedis, caplog: pytest.LogCaptureFixture
) -> None:
    user = f"cg-{uuid.uuid4().hex[:8]}"
    allowed = f"cgacl{uuid.uuid4().hex[:6]}"
    out = redis_cli(
        tls_redis.tls_port,
        "ACL",
        "SETUSER",
        user,
        "on",
        f">{PASSWORD}",
        f"~{allowed}:*",
        "+@all",
        "-@dangerous",
        tls=tls_redis.cli_tls(),
    )
    assert out.strip() == "OK", out
    try:
        with caplog.at_level(logging.DEBUG):
            assert await _admits(tls_redis.url(user=user, password=PASSWORD), allowed)
            # another namespace: NOPERM from Redis, so the admission fails closed
            with pytest.raises(StoreUnavailableError) as denied:
                await _admits(tls_redis.url(user=user, password=PASSWORD), "elsewhere")
            # a wrong password: refused at connection time, fails closed too
            with pytest.raises(StoreUnavailableError) as wrong:
                await _admits(tls_redis.url(user=user, password=PASSWORD + "x"), allowed)
        for error in (denied.value, wrong.value):
            assert PASSWORD not in str(error) and PASSWORD not in repr(error)
        assert PASSWORD not in caplog.text
        from redis.exceptions import AuthenticationError, NoPermissionError

        assert isinstance(denied.value.__cause__, NoPermissionError)
        assert isinstance(wrong.value.__cause__, AuthenticationError)
    finally:
        redis_cli(tls_redis.tls_port, "ACL", "DELUSER", user, tls=tls_redis.cli_tls())


@pytest.mark.parametrize("with_role", [True, False], ids=["documented-acl", "without-role"])
async def test_the_documented_acl_rule_works_on_a_cluster(redis_cluster: Any, with_role: bool) -> None:
    # docs/storage.md: "~cg:* +@all -@dangerous +role"; on a cluster writes ask their master for its
    # replicas (ROLE, in @dangerous), so without +role they fail closed.
    user = f"cg-{uuid.uuid4().hex[:8]}"
    prefix = f"cgacl{uuid.uuid4().hex[:6]}"
    rule = [
        user,
        "on",
        f">{PASSWORD}",
        f"~{prefix}:*",
        "+@all",
        "-@dangerous",
        *(["+role"] if with_role else []),
    ]
    for node in redis_cluster.nodes:
        assert redis_cli(node.port, "ACL", "SETUSER", *rule).strip() == "OK"
    url = redis_cluster.url.replace("redis+cluster://", f"redis+cluster://{user}:{PASSWORD}@")
    try:
        if with_role:
            assert await _admits(url, prefix)
        else:
            with pytest.raises(StoreUnavailableError) as info:
                await _admits(url, prefix)
            assert PASSWORD not in str(info.value.__cause__)
    finally:
        for node in redis_cluster.nodes:
            redis_cli(node.port, "ACL", "DELUSER", user)


async def test_the_reference_gateway_serves_and_revokes_on_a_cluster(
    request: pytest.FixtureRequest, key_prefix: str
) -> None:
    # The whole gateway (keys, rate limits, budgets, PII, audit) on a cluster, with a key created and then
    # revoked by the CLI from another process, as an operator would. (The Sentinel client is redis-py's
    # plain client once the master is found: the per-protection test above covers it.)
    topology = "cluster"
    import os
    import sys

    import httpx

    from claude_guard import ClaudeGuard
    from claude_guard.reference_app import create_app
    from claude_guard.secrets import EnvSecretSource
    from claude_guard.testing import FakeClaude, serve
    from claude_guard.testing._fake import CANARY_API_KEY

    url = topology_url(request, topology)
    env = {**os.environ, "CLAUDE_GUARD_STORAGE_URL": url, "CLAUDE_GUARD_STORAGE_PREFIX": key_prefix}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "claude_guard.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    created = cli("keys", "create", "--profile", "admin", "--env", "development")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    message = {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
    fake = FakeClaude(api_key=CANARY_API_KEY)
    guard = ClaudeGuard(
        settings=GuardSettings(
            api_key_source=EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": CANARY_API_KEY}),
            storage_url=url,
            storage_prefix=key_prefix,
            environment="development",
            api_url="http://127.0.0.1:1",  # replaced below once FakeClaude listens
        )
    )
    try:
        with serve(fake) as upstream:
            guard = ClaudeGuard(settings=dataclasses.replace(guard.settings, api_url=upstream.url))
            with serve(create_app(guard)) as gateway, httpx.Client(base_url=gateway.url) as client:
                served = client.post("/v1/messages", json=message, headers={"x-api-key": key})
                assert served.status_code == 200, served.text
                assert "claude-guard-cost-usd" in served.headers  # metered and settled in the ledger
                parsed = parse_key(key)
                assert parsed is not None
                assert cli("keys", "revoke", parsed[0]).returncode == 0
                refused = client.post("/v1/messages", json=message, headers={"x-api-key": key})
                assert refused.status_code == 401
    finally:
        await delete_prefix(guard.store, key_prefix)
        await guard.aclose()
