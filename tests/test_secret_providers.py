"""The behaviour every key source shares (``CachedSecretSource``), choosing the source from the environment,
``describe_source``/``probe`` for ``claude-guard check``, and the gateway's use of it: refresh with jitter,
single flight, a 401 re-read, the old key kept until the new one is accepted, start-up failing by name.

The provider used end to end is Vault against a local fake (tests/test_secret_providers_vault.py has the
fake's full API); the per-provider suites are tests/test_secret_providers_{aws,vault,cloud,files}.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.errors import ConfigurationError, SecretSourceError
from claude_guard.logscrub import RegisteringSecretSource
from claude_guard.secret_providers import (
    AWSSecretsManagerSource,
    CachedSecretSource,
    MountedSecretFileSource,
    VaultKVSource,
    describe_source,
    ensure_source_answers,
    probe,
    source_from_env,
    source_from_url,
)
from claude_guard.secrets import EnvSecretSource, FileSecretSource, Secret
from claude_guard.testing import FakeClaude, serve
from claude_guard.upstream import UpstreamClient
from secret_fakes import FakeServer, Reply, Seen, fake_server

pytestmark = pytest.mark.server

VAULT_TOKEN = "hvs.fake-vault-token-canary-0000"
KEY_ONE = "sk-ant-fake-rotation-one-0000"
KEY_TWO = "sk-ant-fake-rotation-two-0000"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedSource(CachedSecretSource):
    """The base class over a provider that answers from a list (a value, or an error), counting reads."""

    kind = "scripted"

    def __init__(self, *answers: str | None, gate: asyncio.Event | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = "scripted:test"
        self.answers = list(answers)
        self.reads = 0
        self.gate = gate

    async def _fetch(self) -> Secret:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[min(self.reads, len(self.answers)) - 1]
        if answer is None:
            raise self._fail("provider down")
        return Secret(answer)


# --- a small Vault (KV v2, one token) ---------------------------------------------------------------------


class Vault:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {"claude/upstream": {"api_key": KEY_ONE}}
        self.token = VAULT_TOKEN

    def __call__(self, request: Seen) -> Reply:
        if request.headers.get("x-vault-token") != self.token:
            return Reply(403, {"errors": ["permission denied"]})
        data = self.secrets.get(request.path.removeprefix("/v1/secret/data/"))
        if data is None:
            return Reply(404, {"errors": []})
        return Reply(200, {"data": {"data": dict(data)}})


@pytest.fixture
def vault() -> Iterator[tuple[Vault, FakeServer]]:
    fake = Vault()
    with fake_server(fake, host="127.0.0.1") as server:
        yield fake, server


def vault_source(server: FakeServer, **kwargs: Any) -> VaultKVSource:
    kwargs.setdefault("token_source", EnvSecretSource("VAULT_TOKEN", {"VAULT_TOKEN": VAULT_TOKEN}))
    return VaultKVSource("claude/upstream", url=server.url, **kwargs)


# --- cache, jitter, single flight, outage -----------------------------------------------------------------


async def test_cached_until_the_refresh_time_which_jitter_shortens() -> None:
    clock = FakeClock()
    draws = iter([0.0, 1.0, 0.5])
    source = ScriptedSource(
        KEY_ONE, KEY_TWO, KEY_ONE, ttl=100, jitter=0.2, clock=clock, rng=lambda: next(draws)
    )
    assert (await source.get()).get_secret_value() == KEY_ONE  # draw 0.0: fresh for the whole 100 s
    clock.now += 99.9
    assert (await source.get()).get_secret_value() == KEY_ONE
    clock.now += 0.1
    assert (await source.get()).get_secret_value() == KEY_TWO  # draw 1.0: fresh for 80 s only
    clock.now += 80
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert source.reads == 3
    with pytest.raises(ConfigurationError, match="jitter"):
        ScriptedSource(KEY_ONE, jitter=1.5)
    with pytest.raises(ConfigurationError, match="ttl"):
        ScriptedSource(KEY_ONE, ttl=-1)


async def test_concurrent_reads_share_one_request_and_a_cancelled_caller_cancels_nothing() -> None:
    gate = asyncio.Event()
    source = ScriptedSource(KEY_ONE, ttl=0, gate=gate)
    waiters = [asyncio.ensure_future(source.get()) for _ in range(20)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    gate.set()
    values = await asyncio.gather(*waiters[1:])
    assert {v.get_secret_value() for v in values} == {KEY_ONE}
    assert source.reads == 1


async def test_a_slow_refresh_does_not_hold_requests_but_a_first_read_does() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    gate.set()
    source = ScriptedSource(KEY_ONE, KEY_TWO, ttl=60, clock=clock, gate=gate, stale_grace=0.01)
    assert (await source.get()).get_secret_value() == KEY_ONE
    gate.clear()  # the provider hangs (an SDK retrying through an outage)
    clock.now += 60
    assert (await source.get()).get_secret_value() == KEY_ONE  # served while the read goes on
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert source.reads == 2  # one read in flight, shared
    gate.set()
    assert source._inflight is not None
    assert (await source._inflight).get_secret_value() == KEY_TWO
    assert (await source.get()).get_secret_value() == KEY_TWO
    # After a refusal there is nothing to fall back on: the request waits for the read.
    gate.clear()
    source.invalidate()
    waiting = asyncio.ensure_future(source.get())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    gate.set()
    assert (await waiting).get_secret_value() == KEY_TWO


async def test_concurrent_reads_share_one_request_to_vault(vault: tuple[Vault, FakeServer]) -> None:
    _, server = vault
    source = vault_source(server, ttl=0)
    values = await asyncio.gather(*(source.get() for _ in range(20)))
    assert {v.get_secret_value() for v in values} == {KEY_ONE}
    assert len(server.requests) == 1


async def test_outage_keeps_the_last_good_value_unless_invalidated(caplog: pytest.LogCaptureFixture) -> None:
    fake = Vault()
    clock = FakeClock()
    with fake_server(fake, host="127.0.0.1") as server:
        source = vault_source(server, ttl=60, clock=clock)
        assert (await source.get()).get_secret_value() == KEY_ONE
    clock.now += 61  # the server is gone now
    with caplog.at_level(logging.WARNING, logger="claude_guard"):
        assert (await source.get()).get_secret_value() == KEY_ONE
    assert "keeping the last value" in caplog.text
    assert KEY_ONE not in caplog.text
    source.invalidate()
    with pytest.raises(SecretSourceError, match="unreachable"):
        await source.get()


async def test_after_an_error_the_retry_waits_retry_after_error() -> None:
    clock = FakeClock()
    source = ScriptedSource(KEY_ONE, None, KEY_TWO, ttl=300, jitter=0, retry_after_error=10, clock=clock)
    await source.get()
    clock.now += 300
    assert (await source.get()).get_secret_value() == KEY_ONE  # the provider failed: the old value, for 10 s
    clock.now += 9
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert source.reads == 2
    clock.now += 1
    assert (await source.get()).get_secret_value() == KEY_TWO


# --- feedback from the upstream: reject and confirm -------------------------------------------------------


async def test_a_new_key_refused_before_it_was_ever_accepted_gives_way_to_the_old_one() -> None:
    clock = FakeClock()
    source = ScriptedSource(KEY_ONE, KEY_TWO, ttl=60, jitter=0, retry_after_error=10, clock=clock)
    one = await source.get()
    source.confirm(one)
    clock.now += 60
    two = await source.get()
    assert two.get_secret_value() == KEY_TWO
    source.reject(two)  # the upstream does not know the new key yet
    assert (await source.get()).get_secret_value() == KEY_ONE
    clock.now += 10  # read again soon: the new key may be active by now
    assert (await source.get()).get_secret_value() == KEY_TWO
    source.confirm(two)
    source.reject(two)  # the confirmed key refused later: nothing older is kept, so read the provider again
    assert (await source.get()).get_secret_value() == KEY_TWO
    assert source.reads == 4


async def test_rotation_through_the_gateway_client_old_key_kept_until_new_one_accepted(
    vault: tuple[Vault, FakeServer],
) -> None:
    fake_vault, vault_server = vault
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    clock = FakeClock()
    source = vault_source(vault_server, ttl=60, jitter=0, retry_after_error=10, clock=clock)
    with serve(claude) as claude_server:
        upstream = UpstreamClient(base_url=claude_server.url, key_source=source, key_refresh=0)
        try:
            assert await _call(upstream) == 200  # KEY_ONE, now confirmed
            # The new key is stored before the upstream accepts it.
            fake_vault.secrets["claude/upstream"] = {"api_key": KEY_TWO}
            clock.now += 60
            assert await _call(upstream) == 401  # KEY_TWO tried, refused
            assert await _call(upstream) == 200  # back to KEY_ONE
            assert claude.fake.last.headers["x-api-key"] == KEY_ONE
            # The upstream switches; the source reads the provider again after retry_after_error.
            claude.fake = FakeClaude(api_key=KEY_TWO)
            clock.now += 10
            assert await _call(upstream) == 200
            assert claude.fake.last.headers["x-api-key"] == KEY_TWO
        finally:
            await upstream.aclose()


async def test_the_sdk_egress_hook_tells_the_source_too(vault: tuple[Vault, FakeServer]) -> None:
    """An app calling Claude through the SDK with the guard's hook: the same keep-the-old-key rotation."""
    import anthropic

    fake_vault, vault_server = vault
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    clock = FakeClock()
    source = vault_source(vault_server, ttl=60, jitter=0, retry_after_error=10, clock=clock)
    with serve(claude) as claude_server:
        guard = ClaudeGuard(settings=GuardSettings(api_key_source=source, api_url=claude_server.url))
        client = anthropic.AsyncAnthropic(
            api_key="sk-ant-placeholder",
            base_url=claude_server.url,
            max_retries=0,
            middleware=[guard.anthropic_middleware()],
        )

        async def call() -> int:
            try:
                await client.messages.create(
                    model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
                )
            except anthropic.APIStatusError as exc:
                return exc.status_code
            return 200

        try:
            assert await call() == 200
            fake_vault.secrets["claude/upstream"] = {"api_key": KEY_TWO}  # stored before it is active
            clock.now += 60
            assert await call() in (401, 502)  # the new key, refused
            assert await call() == 200  # the old one again
            assert claude.fake.last.headers["authorization"] == f"Bearer {KEY_ONE}"
        finally:
            await client.close()
            await guard.aclose()


class SwitchableUpstream:
    """Serves whichever FakeClaude is current, so the test can rotate the key the upstream accepts."""

    def __init__(self, fake: FakeClaude) -> None:
        self.fake = fake

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.fake(scope, receive, send)


BODY = json.dumps(
    {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
).encode()


async def _call(upstream: UpstreamClient) -> int:
    response = await upstream.send("/v1/messages", BODY, {})
    try:
        await response.aread()
        return response.status_code
    finally:
        await response.aclose()


async def test_upstream_401_rereads_the_rotated_key_from_vault(vault: tuple[Vault, FakeServer]) -> None:
    fake_vault, vault_server = vault
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    # An hour of cache in the source and in the client: only the 401 can explain a second read.
    source = vault_source(vault_server, ttl=3600)
    with serve(claude) as claude_server:
        upstream = UpstreamClient(base_url=claude_server.url, key_source=source, key_refresh=3600)
        try:
            assert await _call(upstream) == 200
            assert claude.fake.last.headers["x-api-key"] == KEY_ONE
            # Rotation: the new key is stored in Vault and the upstream stops accepting the old one.
            fake_vault.secrets["claude/upstream"] = {"api_key": KEY_TWO}
            claude.fake = FakeClaude(api_key=KEY_TWO)
            assert await _call(upstream) == 401  # the client still holds the old key
            assert await _call(upstream) == 200  # the 401 made it read Vault again
            assert claude.fake.last.headers["x-api-key"] == KEY_TWO
        finally:
            await upstream.aclose()
    assert len(vault_server.requests) == 2


async def test_upstream_401_invalidates_a_source_without_reject(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY_ONE)
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    with serve(claude) as claude_server:
        upstream = UpstreamClient(
            base_url=claude_server.url, key_source=FileSecretSource(path), key_refresh=3600
        )
        try:
            assert await _call(upstream) == 200
            path.write_text(KEY_TWO)
            claude.fake = FakeClaude(api_key=KEY_TWO)
            assert await _call(upstream) == 401
            assert await _call(upstream) == 200
        finally:
            await upstream.aclose()


# --- start-up ---------------------------------------------------------------------------------------------


async def test_a_guard_whose_key_source_does_not_answer_does_not_start(
    vault: tuple[Vault, FakeServer],
) -> None:
    fake, server = vault
    fake.token = "hvs.some-other-token"
    guard = ClaudeGuard(settings=GuardSettings(api_key_source=vault_source(server)))
    with pytest.raises(ConfigurationError) as caught:
        async with guard.lifespan():
            pytest.fail("the guard started")
    text = str(caught.value)
    assert "vault:secret/claude/upstream" in text
    assert "403" in text
    assert VAULT_TOKEN not in text
    fake.token = VAULT_TOKEN
    guard = ClaudeGuard(settings=GuardSettings(api_key_source=vault_source(server)))
    async with guard.lifespan():
        assert guard.upstream.key_refresh == 0  # the source's own refresh interval rules
        assert isinstance(guard.upstream.key_source, VaultKVSource)


async def test_ensure_source_answers_names_plain_sources_too(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY_ONE)
    source = MountedSecretFileSource(path, variable="CLAUDE_API_KEY_FILE", watch_interval=0)
    await ensure_source_answers(source)
    path.unlink()
    source.invalidate()
    with pytest.raises(SecretSourceError):
        await source.get()  # nothing good was ever cached under this generation
    with pytest.raises(ConfigurationError, match="CLAUDE_API_KEY_FILE does not answer"):
        await ensure_source_answers(source)


# --- describe_source and probe (for claude-guard check) ---------------------------------------------------


async def test_describe_and_probe_every_kind(vault: tuple[Vault, FakeServer], tmp_path: Path) -> None:
    fake, server = vault
    env_source = EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": KEY_ONE})
    key_file = tmp_path / "key"
    key_file.write_text(KEY_ONE)
    cases = [
        (env_source, "env", "CLAUDE_API_KEY"),
        (RegisteringSecretSource(env_source), "env", "CLAUDE_API_KEY"),
        (FileSecretSource(key_file, variable="CLAUDE_API_KEY_FILE"), "file", "CLAUDE_API_KEY_FILE"),
        (MountedSecretFileSource(key_file, variable="CLAUDE_API_KEY_FILE"), "file", "CLAUDE_API_KEY_FILE"),
        (vault_source(server), "vault", "vault:secret/claude/upstream"),
    ]
    for source, kind, name in cases:
        described = describe_source(source)
        assert (described.kind, described.name, described.state) == (kind, name, "configured")
        status = await probe(source)
        assert (status.kind, status.state, status.ok, status.detail) == (kind, "ok", True, "")
        assert KEY_ONE not in repr(described) + repr(status)
    assert dict(describe_source(vault_source(server)).details)["auth"] == "token"
    # A failing provider: the status says why, by name, and a probe bypasses (and keeps) the cache.
    source = vault_source(server)
    await source.get()
    fake.token = "hvs.rotated-away"
    status = await probe(source)
    assert (status.state, status.ok) == ("failed", False)
    assert "HTTP 403" in status.detail
    assert VAULT_TOKEN not in status.detail
    assert (await source.get()).get_secret_value() == KEY_ONE


# --- choosing the source from the environment -------------------------------------------------------------


def test_source_from_env_exactly_one_of_three(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CLAUDE_API_KEY_SOURCE") as none:
        source_from_env({})
    assert "CLAUDE_API_KEY_FILE" in str(none.value)
    both = {"CLAUDE_API_KEY": KEY_ONE, "CLAUDE_API_KEY_SOURCE": "vault://x"}
    with pytest.raises(ConfigurationError, match="exactly one") as caught:
        source_from_env(both)
    assert KEY_ONE not in str(caught.value)
    assert isinstance(source_from_env({"CLAUDE_API_KEY": KEY_ONE}), EnvSecretSource)
    key_file = tmp_path / "key"
    key_file.write_text(KEY_ONE)
    # A mounted file is watched for a Kubernetes ..data swap (it used to be a FileSecretSource, read per get).
    assert isinstance(source_from_env({"CLAUDE_API_KEY_FILE": str(key_file)}), MountedSecretFileSource)
    key_file.write_text(" \n")
    with pytest.raises(ConfigurationError, match="CLAUDE_API_KEY_FILE names an empty file"):
        source_from_env({"CLAUDE_API_KEY_FILE": str(key_file)})


def test_source_from_env_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    env = {
        "CLAUDE_API_KEY_SOURCE": "aws-secretsmanager://prod/claude/upstream?region=eu-west-1&field=api_key"
    }
    source = source_from_env(env)
    assert isinstance(source, AWSSecretsManagerSource)
    assert (source.secret_id, source.region, source.field, source.ttl) == (
        "prod/claude/upstream",
        "eu-west-1",
        "api_key",
        300.0,
    )
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:claude-AbCdEf"
    source = source_from_env(
        {"CLAUDE_API_KEY_SOURCE": f"aws-secretsmanager://{arn.replace(':', '%3A')}?ttl=30"}
    )
    assert isinstance(source, AWSSecretsManagerSource)
    assert (source.secret_id, source.region, source.ttl) == (arn, "us-west-2", 30.0)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        pytest.param("ftp://p", "unknown scheme", id="scheme"),
        pytest.param("not a url", "aws-secretsmanager://", id="garbage"),
        pytest.param("aws-secretsmanager://s?region=eu-west-1&stage=x", "stage", id="aws-typo"),
        pytest.param(
            "aws-secretsmanager://s?field=a&region=eu-west-1&field=b", "repeats field", id="repeated"
        ),
        pytest.param("aws-secretsmanager://?region=eu-west-1", "secret id is empty", id="aws-empty"),
        pytest.param("azure-keyvault://v/a/b", "vault and a secret name", id="azure-nested"),
        pytest.param("azure-keyvault://only-a-vault", "vault and a secret name", id="azure-no-name"),
        pytest.param("azure-keyvault://v/n?versoin=1", "versoin", id="azure-typo"),
        pytest.param("gcp-secretmanager://secrets/s", "projects/<project>", id="gcp-shape"),
        pytest.param(
            "gcp-secretmanager://projects/p/secrets/s?transport=http", "transport", id="gcp-transport"
        ),
        pytest.param(
            "gcp-secretmanager://projects/p/secrets/s?endpoint=http://gcp.example", "https", id="gcp-http"
        ),
    ],
)
def test_source_from_url_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        source_from_url(url, {})


def test_settings_from_env_take_the_provider_source(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY_ONE)
    settings = GuardSettings.from_env({"CLAUDE_API_KEY_FILE": str(key_file)})
    assert isinstance(settings.api_key_source, MountedSecretFileSource)
    guard = ClaudeGuard(settings=settings)
    assert guard.upstream.key_source is settings.api_key_source
    assert guard.upstream.key_refresh == 0
    settings = GuardSettings.from_env({"CLAUDE_API_KEY": KEY_ONE})
    guard = ClaudeGuard(settings=settings)
    assert isinstance(guard.upstream.key_source, RegisteringSecretSource)
    assert guard.upstream.key_refresh == 300


# --- odd values ------------------------------------------------------------------------------------------


async def test_a_value_that_cannot_be_a_header_is_refused_and_never_shown(tmp_path: Path) -> None:
    injected = KEY_ONE + "\r\nx-forwarded-for: 10.0.0.1"
    source = ScriptedSource(KEY_ONE, injected, "\t" + KEY_TWO + "\x00", ttl=0)
    assert (await source.get()).get_secret_value() == KEY_ONE
    for _ in range(2):  # the last good value is kept, with the cause named in the log and the error
        assert (await source.get()).get_secret_value() == KEY_ONE
    status = await probe(source)
    assert status.state == "failed"
    assert "control character" in status.detail
    assert KEY_ONE not in status.detail
    # A key file with a second line (a comment, a second key) fails at start-up, not at the first request.
    two_lines = tmp_path / "key"
    two_lines.write_text(f"{KEY_ONE}\n# rotated 2026-12-01\n")
    with pytest.raises(ConfigurationError, match=r"CLAUDE_API_KEY_FILE .*line break") as caught:
        source_from_env({"CLAUDE_API_KEY_FILE": str(two_lines)})
    assert KEY_ONE not in str(caught.value)


async def test_a_byte_order_mark_is_not_part_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"\xef\xbb\xbf" + KEY_ONE.encode() + b"\r\n")  # saved by a Windows editor
    source = source_from_env({"CLAUDE_API_KEY_FILE": str(path)})
    assert (await source.get()).get_secret_value() == KEY_ONE
