from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.errors import AuthenticationError, PermissionDeniedError
from claude_guard.keys import _keys as keys_module
from claude_guard.keys._authenticator import KeyAuthenticator
from claude_guard.keys._keys import generate_key, parse_key
from claude_guard.keys._store import KeyStore
from claude_guard.profiles import load_profiles
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import MemoryStore, Store
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY

DAY = 86400.0
MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_800_000_000.0
        monkeypatch.setattr(keys_module, "_now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def test_key_format_carries_environment_and_id() -> None:
    for env, code in (("development", "dev"), ("staging", "stg"), ("production", "prod")):
        issued = generate_key(env)
        prefix = f"cg_{code}_{issued.key_id}_"
        assert issued.key.startswith(prefix)
        assert parse_key(issued.key) == (issued.key_id, env)
        assert len(issued.key[len(prefix) :]) == 43  # 256 bits of randomness
    assert parse_key("cg_prod_short_x") is None
    assert parse_key("sk-ant-api03-whatever") is None
    assert generate_key("production").key != generate_key("production").key


async def test_store_keeps_only_a_hash(store: Store, clock: Clock) -> None:
    keys = KeyStore(store)
    issued = await keys.create(profile="analysis", environment="production", name="ci")
    record = await keys.get(issued.key_id)
    assert record is not None
    assert record.profile == "analysis" and record.name == "ci" and record.environment == "production"
    secret_part = issued.key[len(f"cg_prod_{issued.key_id}_") :]
    assert issued.key not in repr(record) and secret_part not in str(record.to_public())
    assert "key_hash" not in record.to_public()
    assert [r.key_id for r in await keys.list()] == [issued.key_id]


@pytest.mark.parametrize(
    ("case", "error", "code"),
    [
        ("missing", AuthenticationError, None),
        ("malformed", AuthenticationError, None),
        ("unknown_id", AuthenticationError, None),
        ("wrong_secret", AuthenticationError, None),
        ("revoked", AuthenticationError, None),
        ("expired", AuthenticationError, None),
        ("past_max_age", AuthenticationError, None),
        ("rotated_past_grace", AuthenticationError, None),
        ("other_environment", PermissionDeniedError, "environment"),
        ("unknown_profile", PermissionDeniedError, "profile"),
    ],
)
async def test_refused_keys(
    store: Store, clock: Clock, case: str, error: type[Exception], code: str | None
) -> None:
    keys = KeyStore(store)
    auth = KeyAuthenticator(keys, environment="production")
    issued = await keys.create(profile="analysis", environment="production", expires_in=30 * DAY)
    presented: str | None = issued.key
    if case == "missing":
        presented = None
    elif case == "malformed":
        presented = "not-a-key"
    elif case == "unknown_id":
        presented = generate_key("production").key
    elif case == "wrong_secret":
        presented = issued.key[:-4] + ("AAAA" if not issued.key.endswith("AAAA") else "BBBB")
    elif case == "revoked":
        await keys.revoke(issued.key_id)
    elif case == "expired":
        clock.now += 31 * DAY
    elif case == "past_max_age":
        long_lived = await keys.create(profile="analysis", environment="production")
        presented = long_lived.key
        clock.now += 91 * DAY
    elif case == "rotated_past_grace":
        await keys.rotate(issued.key_id, grace=3600)
        clock.now += 3601
    elif case == "other_environment":
        presented = (await keys.create(profile="analysis", environment="staging")).key
    elif case == "unknown_profile":
        presented = (await keys.create(profile="ghost", environment="production")).key
    with pytest.raises(error) as info:
        await auth.check(presented)
    assert info.value.code == code
    if presented:
        assert presented not in info.value.message


async def test_rotation_keeps_old_key_for_grace_only(store: Store, clock: Clock) -> None:
    keys = KeyStore(store)
    auth = KeyAuthenticator(keys, environment="staging")
    old = await keys.create(profile="generation", environment="staging")
    new = await keys.rotate(old.key_id, grace=600)
    assert new.record.rotated_from == old.key_id and new.record.profile == "generation"
    assert (await auth.check(old.key)).principal.key_id == old.key_id
    assert (await auth.check(new.key)).principal.key_id == new.key_id
    clock.now += 601
    with pytest.raises(AuthenticationError):
        await auth.check(old.key)
    assert (await auth.check(new.key)).principal.profile == "generation"
    old_record = await keys.get(old.key_id)
    assert old_record is not None and old_record.rotated_to == new.key_id


async def test_profile_change_and_expiry_warning(store: Store, clock: Clock) -> None:
    keys = KeyStore(store)
    auth = KeyAuthenticator(keys, environment="development", warn_before=7 * DAY)
    issued = await keys.create(profile="analysis", environment="development", expires_in=10 * DAY)
    check = await auth.check(issued.key)
    assert check.profile.name == "analysis" and auth.expiry_warning(check) is None
    await keys.set_profile(issued.key_id, "admin")
    clock.now += 4 * DAY
    check = await auth.check(issued.key)
    assert check.profile.name == "admin"
    assert auth.expiry_warning(check) == "2027-01-25T08:00:00Z"


def test_custom_profiles_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(
        '[profiles.reviewer]\ntools = ["Read"]\nmodels = ["claude-haiku-*"]\nrate_limits = "5/minute"\n'
        'max_cost = "0.25"\nbudgets = { usd_per_day = "3" }\n'
    )
    reviewer = load_profiles(path)["reviewer"]
    assert reviewer.allows_tool("Read") and not reviewer.allows_tool("Write")
    assert reviewer.allows_model("claude-haiku-4-5") and not reviewer.allows_model("claude-opus-4-6")
    assert str(reviewer.max_cost) == "0.25" and str(reviewer.budgets.usd_per_day) == "3"
    path.write_text("[profiles.bad]\ntool = ['Read']\n")
    with pytest.raises(Exception, match="unknown setting 'tool'"):
        load_profiles(path)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_guard.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_keys_file_is_shared_with_the_cli(tmp_path: Path) -> None:
    env = {"CLAUDE_GUARD_KEYS_FILE": str(tmp_path / "keys.json"), "CLAUDE_GUARD_STORAGE_URL": "memory://"}
    created = _cli("keys", "create", "--profile", "analysis", "--env", "development", "--name", "n", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert created.stdout.count("\n") == 1 and key.startswith("cg_dev_")  # the key alone on stdout
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    assert key[20:] not in (tmp_path / "keys.json").read_text()

    server_side = KeyStore(MemoryStore(), keys_file=tmp_path / "keys.json", keys_recheck=0)
    auth = KeyAuthenticator(server_side, environment="development")
    principal = (await auth.check(key)).principal
    listed = _cli("keys", "list", env=env)
    assert principal.key_id in listed.stdout and key not in listed.stdout
    shown = _cli("keys", "show", principal.key_id, env=env)
    assert '"profile": "analysis"' in shown.stdout and key not in shown.stdout
    changed = _cli("keys", "permissions", principal.key_id, "--set-profile", "generation", env=env)
    assert changed.returncode == 0
    assert (await auth.check(key)).profile.name == "generation"
    assert _cli("keys", "revoke", principal.key_id, env=env).returncode == 0
    with pytest.raises(AuthenticationError):
        await auth.check(key)
    assert _cli("keys", "show", "nosuchkey000", env=env).returncode == 1
    bad = _cli("keys", "create", "--profile", "ghost", "--env", "development", env=env)
    assert bad.returncode == 2 and "unknown profile" in bad.stderr


async def test_a_key_revoked_in_the_keys_file_stops_working_within_the_recheck_bound(tmp_path: Path) -> None:
    # The server looks at the file's modification time at most once per keys_recheck seconds: a revocation
    # another process (the CLI) writes is seen by the first request after that bound, never later.
    now = [1000.0]
    server_side = KeyStore(
        MemoryStore(), keys_file=tmp_path / "keys.json", keys_recheck=1.0, clock=lambda: now[0]
    )
    cli_side = KeyStore(MemoryStore(), keys_file=tmp_path / "keys.json")
    issued = await cli_side.create(profile="analysis", environment="development")
    auth = KeyAuthenticator(server_side, environment="development")
    assert (await auth.check(issued.key)).principal.key_id == issued.record.key_id
    await cli_side.revoke(issued.record.key_id)
    stat = (tmp_path / "keys.json").stat()  # a distinct mtime even on a coarse-grained file system clock
    os.utime(tmp_path / "keys.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    now[0] += 0.5
    assert (await auth.check(issued.key)).principal is not None  # within the bound: not looked at yet
    now[0] += 0.5
    with pytest.raises(AuthenticationError):
        await auth.check(issued.key)
    # A write made by the server itself is seen at once, whatever the bound.
    again = await server_side.create(profile="analysis", environment="development")
    assert (await auth.check(again.key)).principal is not None
    await server_side.revoke(again.record.key_id)
    with pytest.raises(AuthenticationError):
        await auth.check(again.key)


async def test_a_revocation_within_one_tick_of_the_file_clock_is_seen(tmp_path: Path) -> None:
    # Two writes inside one tick of a coarse file-system clock leave the same mtime: the store must still
    # see the second (every write replaces the file, so its inode differs).
    path = tmp_path / "keys.json"
    server_side = KeyStore(MemoryStore(), keys_file=path, keys_recheck=0)
    cli_side = KeyStore(MemoryStore(), keys_file=path)
    issued = await cli_side.create(profile="analysis", environment="development")
    auth = KeyAuthenticator(server_side, environment="development")
    assert (await auth.check(issued.key)).principal is not None
    before = path.stat()
    await cli_side.revoke(issued.record.key_id)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same mtime as before the revocation
    with pytest.raises(AuthenticationError):
        await auth.check(issued.key)


@pytest.mark.parametrize("where", ["redis", "keys-file"])
async def test_a_store_that_cannot_be_read_refuses_the_key_with_503(
    where: str, tmp_path: Path, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An unreachable Redis (translated once, by RedisStore.run) or a keys file that does not parse: the key
    # cannot be checked, so it is refused as "store unavailable", logged with the failure's type only.
    from _uvicorn import free_port
    from claude_guard.errors import StoreUnavailableError
    from claude_guard.store import StoreConfig, store_from_url

    issued = generate_key("production")
    if where == "redis":
        store = store_from_url(f"redis://127.0.0.1:{free_port()}/0", config=StoreConfig(prefix=key_prefix))
        keys = KeyStore(store)
        cause = "ConnectionError"
    else:
        store = MemoryStore()
        (tmp_path / "keys.json").write_text('{"keys": {"' + issued.key_id + '": ')
        keys = KeyStore(store, keys_file=tmp_path / "keys.json")
        cause = "JSONDecodeError"
    try:
        with caplog.at_level("WARNING", logger="claude_guard"), pytest.raises(StoreUnavailableError) as info:
            await KeyAuthenticator(keys, environment="production").check(issued.key)
        assert info.value.status == 503
        assert f"the key store is unavailable ({cause})" in caplog.text
        if where == "redis":
            with pytest.raises(StoreUnavailableError):
                await keys.put(issued.record)
            with pytest.raises(StoreUnavailableError):
                await keys.list()
    finally:
        await store.aclose()


def test_cli_memory_storage_needs_a_keys_file() -> None:
    out = _cli("keys", "list", env={"CLAUDE_GUARD_STORAGE_URL": "memory://", "CLAUDE_GUARD_KEYS_FILE": ""})
    assert out.returncode == 2 and "CLAUDE_GUARD_KEYS_FILE" in out.stderr


@pytest.fixture
def fake_upstream() -> Iterator[tuple[FakeClaude, str]]:
    fake = FakeClaude(api_key=CANARY_API_KEY)
    with serve(fake) as server:
        yield fake, server.url


def _guard(upstream_url: str, **settings: object) -> ClaudeGuard:
    return ClaudeGuard(
        settings=GuardSettings(
            api_key_source=EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": CANARY_API_KEY}),
            api_url=upstream_url,
            **settings,  # type: ignore[arg-type]
        )
    )


async def test_gateway_refuses_bad_keys_before_the_upstream(fake_upstream: tuple[FakeClaude, str]) -> None:
    fake, url = fake_upstream
    # staging: production would also refuse this plain-HTTP loopback server (see test_transport.py)
    guard = _guard(url, environment="staging")
    good = await guard.keys.create(profile="analysis", environment="staging")
    revoked = await guard.keys.create(profile="analysis", environment="staging")
    await guard.keys.revoke(revoked.key_id)
    other_env = await (KeyStore(guard.store)).create(profile="admin", environment="production")
    app = create_app(guard)
    with serve(app) as gateway:
        ok = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=good.key, max_retries=0)
        reply = await ok.messages.create(**MESSAGE)  # type: ignore[call-overload]
        assert reply.content[0].text == "echo: hi"
        assert len(fake.messages_requests) == 1
        cases: list[tuple[str, type[Exception]]] = [
            ("cg_stg_aaaaaaaaaaaa_" + "A" * 43, anthropic.AuthenticationError),
            ("garbage", anthropic.AuthenticationError),
            (revoked.key, anthropic.AuthenticationError),
            (other_env.key, anthropic.PermissionDeniedError),
        ]
        for key, expected in cases:
            client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)
            with pytest.raises(expected) as info:
                await client.messages.create(**MESSAGE)  # type: ignore[call-overload]
            assert key not in str(info.value.body) and key not in str(dict(info.value.response.headers))
        async with httpx.AsyncClient(base_url=gateway.url) as raw:
            missing = await raw.post("/v1/messages", json=MESSAGE)
            assert missing.status_code == 401
            assert missing.json()["error"]["type"] == "authentication_error"
            assert (await raw.get("/healthz")).status_code == 200
        assert len(fake.messages_requests) == 1  # nothing refused reached the upstream
    await guard.aclose()


async def test_route_profile_dependency(fake_upstream: tuple[FakeClaude, str]) -> None:
    fake, url = fake_upstream
    guard = _guard(url)
    analysis = await guard.keys.create(profile="analysis", environment="development")
    generation = await guard.keys.create(profile="generation", environment="development")
    admin = await guard.keys.create(profile="admin", environment="development")
    app = create_app(guard)
    with serve(app) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            for key, status in ((analysis.key, 200), (admin.key, 200), (generation.key, 403)):
                r = await client.post("/analyze", json={"task": "look"}, headers={"x-api-key": key})
                assert r.status_code == status, r.text
            r = await client.post("/analyze", json={"task": "look"}, headers={"x-api-key": generation.key})
            assert r.json()["error"] == {
                "type": "permission_error",
                "message": "This route needs the analysis profile.",
                "code": "profile",
            }
    assert len(fake.messages_requests) == 2
    await guard.aclose()


async def test_expiring_key_gets_a_warning_header(fake_upstream: tuple[FakeClaude, str]) -> None:
    _, url = fake_upstream
    guard = _guard(url)
    soon = await guard.keys.create(profile="admin", environment="development", expires_in=2 * DAY)
    later = await guard.keys.create(profile="admin", environment="development", expires_in=60 * DAY)
    with serve(create_app(guard)) as gateway, httpx.Client(base_url=gateway.url) as client:
        warned = client.post("/v1/messages", json=MESSAGE, headers={"x-api-key": soon.key})
        quiet = client.post("/v1/messages", json=MESSAGE, headers={"authorization": f"Bearer {later.key}"})
    assert warned.status_code == quiet.status_code == 200
    assert warned.headers["claude-guard-key-expires"].endswith("Z")
    assert "claude-guard-key-expires" not in quiet.headers
    await guard.aclose()


async def test_cli_revocation_reaches_a_running_redis_server(
    fake_upstream: tuple[FakeClaude, str], redis_url: str, key_prefix: str
) -> None:
    _, url = fake_upstream
    env = {"CLAUDE_GUARD_STORAGE_URL": redis_url, "CLAUDE_GUARD_STORAGE_PREFIX": key_prefix}
    created = _cli("keys", "create", "--profile", "admin", "--env", "development", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    guard = _guard(url, storage_url=redis_url, storage_prefix=key_prefix)
    try:
        with serve(create_app(guard)) as gateway, httpx.Client(base_url=gateway.url) as client:
            headers = {"x-api-key": key}
            assert client.post("/v1/messages", json=MESSAGE, headers=headers).status_code == 200
            key_id = parse_key(key)
            assert key_id is not None
            assert _cli("keys", "revoke", key_id[0], env=env).returncode == 0
            refused = client.post("/v1/messages", json=MESSAGE, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["message"] == "This API key has been revoked."
    finally:
        client_ = guard.store.client  # type: ignore[attr-defined]
        stale = [k async for k in client_.scan_iter(match=f"{key_prefix}*")]
        if stale:
            await client_.delete(*stale)
        await guard.aclose()
